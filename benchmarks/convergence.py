"""How a run's picture converges: the judge's four measures (benchmarks/judge.py) against time,
for several pairs and sizes (the groundwork of the picture rule).

    .venv/bin/python benchmarks/convergence.py                         # 3 pairs at 256 px
    .venv/bin/python benchmarks/convergence.py --sizes 256 512 --every 25 --json out.json
    .venv/bin/python benchmarks/convergence.py --set early_stop=0 --precision float32

Each run is the default settings (with --set overrides) on a pair; the picture as it would be
saved (8-bit, at the output size; coarse scales upsampled) is judged at every scale's end and
every `--every` iterations. Time is the engine's own: judging is left out.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from common import RULE_PAIRS as PAIRS, trace  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256])
    ap.add_argument("--pairs", type=int, default=len(PAIRS), help="how many of the pairs")
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON")
    ap.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                    help="the network's precision on the CPU")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.pairs, args.every = [64], 1, 2
        args.set = [*args.set, "iterations=4", "multiscale=false"]

    from nst_app.samples import default_settings, samples_dir
    from nst_core import TransferSettings, Tuning

    tuning = Tuning().with_precision("cpu", args.precision)
    changes = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    rows = []
    for size in args.sizes:
        for photo, painting in PAIRS[: args.pairs]:
            s = TransferSettings.from_dict({**default_settings().to_dict(), **changes,
                                            "size": size, "device": "cpu",
                                            "content": str(samples_dir() / "content" / photo),
                                            "styles": [str(samples_dir() / "style" / painting)]})
            r = trace(s.validate(), tuning, args.every)
            r.pop("image")  # the picture itself is not JSON
            r.update(pair=f"{Path(photo).stem} × {Path(painting).stem}", size=size)
            rows.append(r)
            print(f"\n{r['pair']} at {size} px: {r['iterations']} it in {r['seconds']:.1f} s"
                  f" ({r['reason']})")
            print("    it  scale      s     gram    adain  content   ssim")
            for p in r["points"]:
                print(f"  {p['iteration']:4d}  {p['scale']:5d} {p['seconds']:6.1f}  "
                      f"{p['gram']:.4f}  {p['adain']:.4f}  {p['content']:.4f}  "
                      f"{p['ssim']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
