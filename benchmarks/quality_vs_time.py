"""Quality against time: is a configuration faster to a good picture, not just per iteration?

    .venv/bin/python benchmarks/quality_vs_time.py                      # default vs textbook
    .venv/bin/python benchmarks/quality_vs_time.py --preset "Quick preview" --ref-iters 200
    .venv/bin/python benchmarks/quality_vs_time.py --set early_stop=0.002 --set iterations=200

Runs the engine on the bundled pair (Tübingen, The Starry Night) with a preset (default: the
default settings) and, in the same process, the plain textbook configuration as the reference:
single-scale L-BFGS (torch.optim.LBFGS, unit steps) from the content image at the same size and
weights, in float32. Every `--every`
iterations the picture as it would be saved (8-bit, at the output size; coarse scales upsampled)
is scored by a fixed evaluator, the bundled VGG19 in float32 at the output size:

    style   = mean over relu1_1..relu5_1 of |G(x) - G(s)|^2 / |G(s)|^2   (Gram matrices)
    content = |F(x) - F(c)|^2 / |F(c)|^2 at relu4_2
    quality = 100 * style + 5 * content        (the default objective's weights; lower is better)

Time is the engine's own (evaluation time is left out). The summary says when the
configuration first reached the reference's final quality, and how much sooner that is.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common  # noqa: E402,F401  (puts the repository on the path)

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


class Evaluator:
    """Fixed quality figure of an 8-bit picture at the output size."""

    def __init__(self, settings, out_size):
        import torch

        from nst_core.media.images import load_image, resize
        from nst_core.objective.losses import gram
        from nst_core.media.tensors import to_tensor
        from nst_core.networks.vgg import VGGFeatures

        self.torch, self.gram, self.resize, self.to_tensor = torch, gram, resize, to_tensor
        self.size = out_size
        self.net = VGGFeatures(STYLE_LAYERS + (CONTENT_LAYER,))
        cpu = torch.device("cpu")
        content = to_tensor(resize(load_image(settings.content).rgb, out_size), cpu)
        style_img = load_image(settings.styles[0])
        from nst_core.media.images import fit_long_side

        style = to_tensor(resize(style_img.rgb, fit_long_side(*style_img.size, max(out_size))), cpu)
        with torch.no_grad():
            self.content = self.net(content)[CONTENT_LAYER]
            sf = self.net(style)
            self.grams = {n: gram(sf[n]) for n in STYLE_LAYERS}

    def __call__(self, rgb) -> dict[str, float]:
        torch = self.torch
        if (rgb.shape[1], rgb.shape[0]) != tuple(self.size):
            rgb = self.resize(rgb, self.size)
        with torch.no_grad():
            f = self.net(self.to_tensor(rgb, torch.device("cpu")))
            style = sum(float(((self.gram(f[n]) - g) ** 2).sum() / (g ** 2).sum())
                        for n, g in self.grams.items()) / len(self.grams)
            content = float(((f[CONTENT_LAYER] - self.content) ** 2).sum()
                            / (self.content ** 2).sum())
        return {"style": style, "content": content, "quality": 100 * style + 5 * content}


def trace(settings, tuning, every: int, label: str, evaluator=None) -> dict:
    """Run `settings` with `tuning`, scoring the picture every `every` iterations (and at the
    end of each scale) and at the end."""
    from nst_core import PreviewPolicy, Preview, Progress, StillJob

    job = StillJob(settings, tuning).prepare(PreviewPolicy(every=every))
    ev = evaluator or Evaluator(settings, job.output_size)
    points = []
    eval_time = 0.0
    scale = 0
    t0 = time.perf_counter()
    for p in job.events():
        if isinstance(p, Progress):
            scale = p.scale
        if not isinstance(p, Preview):
            continue
        t_eval = time.perf_counter()
        engine_seconds = t_eval - t0 - eval_time  # leave out earlier evaluations
        q = ev(p.image)
        eval_time += time.perf_counter() - t_eval
        points.append({"iteration": p.iteration, "seconds": round(engine_seconds, 3),
                       "scale": scale, **{k: round(v, 5) for k, v in q.items()}})
        print(f"  {label:>9} it {p.iteration:4d}  {points[-1]['seconds']:7.1f} s  "
              f"quality {q['quality']:8.3f}  (style {q['style']:.4f}, content "
              f"{q['content']:.4f})", file=sys.stderr, flush=True)
    final = ev(job.result.image)
    total = time.perf_counter() - t0 - eval_time
    points.append({"iteration": job.result.iterations, "seconds": round(total, 3),
                   "scale": len(job.picture.scales) - 1, "final": True,
                   **{k: round(v, 5) for k, v in final.items()}})
    return {"label": label, "settings": settings.to_dict(), "points": points,
            "seconds": round(total, 2), "final_quality": round(final["quality"], 5),
            "iterations": job.result.iterations, "evaluator": ev}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", help="a bundled preset's name (default: the default settings)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                    help="override a setting, e.g. --set early_stop=0.002")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--ref-iters", type=int, default=300, help="iterations of the reference")
    ap.add_argument("--no-ref", action="store_true", help="skip the reference run")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", metavar="FILE", help="write every point to this file")
    ap.add_argument("--coarse-ratio", type=float, help="Tuning.coarse_ratio (how "
                    "many times the iterations of the next finer scale each scale gets)")
    ap.add_argument("--autocast", choices=["auto", "off", "bf16"], default="auto",
                    help="the network's precision on this device (auto: the engine's choice)")
    ap.add_argument("--lbfgs-history", type=int, help="Tuning.lbfgs_history")
    ap.add_argument("--precondition", type=json.loads, metavar="JSON",
                    help='Tuning.precondition, e.g. "[]" (none) or "[[0.0078, 3], '
                    '[0.031, 8]]" ([sigma as a fraction of the long side, weight], ...)')
    ap.add_argument("--carry-detail", choices=["on", "off"],
                    help="Tuning.carry_detail")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.ref_iters, args.every = 64, 3, 1
        args.set = [*args.set, "iterations=4"]
    from nst_core import Tuning

    changes_t = {}
    if args.lbfgs_history is not None:
        changes_t["lbfgs_history"] = args.lbfgs_history
    if args.precondition is not None:
        changes_t["precondition"] = tuple(tuple(p) for p in args.precondition)
    if args.carry_detail is not None:
        changes_t["carry_detail"] = args.carry_detail == "on"
    if args.coarse_ratio is not None:
        changes_t["coarse_ratio"] = args.coarse_ratio
    tuning = Tuning(**changes_t)
    if args.autocast != "auto":
        tuning = tuning.with_precision(args.device,
                                       "float32" if args.autocast == "off" else "bfloat16")

    from nst_app.presets import load_presets
    from nst_app.samples import default_settings
    from nst_core import TransferSettings

    base = default_settings().replace(size=args.size, device=args.device)
    if args.preset:
        base = next(p for p in load_presets() if p.name == args.preset).apply(base)
        base = base.replace(size=args.size)
    changes = {}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key] = json.loads(value)
    cand = TransferSettings.from_dict({**base.to_dict(), **changes}).validate()
    runs = [trace(cand, tuning, args.every, "candidate")]
    ref = None
    if not args.no_ref:
        ref_settings = cand.replace(multiscale=False, optimizer="lbfgs", learning_rate=None,
                                    iterations=args.ref_iters, early_stop=0.0, init="content")
        # the textbook run: torch's L-BFGS (unit steps, no line search, 50 pairs, no
        # preconditioner), plain float32
        textbook = Tuning(lbfgs="torch", precondition=()).with_precision(args.device, "float32")
        ref = trace(ref_settings, textbook, args.every, "reference", runs[0]["evaluator"])
        runs.append(ref)
    c = runs[0]
    print(f"\ncandidate: {c['iterations']} it in {c['seconds']:.1f} s, final quality "
          f"{c['final_quality']:.3f}")
    summary = {"candidate": {k: v for k, v in c.items() if k != "evaluator"}}
    if ref is not None:
        target = ref["final_quality"]
        reach = next((p["seconds"] for p in c["points"] if p["quality"] <= target), None)
        ref_reach = next(p["seconds"] for p in ref["points"] if p["quality"] <= target)
        print(f"reference: {ref['iterations']} it in {ref['seconds']:.1f} s, final quality "
              f"{target:.3f} (first reached at {ref_reach:.1f} s)")
        if reach is None:
            print("the candidate never reached the reference's final quality")
        else:
            print(f"the candidate reached it at {reach:.1f} s: {ref['seconds'] / reach:.2f}x "
                  f"sooner than the reference's {ref['seconds']:.1f} s")
        # and the other way round: when did the reference reach the candidate's final quality?
        own = c["final_quality"]
        ref_to_own = next((p["seconds"] for p in ref["points"] if p["quality"] <= own), None)
        if ref_to_own is not None:
            print(f"the reference reached the candidate's final quality {own:.3f} at "
                  f"{ref_to_own:.1f} s: the candidate got there {ref_to_own / c['seconds']:.2f}x "
                  "sooner")
        summary.update(reference={k: v for k, v in ref.items() if k != "evaluator"},
                       target_quality=target, candidate_reaches_at=reach,
                       speedup=round(ref["seconds"] / reach, 2) if reach else None,
                       reference_reaches_candidate_final_at=ref_to_own,
                       speedup_at_candidate_quality=round(ref_to_own / c["seconds"], 2)
                       if ref_to_own else None)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
