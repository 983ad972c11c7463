"""How responsive the window stays during a run: the longest gap between timer ticks.

    .venv/bin/python benchmarks/gui_responsiveness.py [--size 512] [--seconds 60] [--json]

A QTimer asks for a tick every 10 ms on the GUI thread while the default run paints the bundled
samples; any time the event loop is blocked shows up as a longer gap. Also prints the time from
Start to the first preview on the canvas. Runs offscreen.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import common  # noqa: E402,F401  (puts the repository on the path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seconds", type=float, default=60.0, help="stop the run after this long")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.seconds = 64, 1.0

    from PySide6.QtCore import QSettings, QTimer

    from nst_gui.app import create_app
    from nst_gui.main_window import MainWindow

    app = create_app()
    tmp = tempfile.mkdtemp(prefix="nst-resp-")
    w = MainWindow(data_dir=tmp, store=QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    w.show()
    w.params.size.setValue(args.size)

    ticks: list[float] = []
    marks: dict[str, float] = {}
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def on_preview(image, iteration, item_id):
        marks.setdefault("first_preview", time.perf_counter())

    def on_progress(p):
        marks["iterations"] = p.iteration
        marks["total"] = p.total
        if time.perf_counter() - marks["start"] > args.seconds:
            w.stop()

    def on_running(running):
        if not running:
            marks["end"] = time.perf_counter()
            timer.stop()
            app.quit()

    w.controller.preview.connect(on_preview)
    w.progressed.connect(on_progress)
    w.controller.running_changed.connect(on_running)
    timer.start()
    marks["start"] = time.perf_counter()
    w.start()
    app.exec()

    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    result = {
        "size": args.size,
        "run_seconds": round(marks["end"] - marks["start"], 2),
        "iterations": marks.get("iterations"),
        "ticks": len(ticks),
        "max_gap_ms": round(1000 * max(gaps), 1),
        "p99_gap_ms": round(1000 * sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1),
        "median_gap_ms": round(1000 * statistics.median(gaps), 1),
        "first_preview_s": round(marks["first_preview"] - marks["start"], 2)
        if "first_preview" in marks else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>16}: {v}")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
