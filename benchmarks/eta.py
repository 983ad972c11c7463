"""How good is "time left"? The estimate each run shows, against the time that was really left.

    .venv/bin/python benchmarks/eta.py                   # still, training and video
    .venv/bin/python benchmarks/eta.py --kinds still --size 512
    .venv/bin/python benchmarks/eta.py --quick           # tiny runs: a smoke test

For every progress event it records the elapsed time and the estimate; once the run has ended,
the true time left at each event is the run's length minus the elapsed time. It prints the
estimate and the truth at 10, 25, 50, 75 and 90% of the run, the worst error once a tenth of the
run is done (the target: within 30%), and the largest jump between two consecutive estimates
beyond the time that passed between them, as a share of the time left then ("smooth": small).

Runs: still = the sample pair at the Balanced preset's settings (default 256 px: the size the
"3004 s left" report came from); training = an instant style on the sample photos, 60 steps of
2 crops of 128 px; video = the sample clip's first two seconds at 128 px, optimized.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import SAMPLES  # noqa: E402


def _job(kind: str, size: int, quick: bool, folder: str):
    from nst_core import StillJob, TransferSettings
    from nst_core.kinds.train import TrainJob
    from nst_core.settings.training import TrainSettings
    from nst_core.kinds.video import VideoJob
    from nst_core.settings.video import VideoSettings

    photo, painting = SAMPLES / "content" / "tubingen.jpg", SAMPLES / "style" / "starry_night.jpg"
    if kind == "still":
        return StillJob(TransferSettings(content=str(photo), styles=(str(painting),),
                                         size=64 if quick else size,
                                         iterations=12 if quick else 300, scales=3,
                                         settle=0.25))
    if kind == "train":
        photos = tuple(str(p) for p in sorted((SAMPLES / "content").iterdir()))
        return TrainJob(TrainSettings(style=str(painting), photos=photos,
                                      output=str(Path(folder) / "eta.nst"),
                                      steps=4 if quick else 60, batch=2,
                                      crop=48 if quick else 128, style_size=64 if quick else 256,
                                      checkpoint_seconds=3600.0, preview_every=1000))
    picture = TransferSettings(styles=(str(painting),), size=64 if quick else size // 2,
                               iterations=6 if quick else 100)
    return VideoJob(VideoSettings(content=str(SAMPLES / "video" / "tubingen_pan.mp4"),
                                  output=str(Path(folder) / "eta.mp4"),
                                  end=0.3 if quick else 2.0, picture=picture,
                                  frame_iterations=3 if quick else 0))


def measure(kind: str, size: int = 256, quick: bool = False) -> dict:
    from nst_core import Progress

    with tempfile.TemporaryDirectory() as folder:
        run = _job(kind, size, quick, folder).prepare()
        points = []
        t0 = time.perf_counter()
        for ev in run.events():
            if isinstance(ev, Progress) and ev.eta is not None:
                points.append((time.perf_counter() - t0, float(ev.eta)))
        total = time.perf_counter() - t0
    rows, worst, jump = [], 0.0, 0.0
    for i, (t, est) in enumerate(points):
        truth = total - t
        if t >= 0.1 * total and truth > 1.0:
            worst = max(worst, abs(est - truth) / truth)
        if i and t >= 0.1 * total and truth > 1.0:
            t_prev, est_prev = points[i - 1]
            jump = max(jump, abs(est - (est_prev - (t - t_prev))) / truth)
    for share in (0.1, 0.25, 0.5, 0.75, 0.9):
        t, est = min(points, key=lambda p: abs(p[0] - share * total))
        rows.append((share, est, total - t))
    return {"kind": kind, "seconds": total, "events": len(points), "rows": rows,
            "worst_after_tenth": worst, "largest_jump": jump}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", choices=("still", "train", "video"),
                    default=["still", "train", "video"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="tiny runs: a smoke test")
    args = ap.parse_args(argv)
    for kind in args.kinds:
        m = measure(kind, args.size, args.quick)
        print(f"{kind}: {m['seconds']:.1f} s, {m['events']} estimates")
        for share, est, truth in m["rows"]:
            print(f"  at {share:4.0%}: estimate {est:7.1f} s, truly left {truth:7.1f} s")
        print(f"  worst error after the first tenth: {m['worst_after_tenth']:.0%}; largest jump: "
              f"{m['largest_jump']:.0%} of the time left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
