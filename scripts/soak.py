"""Soak test, outside the default suite: many window cycles and command-line runs in one
process, reporting crashes, leaks (RSS growth) and lost results.

    .venv/bin/python scripts/soak.py                       # 200 window cycles, 100 CLI runs
    .venv/bin/python scripts/soak.py --cycles 20 --runs 10 # a quick look

Window cycle: open a window, start a 64 px run, stop it after its first iteration, wait for
the picture to reach the history, close the window. CLI run: `main.py render` in this process
with random valid settings at 48 px. A result is lost when a finished or stopped run with at
least one iteration is missing from the history. RSS is sampled after every tenth cycle; the
growth reported is between the first sample (after warm-up) and the last.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(tempfile.mkdtemp(prefix="nst-soak-"))
os.environ["NST_STUDIO_DATA"] = str(DATA)


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def window_cycles(n: int) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from nst_app.history import HistoryStore
    from nst_gui.app import create_app
    from nst_gui.main_window import MainWindow

    app = create_app()
    history = HistoryStore(DATA / "history")
    crashes, lost, samples, kept = 0, 0, [], 0
    for i in range(n):
        before = len(history.entries())
        w = MainWindow(data_dir=DATA, store=QSettings(str(DATA / "s.ini"),
                                                      QSettings.Format.IniFormat))
        w.show()
        w.params.size.setValue(64)  # the bundled Starry Night needs 64 px at style scale 1
        w.params.iterations.setValue(50)
        w.params.multiscale.setChecked(False)
        outcome = {}
        loop = QEventLoop()
        w.progressed.connect(lambda p: w.stop())
        w.finished.connect(lambda o: outcome.setdefault("o", o))
        w.failed.connect(lambda m, o: outcome.setdefault("failed", m))
        w.controller.running_changed.connect(lambda r: (not r) and loop.quit())
        guard = QTimer()  # owned here and stopped below: a singleShot would outlive the loop
        guard.setSingleShot(True)
        guard.timeout.connect(loop.quit)
        guard.start(60000)
        if not w.start():
            crashes += 1
        loop.exec()
        guard.stop()
        if "failed" in outcome or "o" not in outcome:
            crashes += 1
        else:
            o = outcome["o"]
            if o.iterations >= 1:
                kept += 1
                if len(history.entries()) != before + 1 or o.entry is None:
                    lost += 1
        w.close()
        w.deleteLater()
        app.processEvents()
        if i % 10 == 9:
            gc.collect()
            samples.append(round(rss_mib(), 1))
            print(f"  window cycle {i + 1}: RSS {samples[-1]} MiB", file=sys.stderr, flush=True)
    return {"cycles": n, "crashes": crashes, "results_kept": kept, "lost": lost,
            "rss_mib": samples, "rss_growth_mib": round(samples[-1] - samples[0], 1)
            if len(samples) > 1 else 0.0}


def cli_runs(n: int, seed: int) -> dict:
    from nst_app import cli
    from nst_app.history import HistoryStore
    from nst_app.samples import sample_contents, sample_styles

    rng = random.Random(seed)
    history = HistoryStore(DATA / "history")
    out = DATA / "cli"
    out.mkdir(exist_ok=True)
    crashes, lost, samples = 0, 0, []
    contents, styles = sample_contents(), sample_styles()
    for i in range(n):
        args = ["--content", str(rng.choice(contents)), "--style", str(rng.choice(styles)),
                "--size", "48", "--iters", str(rng.randint(1, 6)), "--no-multiscale",
                "--style-scale", str(rng.choice([1.5, 2.0])),  # wide paintings stay >= 32 px
                "--optimizer", rng.choice(["lbfgs", "adam"]),
                "--color", rng.choice(["none", "luminance", "histogram"]),
                "--pooling", rng.choice(["max", "avg"]),
                "--init", rng.choice(["content", "noise", "style"]),
                "--style-weight", str(rng.choice([10, 100, 1000])),
                "--seed", str(rng.randint(0, 10**6)), "-o", str(out / f"run{i}.png"), "-q"]
        if rng.random() < 0.3:
            args += ["--style", str(rng.choice(styles)), "--blend", "0.6,0.4"]
        before = len(history.entries())
        try:
            code = cli.main(args)
        except BaseException as e:  # a crash is what this script is looking for
            print(f"  CLI run {i}: {type(e).__name__}: {e}", file=sys.stderr)
            crashes += 1
            continue
        if code != 0:
            crashes += 1
        elif not (out / f"run{i}.png").is_file() or len(history.entries()) != before + 1:
            lost += 1
        if i % 10 == 9:
            gc.collect()
            samples.append(round(rss_mib(), 1))
            print(f"  CLI run {i + 1}: RSS {samples[-1]} MiB", file=sys.stderr, flush=True)
    return {"runs": n, "crashes": crashes, "lost": lost, "rss_mib": samples,
            "rss_growth_mib": round(samples[-1] - samples[0], 1) if len(samples) > 1 else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    t0 = time.perf_counter()
    report = {"window": window_cycles(args.cycles)}
    report["cli"] = cli_runs(args.runs, args.seed)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    bad = sum(report[k]["crashes"] + report[k]["lost"] for k in ("window", "cli"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
