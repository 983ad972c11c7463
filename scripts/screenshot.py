"""Take the README's pictures of the window on a 1280x800 screen (a common laptop's), offscreen.

    .venv/bin/python scripts/screenshot.py paint   [--out docs/screenshot.png]
    .venv/bin/python scripts/screenshot.py instant [--out docs/instant.png]
    .venv/bin/python scripts/screenshot.py video   [--out docs/video.png]
    .venv/bin/python scripts/screenshot.py regions [--out docs/regions.png]

paint: the Quick preview of the bundled photo as The Starry Night blended with The Great Wave,
grabbed during its final scale with the loss plot open; instant: the photo repainted by the
shipped Starry Night style; video: a frame of the sample clip previewed with the Great Wave
style; regions: the Regions page with the sky of the bundled photo painted for The Starry
Night, brush strokes as the mouse makes them. Each opens the window with a data folder and
settings of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = {"paint": "docs/screenshot.png", "instant": "docs/instant.png",
               "video": "docs/video.png", "regions": "docs/regions.png"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=sorted(DEFAULT_OUT))
    ap.add_argument("--out", default="")
    ap.add_argument("--screen", default="1280x800", help="WIDTHxHEIGHT of the screen")
    args = ap.parse_args()
    out = Path(args.out or ROOT / DEFAULT_OUT[args.what])
    tmp = Path(tempfile.mkdtemp(prefix="nst-shot-"))
    w_px, h_px = (int(v) for v in args.screen.split("x"))
    screen = tmp / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "shot", "x": 0, "y": 0, "width": w_px,
                                               "height": h_px, "logicalDpi": 96,
                                               "logicalBaseDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"

    from PySide6.QtCore import QSettings, QTimer

    from nst_app.models import library
    from nst_app.samples import default_clip, sample_styles
    from nst_core import Progress
    from nst_gui.app import create_app
    from nst_gui.main_window import MainWindow

    app = create_app()
    w = MainWindow(data_dir=tmp / "data",
                   store=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    w.show()
    done = []

    def grab(delay: int = 300) -> None:
        def now() -> None:
            if done:
                return
            done.append(True)
            out.parent.mkdir(parents=True, exist_ok=True)
            w.grab().save(str(out))
            print(f"wrote {out}")
            for c in w.gate.controllers():
                c.stop()
            for c in w.gate.controllers():
                c.shutdown(60000)
            w.close()
            app.quit()
        QTimer.singleShot(delay, now)

    def when(ready, delay: int = 300) -> None:
        """Grab once `ready()` is true (checked every 0.2 s)."""
        grab(delay) if ready() else QTimer.singleShot(200, lambda: when(ready, delay))

    def paint() -> None:
        w.images.add_style(str(next(p for p in sample_styles() if p.stem == "great_wave")))
        w.paint.apply_preset(w.presets_bar.presets[0].name)
        w.show_page("paint")
        w.plot_action.setChecked(True)
        w.progress.set_plot_visible(True)
        w.progressed.connect(lambda p: isinstance(p, Progress) and p.scale == p.scales - 1
                             and p.iteration >= 0.6 * p.total and grab(100))
        w.start()

    def instant() -> None:
        w.show_page("instant")
        w.instant.size.setValue(512)
        w.instant.select(str(next(e.path for e in library(w.data_dir)
                                  if e.name == "starry_night")))
        when(lambda: w.current is not None and w.current.kind == "instant")

    def video() -> None:
        w.videos.load_video(str(default_clip()))
        v = w.video
        v.method.setCurrentIndex(v.method.findData("instant"))
        v.model.setCurrentIndex(next(i for i in range(v.model.count())
                                     if "great" in v.model.itemText(i)))
        v.scrub.setValue(int(v.scrub.maximum() * 0.6))
        QTimer.singleShot(800, lambda: (w.videos.preview_video_frame(v.seconds()),
                                        when(lambda: w.current is not None)))

    def regions() -> None:
        from PySide6.QtCore import QPointF

        w.show_page("regions")
        w.regions_panel.size.setValue(90)
        photo = w.canvas.image()
        for y in (0.05, 0.15, 0.25, 0.31):
            row = [QPointF(photo.width() * x / 20, photo.height() * y) for x in range(21)]
            w.regions.stroke("begin", row[0])
            for point in row[1:]:
                w.regions.stroke("move", point)
            w.regions.stroke("end", row[-1])
        grab(500)

    QTimer.singleShot(1500, {"paint": paint, "instant": instant, "video": video,
                             "regions": regions}[args.what])
    app.exec()
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
