"""The two-minute picture: how far the picture still moves as a run goes on, and the
old default against the new one.

    .venv/bin/python benchmarks/two_minutes.py trace --size 256 [--pairs 3] [--every 10]
    .venv/bin/python benchmarks/two_minutes.py compare --sizes 256 512 [--pairs 3] [--json F]
    .venv/bin/python benchmarks/two_minutes.py trace --size 512 --save DIR --json old512.json
    .venv/bin/python benchmarks/two_minutes.py compare --sizes 512 --old old512.json --save DIR

trace: the old default (300 iterations, no early stop) judged every `--every` iterations
(benchmarks/judge.py) with, beside the judge's four measures, how much the picture changed since
the last point: the mean absolute difference of the 8-bit picture, in levels (what the stopping
rule watches).

With --old, compare takes the old default's figures (and, with --save, its pictures) from an
earlier `trace --json` (and `trace --save`) instead of running it again: at 512 px the old
default takes about 9 minutes a pair on 2 AVX2 cores. Without it, compare runs `trace` in a
child process first: the old default runs as it did before the picture rule, also with glibc's own handling
of freed memory, and the engine's keeping it (Tuning.keep_freed_memory) is process-wide.

`trace --default new` traces the engine's defaults with the picture rule off, over the same 300
iterations: the trajectory the rule stops on (`--coarse-ratio R` and `--iterations N` trace
another split between the scales).

replay: the picture rule (nst_core.painting.optimize.minimize) replayed on traces' movements at the
full-size scale, against the iteration at which each trace first matches the old default's
final picture: the old default's traces (the files named) their own, the new default's
(`--new FILE ...`) that of the old trace of the same pair and size. It sweeps the reference
window, the threshold and the patience and prints the rules that stop inside the band on every
trace, fewest windows after the first match first, and the engine's own rule. A trace's first
full-size point is the scale's 10th iteration (its change spans two scales and is left out), so
its k-th point's change is the engine's window k+1.

compare: for each pair and size, the old default and the new default (the engine's defaults
now): wall time, the judge's four measures of the saved picture, and the time at which the new
default's picture first matches the old default's final one (Gram and AdaIN distances within
5%, content distance no worse than 5% above, blurred-luminance SSIM no lower than 0.005 below).
Time is the engine's own: judging is left out.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import RULE_PAIRS as PAIRS, trace  # noqa: E402


def old_default(settings):
    """The default before the picture rule: 300 iterations, the 0.1% loss early stop (it never fired at
    512 px; here it is off, as in the issue's figures) and the 0.3 coarse ratio, no picture
    rule, torch's direct convolutions and glibc's own handling of freed memory."""
    from nst_core import Tuning

    return (settings.replace(iterations=300, early_stop=0.0, settle=0.0),
            Tuning(coarse_ratio=0.3, winograd=False, keep_freed_memory=False))


def matches(q: dict, ref: dict) -> bool:
    return (q["gram"] <= 1.05 * ref["gram"] and q["adain"] <= 1.05 * ref["adain"]
            and q["content"] <= 1.05 * ref["content"] and q["ssim"] >= ref["ssim"] - 0.005)


def _pair_settings(photo: str, painting: str, size: int, device: str = "cpu"):
    from nst_app.samples import default_settings, samples_dir

    return default_settings().replace(size=size, device=device,
                                      content=str(samples_dir() / "content" / photo),
                                      styles=(str(samples_dir() / "style" / painting),))


def _fmt(q: dict) -> str:
    return (f"gram {q['gram']:.4f}  adain {q['adain']:.4f}  content {q['content']:.4f}  "
            f"ssim {q['ssim']:.3f}")


def _stem(photo: str, painting: str, size: int) -> str:
    return f"{Path(photo).stem}_{Path(painting).stem}_{size}"


def new_default_unstopped(settings):
    """The engine's defaults with the picture rule and the loss early stop off, over the old
    default's 300 iterations."""
    from nst_core import Tuning

    return settings.replace(iterations=300, early_stop=0.0, settle=0.0), Tuning()


def cmd_trace(args) -> list:
    from nst_core.media.images import save_image

    make = old_default if args.default == "old" else new_default_unstopped
    rows = []
    chosen = [PAIRS[i] for i in args.only] if args.only else PAIRS[: args.pairs]
    for photo, painting in chosen:
        s, tuning = make(_pair_settings(photo, painting, args.size, args.device))
        if args.coarse_ratio is not None:
            tuning = tuning.replace(coarse_ratio=args.coarse_ratio)
        if args.iterations is not None:
            s = s.replace(iterations=args.iterations)
        r = trace(s.validate(), tuning, args.every)
        image = r.pop("image")
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            suffix = "old" if args.default == "old" else "new_unstopped"  # compare's is _new
            if args.coarse_ratio is not None or args.iterations is not None:
                suffix += f"_r{args.coarse_ratio}_i{args.iterations}"  # not the default's
            save_image(Path(args.save) / f"{_stem(photo, painting, args.size)}_{suffix}.png",
                       image, overwrite=True)
        r.update(pair=f"{Path(photo).stem} × {Path(painting).stem}", size=args.size)
        rows.append(r)
        print(f"\n{r['pair']} at {args.size} px, {args.default} default"
              f"{'' if tuning.coarse_ratio == 0.3 else f', coarse ratio {tuning.coarse_ratio}'}"
              f", {s.iterations} iterations: {r['seconds']:.1f} s")
        print("    it  scale      s  change     gram    adain  content   ssim")
        for p in r["points"]:
            ch = f"{p['change']:6.2f}" if p["change"] is not None else "     -"
            print(f"  {p['iteration']:4d}  {p['scale']:5d} {p['seconds']:6.1f}  {ch}  "
                  f"{p['gram']:.4f}  {p['adain']:.4f}  {p['content']:.4f}  {p['ssim']:.3f}",
                  flush=True)
    return rows


def cmd_compare(args) -> list:
    from nst_core import Tuning
    from nst_core.media.images import save_image

    earlier = {}
    if args.old:
        earlier = {(r["pair"], r["size"]): r for r in json.loads(Path(args.old).read_text())}
    rows = []
    for size in args.sizes:
        missing = [i for i, (photo, painting) in enumerate(PAIRS[: args.pairs])
                   if (f"{Path(photo).stem} × {Path(painting).stem}", size) not in earlier]
        if missing:  # the old default, in its own process, for the pairs --old lacks
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "old.json"
                subprocess.run([sys.executable, __file__, "trace", "--size", str(size),
                                "--only", *map(str, missing), "--every", str(args.every),
                                "--device", args.device, "--json", str(out),
                                *(["--save", args.save] if args.save else [])], check=True)
                earlier.update({(r["pair"], r["size"]): r
                                for r in json.loads(out.read_text())})
        for photo, painting in PAIRS[: args.pairs]:
            base = _pair_settings(photo, painting, size, args.device)
            pair = f"{Path(photo).stem} × {Path(painting).stem}"
            old = dict(earlier[(pair, size)], image=None)
            new = trace(base.validate(), Tuning(), args.every)
            reach = next((p["seconds"] for p in new["points"] if matches(p, old["final"])),
                         None)
            if reach is None and matches(new["final"], old["final"]):
                reach = new["seconds"]
            if args.save:
                folder = Path(args.save)
                folder.mkdir(parents=True, exist_ok=True)
                stem = _stem(photo, painting, size)
                if old["image"] is not None:
                    save_image(folder / f"{stem}_old.png", old["image"], overwrite=True)
                save_image(folder / f"{stem}_new.png", new["image"], overwrite=True)
            row = {"pair": pair, "size": size,
                   "old": {"seconds": old["seconds"], "iterations": old["iterations"],
                           **old["final"]},
                   "new": {"seconds": new["seconds"], "iterations": new["iterations"],
                           "reason": new["reason"], **new["final"]},
                   "new_matches_old_at": reach}
            rows.append(row)
            print(f"\n{pair} at {size} px")
            print(f"  old  {old['seconds']:7.1f} s  {old['iterations']:3d} it  "
                  + _fmt(old["final"]))
            print(f"  new  {new['seconds']:7.1f} s  {new['iterations']:3d} it  "
                  + _fmt(new["final"]) + f"  ({new['reason']})")
            print(f"  time ratio {new['seconds'] / old['seconds']:.2f}; the new default "
                  f"matches the old final at "
                  f"{'%.1f s' % reach if reach is not None else 'never'}", flush=True)
    return rows


def _stops_at(changes: list[float], reference: int, threshold: float, patience: int) -> int:
    """The index of the full-size point where the rule ends the scale (the last one if it
    never does): the engine's window `reference` is the point reference - 1."""
    ref = changes[reference - 1]
    quiet = 0
    for k in range(reference, len(changes)):
        quiet = quiet + 1 if changes[k] <= threshold * ref else 0
        if quiet >= patience:
            return k
    return len(changes) - 1


def cmd_replay(args) -> list:
    olds = [(path, r) for path in args.traces for r in json.loads(Path(path).read_text())]
    finals = {(r["pair"], r["size"]): r["points"][-1] for _, r in olds}
    news = [(path, r) for path in args.new for r in json.loads(Path(path).read_text())]
    traces = []
    for path, r in olds + news:
        top = max(p["scale"] for p in r["points"])
        points = [p for p in r["points"] if p["scale"] == top]
        final = finals.get((r["pair"], r["size"]))  # an old trace's own, or its pair's
        first = next((k for k, p in enumerate(points) if final and matches(p, final)), None)
        if first is None:
            print(f"  {Path(path).name}: {r['pair']} at {r['size']} px: no old final picture "
                  "to match, or never matches it; left out")
            continue
        traces.append((f"{Path(path).name}: {r['pair']} {r['size']} px", points, final,
                       first, [p["change"] or 0.0 for p in points]))
    rules = []
    for reference in (2, 3, 4):
        for threshold in [t / 100 for t in range(16, 50, 2)] + [0.25]:
            for patience in (1, 2, 3):
                late, missed = [], []
                for name, points, final, first, changes in traces:
                    k = _stops_at(changes, reference, threshold, patience)
                    if matches(points[k], final):
                        late.append(k - first)
                    else:
                        missed.append(name)
                rules.append({"reference": reference, "threshold": threshold,
                              "patience": patience, "missed": missed, "late": late})
    safe = sorted((r for r in rules if not r["missed"]), key=lambda r: sum(r["late"]))
    print(f"{len(traces)} traces; windows after the first match, per trace:")
    for name, *_ in traces:
        print(f"  {name}")
    engine = next(r for r in rules
                  if (r["reference"], r["threshold"], r["patience"]) == (2, 0.25, 2))
    for label, r in [("engine (window 2, 0.25, two in a row)", engine)] + \
            [(f"window {r['reference']}, {r['threshold']:.2f}, {r['patience']} in a row", r)
             for r in safe[: args.top]]:
        print(f"  {label:38s} total {sum(r['late']):3d}  {r['late']}"
              + (f"  misses: {r['missed']}" if r["missed"] else ""))
    return rules


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("trace")
    t.add_argument("--size", type=int, default=256)
    t.add_argument("--pairs", type=int, default=len(PAIRS))
    t.add_argument("--every", type=int, default=10)
    t.add_argument("--only", type=int, nargs="+", metavar="I",
                   help="these pairs (0-based, in PAIRS' order) instead of the first --pairs")
    t.add_argument("--default", choices=["old", "new"], default="old",
                   help="old: the default before the picture rule; new: the engine's, without the rule")
    t.add_argument("--coarse-ratio", type=float, help="another coarse ratio (Tuning.coarse_ratio)")
    t.add_argument("--iterations", type=int, help="another budget of iterations (300)")
    c = sub.add_parser("compare")
    c.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    c.add_argument("--pairs", type=int, default=len(PAIRS))
    c.add_argument("--every", type=int, default=10)
    c.add_argument("--old", metavar="FILE", help="the old default's figures from an earlier "
                   "`trace --json FILE` instead of running it again")
    r = sub.add_parser("replay")
    r.add_argument("traces", nargs="+", metavar="OLD_TRACE_JSON",
                   help="the old default's traces (`trace --json`)")
    r.add_argument("--new", nargs="*", default=[], metavar="NEW_TRACE_JSON",
                   help="the new default's traces (`trace --default new --json`)")
    r.add_argument("--top", type=int, default=8)
    r.add_argument("--json", metavar="FILE")
    for p in (t, c):
        p.add_argument("--save", metavar="DIR", help="keep the pictures of every pair")
        p.add_argument("--device", default="cpu", help="where the runs compute (the judge "
                       "is always the CPU's float32)")
        p.add_argument("--json", metavar="FILE")
    t.add_argument("--quick", action="store_true",
                   help="a tiny trace of one pair: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.command == "trace" and args.quick:
        args.size, args.pairs, args.every, args.iterations = 64, 1, 2, 4
    rows = {"trace": cmd_trace, "compare": cmd_compare, "replay": cmd_replay}[args.command](args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
