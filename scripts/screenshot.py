"""Render a screenshot of the window mid-run, offscreen, to docs/screenshot.png.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--at 0.5]

Starts the default run on the bundled samples and grabs the window once the run is `--at` of
the way through (default: half way), then stops the run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/screenshot.png")
    ap.add_argument("--at", type=float, default=0.5, help="fraction of the run to wait for")
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()

    from PySide6.QtCore import QSettings, QTimer

    from nst_gui.app import create_app
    from nst_gui.main_window import MainWindow

    app = create_app()
    tmp = tempfile.mkdtemp(prefix="nst-shot-")
    w = MainWindow(data_dir=tmp, store=QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    w.resize(1440, 920)
    w.show()
    w.params.size.setValue(args.size)
    w.params.iterations.setValue(300)
    w.inputs.add_style(str(Path(w.inputs.style_paths()[0]).with_name("great_wave.jpg")))
    w.inputs.rows[0].weight.setValue(3.0)

    def on_progress(p):
        if p.iteration >= args.at * p.total and w.controller.running:
            w.progressed.disconnect(on_progress)
            QTimer.singleShot(300, grab)  # let the latest preview paint

    def grab():
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        w.grab().save(args.out)
        print(f"wrote {args.out}")
        w.close()
        app.quit()

    w.progressed.connect(on_progress)
    w.start()
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
