"""Does bfloat16 give the float32 picture? The presets in both precisions, judged.

    .venv/bin/python benchmarks/precision.py                    # 3 pairs, 3 presets, 256 px
    .venv/bin/python benchmarks/precision.py --sizes 256 512 --presets quick balanced \
        --json results.jsonl --save-dir pictures
    .venv/bin/python benchmarks/precision.py --quick            # one tiny run of each, a smoke test

Each run is one preset's settings (iterations, scales, picture rule) at the given size, for a
(photo, painting) pair, in float32 and in bfloat16: native autocast where the CPU computes bf16
(or on CUDA), else "bfloat16-emulated" (float32 kernels rounding like bf16,
nst_core.networks.vgg: the same
numbers at float32's speed; autocast on an AVX2 CPU runs about 70x slower). Per run it prints
the time, the iterations, the points the optimizer rejected, the worst loss it evaluated after a
scale's first three steps against the best before it, and the judge's four measures of the
saved picture (benchmarks/judge.py). Then, per pair, preset and size, bf16 against float32:
style measures (gram, adain) within 5%, content within 2% and SSIM no lower by 0.01
is "same picture"; the last line says which (preset, size) pass for every pair, the figure
`nst_core.runtime.devices` uses for "auto".
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from common import PAIRS, ROOT, SAMPLES, Judge, same_picture  # noqa: E402

PRESETS = {"quick": "1-quick-preview.json", "balanced": "2-balanced.json",
           "high": "3-high-quality.json"}


def preset_settings(name: str, size: int, photo: str, painting: str, device: str = "cpu"):
    from nst_core import TransferSettings

    data = json.loads((ROOT / "resources" / "presets" / PRESETS[name]).read_text())
    return TransferSettings(content=str(SAMPLES / "content" / photo),
                            styles=(str(SAMPLES / "style" / painting),), device=device,
                            **{**data["settings"], "size": size})


def bf16_name(device: str) -> str:
    """The bf16 this machine can judge: native where it is fast, else emulated."""
    from nst_core.runtime.devices import fast_cpu_bf16

    return "bfloat16" if device == "cuda" or fast_cpu_bf16() else "bfloat16-emulated"


def one_run(settings, precision: str, winograd: bool = True) -> dict:
    from nst_core import StillJob, Tuning

    device = "cuda" if settings.device == "cuda" else "cpu"
    tuning = Tuning(winograd=winograd).with_precision(device, precision)
    run = StillJob(settings, tuning).prepare()
    t0 = time.perf_counter()
    result = run.run()
    seconds = time.perf_counter() - t0
    worst, per_scale = 1.0, {}
    for scale, loss, _ in run.evaluations:
        seen = per_scale.setdefault(scale, [])
        if len(seen) >= 3:
            worst = max(worst, loss / min(seen))
        seen.append(loss)
    judged = Judge(settings.content, settings.styles[0], run.output_size)(result.image)
    return {"precision": precision, "seconds": round(seconds, 2),
            "iterations": result.iterations, "reason": result.reason,
            "rejected": sum(1 for *_, r in run.evaluations if r),
            "worst_eval_over_best": round(worst, 3),
            "final_loss": round(result.final_losses.get("total", float("nan")), 5),
            **{k: round(v, 5) for k, v in judged.items()}, "image": result.image}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256])
    ap.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=list(PRESETS))
    ap.add_argument("--pairs", type=int, default=len(PAIRS))
    ap.add_argument("--photo", help="only the pair of this photo (tubingen, chelsea, astronaut)")
    ap.add_argument("--control", action="store_true",
                    help="also float32 with direct convolutions instead of Winograd (the same "
                         "maths to 1e-5 a convolution): how far float32 lands from itself")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--json", help="append one JSON line per run to this file")
    ap.add_argument("--save-dir", help="save each picture here as PNG")
    ap.add_argument("--quick", action="store_true",
                    help="one tiny run per precision (64 px, 6 iterations): a smoke test")
    args = ap.parse_args(argv)
    from nst_core.media.images import save_image

    low = bf16_name(args.device)
    print(f"# {platform.processor() or platform.machine()}, bf16 as {low}", flush=True)
    rows = []
    plan = [(size, preset, pair) for size in args.sizes for preset in args.presets
            for pair in PAIRS[: args.pairs]]
    if args.photo:
        plan = [p for p in plan if Path(p[2][0]).stem == args.photo]
    if args.quick:
        plan = [(64, "quick", PAIRS[0])]
    for size, preset, (photo, painting) in plan:
        settings = preset_settings(preset, size, photo, painting, args.device)
        if args.quick:
            settings = settings.replace(iterations=6)
        pair_rows = {}
        for precision in ("float32", low) + (("float32-direct",) if args.control else ()):
            direct = precision == "float32-direct"
            row = {"size": size, "preset": preset, "photo": photo, "painting": painting,
                   **one_run(settings, "float32" if direct else precision, not direct)}
            row["precision"] = precision
            image = row.pop("image")
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                save_image(Path(args.save_dir) / f"{preset}_{size}_{Path(photo).stem}_"
                           f"{Path(painting).stem}_{precision}.png", image)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
            pair_rows[precision] = row
        ref, other = pair_rows["float32"], pair_rows[low]
        verdict = same_picture(other, ref)
        rows.append((size, preset, photo, verdict))
        print(f"{preset:8s} {size:4d} {photo:14s} bf16/fp32: gram {other['gram'] / ref['gram']:.3f}"
              f" adain {other['adain'] / ref['adain']:.3f} content "
              f"{other['content'] / ref['content']:.3f} ssim {other['ssim'] - ref['ssim']:+.3f}"
              f" time {other['seconds'] / ref['seconds']:.2f}x -> "
              f"{'same picture' if verdict else 'DIFFERENT'}", flush=True)
        if args.control:
            c = pair_rows["float32-direct"]
            print(f"{'':14s} float32 direct/Winograd: gram {c['gram'] / ref['gram']:.3f} adain "
                  f"{c['adain'] / ref['adain']:.3f} content {c['content'] / ref['content']:.3f}"
                  f" ssim {c['ssim'] - ref['ssim']:+.3f}; bf16/direct: gram "
                  f"{other['gram'] / c['gram']:.3f} content {other['content'] / c['content']:.3f}",
                  flush=True)
    passing = sorted({(p, s) for s, p, _, _ in rows}
                     - {(p, s) for s, p, _, ok in rows if not ok})
    print("bf16 gives the float32 picture for every pair at:",
          ", ".join(f"{p} {s} px" for p, s in passing) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
