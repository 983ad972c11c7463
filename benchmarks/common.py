"""What the benchmarks share: the repository on the path, the sample pairs, the judge and its
verdict, a run traced over time, and timing and memory.

A script runs as `.venv/bin/python benchmarks/NAME.py`, which puts this folder first on the
path; its `from common import ...` then puts the repository there too, so `nst_core` imports.
The judge itself (what its measures mean) is `judge.py`.
"""
from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from judge import CONTENT_LAYER, STYLE_LAYERS, Judge, hatching, luminance, ssim  # noqa: E402,F401

SAMPLES = ROOT / "resources" / "samples"

#: The pairs a default is judged on: the bundled one and two others, each photo with a
#: painting of another character (swirls, bands, line work).
PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
         ("astronaut.png", "great_wave.jpg"))
#: The pairs the picture rule and the coarse-to-fine schedule were chosen on (their figures in
#: docs/decisions/ were measured on these).
RULE_PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("chelsea.png", "great_wave.jpg"),
              ("coffee.png", "the_scream.jpg"))


def photo(name: str) -> str:
    """A bundled photo's path."""
    return str(SAMPLES / "content" / name)


def painting(name: str) -> str:
    """A bundled painting's path."""
    return str(SAMPLES / "style" / name)


def same_picture(low: dict, ref: dict) -> bool:
    """Whether judged picture `low` is the picture `ref` is: style measures within 5%, content
    within 2% and SSIM within 0.01 of `ref`'s (a lower style distance is no fault: the measures
    are distances to the painting)."""
    return (low["gram"] <= 1.05 * ref["gram"] and low["adain"] <= 1.05 * ref["adain"]
            and low["content"] <= 1.02 * ref["content"] and low["ssim"] >= ref["ssim"] - 0.01)


def trace(settings, tuning, every: int) -> dict:
    """Paint `settings` and judge the picture as it would be saved (8-bit, at the output size;
    coarse scales upsampled) every `every` iterations and at every scale's end. Time is the
    engine's own: judging is left out. "change" is how far the picture moved since the last
    point, in 8-bit levels (what the picture rule watches); None at a scale's first point."""
    from nst_core import Preview, PreviewPolicy, Progress, StillJob

    run = StillJob(settings, tuning).prepare(PreviewPolicy(every=every))
    judge = Judge(settings.content, settings.styles[0], run.output_size)
    points, judged, scale, last = [], 0.0, 0, None
    t0 = time.perf_counter()
    for ev in run.events():
        if isinstance(ev, Progress):
            scale = ev.scale
        elif isinstance(ev, Preview):
            t = time.perf_counter()
            change = None
            if last is not None and last.shape == ev.image.shape:
                change = float(np.abs(ev.image.astype(np.int16) - last).mean())
            last = ev.image.astype(np.int16)
            q = judge(ev.image)
            points.append({"iteration": ev.iteration, "scale": scale,
                           "seconds": round(t - t0 - judged, 2), "change": change,
                           **{k: round(v, 5) for k, v in q.items()}})
            judged += time.perf_counter() - t
    seconds = time.perf_counter() - t0 - judged
    final = {k: round(v, 5) for k, v in judge(run.result.image).items()}
    return {"iterations": run.result.iterations, "seconds": round(seconds, 2),
            "reason": run.result.reason, "final": final, "points": points,
            "image": run.result.image}


def sync(device=None) -> None:
    """Wait for the GPU's queued work (`device` None: whichever GPU there is)."""
    import torch

    if torch.cuda.is_available() and (device is None or str(device).startswith("cuda")):
        torch.cuda.synchronize()


def median_time(fn, repeat: int, warmup: int = 1, device=None) -> float:
    """Median seconds of `fn()` over `repeat` calls after `warmup` calls, the GPU's queued work
    finished before each clock starts and before it stops."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB (Linux counts ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
