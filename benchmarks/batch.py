"""A batch in this process against the same batch on Ray: wall time and per-item overhead.

    .venv/bin/python benchmarks/batch.py                    # 12 items at 256 px, 60 iterations
    .venv/bin/python benchmarks/batch.py --iters 300 --json out.json

Twelve items (three bundled photos with four bundled paintings) at `--size`, rendered
 1. in this process, one after another (torch on every core), and
 2. on a local Ray instance with `--workers` workers (one core and one torch thread each),
then the same with tiny items (64 px, one iteration), whose time is almost all overhead.
For every item it takes the time from ItemStarted to ItemFinished as the driver sees it and
the engine's own time (the result's timings["total"], from the first to the last iteration);
their difference is the per-item overhead: preparing the job (loading the images, building the
network from the cache) in both, plus on Ray shipping the input files, streaming the events
and returning the picture. Ray's start-up (ray.init and the workers' first import of torch)
is reported apart. Nothing is written to the person's history.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: E402,F401  (puts the repository on the path)
os.environ.setdefault("NST_STUDIO_DATA", tempfile.mkdtemp(prefix="nst-bench-"))

PHOTOS = ("tubingen.jpg", "chelsea.png", "coffee.png")
PAINTINGS = ("starry_night.jpg", "great_wave.jpg", "the_scream.jpg", "udnie.jpg")


def items(size: int, iters: int):
    from nst_app.batch import plan_items
    from nst_app.samples import default_settings, samples_dir

    base = default_settings().replace(size=size, iterations=iters, early_stop=0.0, device="cpu")
    photos = [str(samples_dir() / "content" / p) for p in PHOTOS]
    paintings = [str(samples_dir() / "style" / p) for p in PAINTINGS]
    return plan_items(photos, paintings, tempfile.mkdtemp(prefix="nst-bench-out-"), base)


def measure(executor, size: int, iters: int) -> dict:
    from nst_app.batch import BatchQueue, run_queue
    from nst_app.executors import ItemFinished, ItemStarted
    from nst_core import NONE

    q = BatchQueue()
    q.add(items(size, iters))
    started, overhead, engine = {}, [], []
    t0 = time.perf_counter()
    for event in run_queue(q, executor, None, threading.Event(), previews=NONE):
        now = time.perf_counter()
        if isinstance(event, ItemStarted):
            started[event.item_id] = now
        elif isinstance(event, ItemFinished):
            assert not event.error, event.error
            own = float(event.result.timings["total"])
            engine.append(own)
            overhead.append(now - started[event.item_id] - own)
    wall = time.perf_counter() - t0
    assert all(it.state == "done" for it in q.items)
    return {"items": len(q.items), "wall_s": round(wall, 2),
            "engine_s_per_item": round(statistics.mean(engine), 3),
            "overhead_s_per_item": round(statistics.mean(overhead), 3),
            "overhead_s_median": round(statistics.median(overhead), 3),
            "overhead_s_max": round(max(overhead), 3)}


def quick_batch() -> int:
    """Twelve tiny items (64 px, one iteration) in this process: the per-item overhead."""
    from nst_app.executors import LocalExecutor

    r = measure(LocalExecutor(), 64, 1)
    print(f"12 tiny items in process: wall {r['wall_s']:.2f} s, overhead mean "
          f"{r['overhead_s_per_item']:.3f} s/item")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tiny-only", action="store_true",
                    help="only the tiny items: the per-item overhead, in a minute")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        # tiny items in this process only: Ray's start-up alone takes seconds
        return quick_batch()

    import ray
    import torch

    from nst_app.executors import LocalExecutor
    from nst_app.ray_executor import RayExecutor

    rows = {}
    print(f"torch threads in this process: {torch.get_num_threads()}", flush=True)
    if not args.tiny_only:
        rows["local"] = measure(LocalExecutor(), args.size, args.iters)
    rows["local_tiny"] = measure(LocalExecutor(), 64, 1)
    t = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, configure_logging=False,
             log_to_driver=False, object_store_memory=256 * 2**20)
    ray_init = time.perf_counter() - t
    ex = RayExecutor(None, workers=args.workers)
    rows["ray_tiny_cold"] = measure(ex, 64, 1)  # includes the workers' start-up
    if not args.tiny_only:
        rows["ray"] = measure(ex, args.size, args.iters)
    rows["ray_tiny"] = measure(ex, 64, 1)  # new workers again: each run starts its own
    ray.shutdown()
    rows["ray_init_s"] = round(ray_init, 2)

    print("\n12 items" + ("" if args.tiny_only else
                          f" at {args.size} px, {args.iters} iterations each") + ":")
    for key, label in (("local", "in process, one after another"),
                       ("ray", f"Ray, {args.workers} workers"),
                       ("local_tiny", "tiny items (64 px, 1 it), in process"),
                       ("ray_tiny_cold", "tiny items on Ray (first batch)"),
                       ("ray_tiny", "tiny items on Ray (second batch)")):
        if key not in rows:
            continue
        r = rows[key]
        print(f"  {label:40s} wall {r['wall_s']:7.2f} s   engine {r['engine_s_per_item']:6.3f} "
              f"s/item   overhead mean {r['overhead_s_per_item']:6.3f} median "
              f"{r['overhead_s_median']:6.3f} max {r['overhead_s_max']:.3f} s/item")
    print(f"  ray.init: {rows['ray_init_s']:.2f} s")
    if "ray" in rows:
        print(f"  Ray against in process: {rows['ray']['wall_s'] / rows['local']['wall_s']:.2f}x "
              "the wall time")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
