"""Flicker, style and speed of video repainting: each method with every frame on its
own (temporal weight 0) against the temporal method, on the bundled clip.

    python benchmarks/video.py [--clip PATH] [--size 256] [--seconds 2] [--fps 8] \\
        [--iterations 100] [--methods optimize,instant] [--weights 0,500] [--long-term] \
        [--stability 0.4] [--settle 0.25] [--device cpu] [--save DIR] [--json FILE]

For every run it prints and returns, over the frames:
    warping   the warping error of Lai et al. 2018: the mean squared difference (0..1 scale)
              between each repainted frame and the previous one warped by the *input's* flow,
              over the pixels where that flow is reliable (lower: less flicker)
    gram      the judge's layer-balanced Gram distance to the painting (benchmarks/judge.py)
    content   the judge's relu4_2 distance to each input frame
    s/frame   seconds of repainting per frame (the first frame included)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, Judge  # noqa: E402

CLIP = ROOT / "resources" / "samples" / "video" / "tubingen_pan.mp4"
PAINTING = ROOT / "resources" / "samples" / "style" / "starry_night.jpg"
MODEL = ROOT / "resources" / "models" / "starry_night.nst"


def measure(inputs: list[np.ndarray], outputs: list[np.ndarray], judge) -> dict:
    from nst_core.temporal.flow import warping_error

    warps = [warping_error(outputs[i - 1], outputs[i], inputs[i - 1], inputs[i])
             for i in range(1, len(outputs))]
    scores = [judge.with_photo(x)(y) for x, y in zip(inputs, outputs)]
    return {"warping": float(np.mean(warps)),
            "gram": float(np.mean([s["gram"] for s in scores])),
            "content": float(np.mean([s["content"] for s in scores]))}


def run_one(args, method: str, weight: float, out_dir: Path, stability: float = 0.4) -> dict:
    from nst_core.media.video import read_frames
    from nst_core.kinds.video import VideoJob
    from nst_core.settings.video import VIDEO_PICTURE, VideoSettings

    picture = VIDEO_PICTURE.replace(styles=(str(args.painting),), size=args.size,
                                    iterations=args.iterations, device=args.device)
    if args.settle is not None:
        picture = picture.replace(settle=args.settle)
    lt = "_long" if args.long_term and weight else ""
    out = out_dir / (f"{method}_w{weight:g}{lt}" if method == "optimize" or not weight else
                     f"{method}_s{round(stability * 100)}")
    settings = VideoSettings(content=str(args.clip), output=str(out), method=method,
                             model=str(args.model), end=args.seconds, max_fps=args.fps,
                             temporal_weight=weight, picture=picture, overwrite=True,
                             long_term=args.long_term, stability=stability)
    run = VideoJob(settings).prepare()
    t = time.perf_counter()
    result = run.run()
    seconds = time.perf_counter() - t
    outputs = [np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(f).convert("RGB"))
               for f in sorted(Path(result.output).glob("frame_*.png"))]
    inputs = [f.rgb for f in read_frames(args.clip, 0, args.seconds, args.fps, run.size)]
    return {"method": method, "temporal_weight": weight, "stability": stability,
            "frames": len(outputs),
            "size": list(run.size), "seconds_per_frame": seconds / len(outputs),
            "iterations": result.iterations, "folder": str(out),
            **measure(inputs, outputs, args.judge)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=CLIP)
    p.add_argument("--painting", type=Path, default=PAINTING)
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--methods", default="optimize,instant")
    p.add_argument("--weights", default="0,500", help="temporal weights to compare (0: every "
                   "frame on its own; the default 500 is the app's)")
    p.add_argument("--stability", default="0.4", help="instant method: stabilities to compare "
                   "(with a temporal weight above 0; the default is the app's)")
    p.add_argument("--long-term", action="store_true")
    p.add_argument("--settle", type=float, default=None, help="the picture rule's threshold "
                   "(\"Stop when still\"; 0 off); default: the settings' default")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps", "auto"])
    p.add_argument("--save", type=Path, default=None, help="keep the frames here")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--quick", action="store_true",
                   help="two tiny frames of each method: the test suite's smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.seconds, args.fps, args.iterations = 64, 0.25, 8.0, 3

    from nst_core.media.video import even_size, probe

    info = probe(args.clip)
    size = even_size(*info.size, args.size)
    args.judge = Judge(np.zeros((size[1], size[0], 3), np.uint8), str(args.painting), size)
    out_dir = args.save or Path(tempfile.mkdtemp(prefix="nst-video-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for method in args.methods.split(","):
        runs = [(w, st) for w in (float(v) for v in args.weights.split(","))
                for st in ([0.4] if method == "optimize" or not w else
                           [float(v) for v in args.stability.split(",")])]
        for w, st in runs:
            row = run_one(args, method, w, out_dir, st)
            rows.append(row)
            extra = f" stability {st:g}" if method == "instant" and w else ""
            print(f"{method:9s} temporal {w:<6g}{extra} {row['frames']} frames {size[0]}x{size[1]}: "
                  f"warping {row['warping']:.5f}  gram {row['gram']:.4f}  content "
                  f"{row['content']:.4f}  {row['seconds_per_frame']:.2f} s/frame  "
                  f"iterations {row['iterations']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
