"""Seconds per iteration, peak memory and the compute floor, per device and size.

    .venv/bin/python benchmarks/speed.py                       # CPU, 256 and 512 px
    .venv/bin/python benchmarks/speed.py --device cuda --sizes 512 1024 2048 --json

For each size it runs the engine single-scale on the bundled sample pair and prints:
  s/it      median seconds per iteration after a warm-up
  peak      peak memory: process RSS on CPU, torch.cuda.max_memory_allocated on CUDA
  GFLOP     conv FLOPs of one iteration: a forward to the deepest layer used plus the backward
            to the image (input gradients only: the weights are frozen), counted from the
            layer shapes (2 * Cin * Cout * 9 * H * W per conv and direction)
  floor     GFLOP / this machine's conv throughput, measured here by timing each of the same
            convolutions alone (forward, warm, best of several) in the precision the run uses
            (bf16 where the engine autocasts, e.g. on CPUs with AVX-512 BF16; --autocast off
            measures float32)
  ratio     s/it / floor (the floor counts direct convolutions: with Winograd's, which the
            engine uses on CPUs in float32 (--winograd off: not), it can fall below 1)
Each size runs in its own process so that peak memory is that size's alone.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import peak_rss_mib, sync  # noqa: E402


def conv_shapes(settings, size_wh):
    """(Cin, Cout, H, W) of every conv up to the deepest layer the run uses."""
    from nst_core.networks.layers import LAYER_INDEX, LAYER_NAMES
    from nst_core.networks.vgg import vgg19_features

    deepest = max(LAYER_INDEX[n] for n in settings.content_layers + settings.style_layers)
    w, h = size_wh
    out = []
    for name, m in zip(LAYER_NAMES[: deepest + 1], vgg19_features()[: deepest + 1]):
        if name.startswith("conv"):
            out.append((m.in_channels, m.out_channels, h, w))
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
    return out


def iteration_flops(shapes) -> float:
    fwd = sum(2 * ci * co * 9 * h * w for ci, co, h, w in shapes)
    return 2 * fwd  # forward + backward to the input (same FLOPs as the forward)


def conv_throughput(shapes, device, dtype=None) -> float:
    """FLOP/s of the same convolutions run alone: the machine's attainable conv speed, in the
    precision the run uses."""
    import torch
    import torch.nn.functional as F

    dtype = dtype or torch.float32
    total_flops, total_time = 0.0, 0.0
    with torch.no_grad():
        for ci, co, h, w in shapes:
            x = torch.randn(1, ci, h, w, device=device, dtype=dtype)
            wt = torch.randn(co, ci, 3, 3, device=device, dtype=dtype)
            for _ in range(2):
                F.conv2d(x, wt, padding=1)
            best = float("inf")
            for _ in range(5):
                sync(device)
                t = time.perf_counter()
                F.conv2d(x, wt, padding=1)
                sync(device)
                best = min(best, time.perf_counter() - t)
            total_flops += 2 * ci * co * 9 * h * w
            total_time += best
    return total_flops / total_time


def measure_one(size: int, device: str, iters: int, warmup: int, autocast: str,
                winograd: bool = True, malloc: str = "keep") -> dict:
    import torch

    from nst_app.samples import default_settings
    from nst_core import NONE, Progress, StillJob, Tuning
    from nst_core.runtime.devices import autocast_dtype

    tuning = Tuning(winograd=winograd, keep_freed_memory=malloc == "keep")
    if autocast != "auto":
        for kind in ("cpu", "cuda", "mps"):
            tuning = tuning.with_precision(kind, "float32" if autocast == "off" else "bfloat16")
    s = default_settings().replace(size=size, iterations=warmup + iters, multiscale=False,
                                   device=device, early_stop=0.0)
    job = StillJob(s, tuning).prepare(NONE)
    dev = job.picture.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stamps = []
    for event in job.events():
        if not isinstance(event, Progress):
            continue
        sync(dev)
        stamps.append(time.perf_counter())
    per_iter = [b - a for a, b in zip(stamps, stamps[1:])][warmup - 1:]
    shapes = conv_shapes(s, job.output_size)
    flops = iteration_flops(shapes)
    dtype = autocast_dtype(tuning, dev.type)
    throughput = conv_throughput(shapes, dev, dtype)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_kind = "cuda_allocated"
    else:
        peak = peak_rss_mib()
        peak_kind = "rss"
    sec = statistics.median(per_iter)
    floor = flops / throughput
    return {"device": dev.type, "size": size, "width": job.output_size[0],
            "height": job.output_size[1], "s_per_it": round(sec, 4),
            "peak_mib": round(peak, 1), "peak_kind": peak_kind, "gflop": round(flops / 1e9, 2),
            "conv_gflops": round(throughput / 1e9, 1), "floor_s": round(floor, 4),
            "ratio": round(sec / floor, 3), "iterations_timed": len(per_iter),
            "threads": torch.get_num_threads(),
            "precision": "bf16" if dtype == torch.bfloat16 else "fp32"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps", "auto"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--iters", type=int, default=6, help="iterations timed per size")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--autocast", choices=["auto", "off", "bf16"], default="auto",
                    help="the network's precision (auto: the engine's choice for the device)")
    ap.add_argument("--winograd", choices=["on", "off"], default="on",
                    help="Winograd convolutions where the network runs on a CPU in float32 "
                         "(Tuning.winograd; off: the direct convolutions)")
    ap.add_argument("--malloc", choices=["keep", "default"], default="keep",
                    help="keep: freed memory kept for reuse, as the engine's CPU runs do "
                         "(nst_core.runtime.memory); default: glibc's own behaviour, as before")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.iters, args.warmup = [64], 2, 1

    if args.quick:  # in this process: no clean slate for the memory figure, but quick
        r = measure_one(args.sizes[0], args.device, args.iters, args.warmup, args.autocast,
                        args.winograd == "on", args.malloc)
        print(f"{r['device']:>4} {r['precision']} {r['width']}x{r['height']:<5} "
              f"{r['s_per_it']:.3f} s/it  ratio {r['ratio']:.2f}")
        return 0
    if args.one:
        print(json.dumps(measure_one(args.one, args.device, args.iters, args.warmup,
                                     args.autocast, args.winograd == "on", args.malloc)))
        return 0
    rows = []
    for size in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(size), "--device",
                               args.device, "--iters", str(args.iters), "--warmup",
                               str(args.warmup), "--autocast", args.autocast, "--winograd",
                               args.winograd, "--malloc", args.malloc],
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if not args.json:
            r = rows[-1]
            print(f"{r['device']:>4} {r['precision']} {r['width']}x{r['height']:<5} "
                  f"{r['s_per_it']:.3f} s/it  "
                  f"peak {r['peak_mib']:.0f} MiB ({r['peak_kind']})  {r['gflop']:.1f} GFLOP  "
                  f"conv {r['conv_gflops']:.0f} GFLOP/s  floor {r['floor_s']:.3f} s  "
                  f"ratio {r['ratio']:.2f}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
