"""Instant styles: how fast a model repaints, how fast it trains, and how its pictures
compare with the optimization's.

    .venv/bin/python benchmarks/instant.py speed                  # apply and training speed
    .venv/bin/python benchmarks/instant.py quality --size 256     # instant vs optimization
    .venv/bin/python benchmarks/instant.py quality --size 256 --refine
    .venv/bin/python benchmarks/instant.py quality --size 512 --old DIR   # beside older models
    .venv/bin/python benchmarks/instant.py recipe --steps 300 --set crop=128 --set batch=4

speed: the default network (a shipped model) through `stylize` (what the app calls: uint8 in,
uint8 out) on a 512x512 picture, the 512 px Tübingen photo and a 1920x1080 frame; median of
repeated runs after a warm-up, on the CPU (and CUDA when there is one). Then training's samples
per second for the default settings (40 steps after 5 of warm-up).

quality: for each shipped model, its picture of the Tübingen photo (never trained on) at
`--size`, judged (benchmarks/judge.py) beside the optimization's default picture of the same
pair; and when the optimization first reaches the instant picture's style distance; a strip
side_<model>_<size>.png in --save: the photo, the older model's picture (--old), the instant
picture and the optimization's, side by side. With
`--refine`: the optimization started from the instant picture (Refine), and when it first
matches the optimization-from-the-photo's final figures.

recipe: one training setting at a time: the default training with `--set` changes, for
`--steps`, judged on Tübingen (never trained on) with the strongest fine frequency named
(benchmarks/RESULTS.md, "What makes the hatching").
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import ROOT, Judge, median_time, trace  # noqa: E402

import numpy as np
import torch


def speed(args) -> dict:
    from nst_app.models import library, training_photos
    from nst_app.samples import default_content
    from nst_core.media.images import fit_long_side, load_image, resize
    from nst_core.kinds.train import TrainJob
    from nst_core.networks.stylize import stylize
    from nst_core import Progress
    from nst_core.settings.training import TrainSettings

    entry = next(e for e in library() if e.bundled and e.model)
    net = entry.model.network()
    rng = np.random.default_rng(0)
    tub = load_image(default_content())
    pictures = {"512x512": rng.integers(0, 256, (512, 512, 3), dtype=np.uint8),
                "Tübingen 512x384": resize(tub.rgb, fit_long_side(*tub.size, 512)),
                "1920x1080": resize(tub.rgb, (1920, 1080))}
    if args.quick:
        pictures = {"Tübingen 128x96": resize(tub.rgb, fit_long_side(*tub.size, 128))}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out: dict = {"model": entry.path.name, "width": net.shape.width, "blocks": net.shape.blocks,
                 "threads": torch.get_num_threads(), "apply": {}}
    for dev in devices:
        for name, rgb in pictures.items():
            t = median_time(lambda: stylize(net, rgb, dev), args.repeat)
            out["apply"][f"{dev} {name}"] = round(t, 4)
            print(f"apply {dev:4s} {name:18s} {t * 1000:8.1f} ms  ({1 / t:6.1f} per second)",
                  flush=True)
    if not args.no_train:
        for dev in devices:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                s = TrainSettings(style=str(ROOT / "resources/samples/style/starry_night.jpg"),
                                  photos=training_photos(), output=f"{tmp}/m.nst",
                                  steps=args.train_steps + 5, device=dev, preview_every=10**5,
                                  checkpoint_seconds=3600)
                if args.quick:  # a tiny network on tiny crops
                    s = s.replace(crop=32, batch=1, width=4, blocks=1, style_size=64)
                run = TrainJob(s).prepare()
                stamps = []
                for ev in run.events():
                    if isinstance(ev, Progress):
                        stamps.append(time.perf_counter())
                per_step = (stamps[-1] - stamps[4]) / (len(stamps) - 5)
                rate = s.batch / per_step
                out[f"train {dev}"] = {"seconds_per_step": round(per_step, 3),
                                       "samples_per_second": round(rate, 2),
                                       "minutes_for_default_steps":
                                           round(per_step * TrainSettings().steps / 60, 1)}
                print(f"train {dev}: {per_step:.3f} s per step of {s.batch} crops of {s.crop} px"
                      f" = {rate:.2f} samples/s; the default {TrainSettings().steps} steps take "
                      f"{per_step * TrainSettings().steps / 60:.1f} min", flush=True)
    return out


def quality(args) -> dict:

    from nst_app.models import library
    from nst_app.samples import default_content, default_settings
    from nst_core import Tuning
    from nst_core.media.images import fit_long_side, load_image, resize, save_image
    from nst_core.networks.model_file import load_model
    from nst_core.networks.stylize import stylize

    photo = load_image(default_content())
    size = fit_long_side(*photo.size, args.size)
    rows = []
    for entry in [e for e in library() if e.bundled and e.model]:
        painting = entry.model.meta["settings"]["style"]
        painting = str(ROOT / "resources/samples/style" / Path(painting).name)
        judge = Judge(str(default_content()), painting, size)
        rgb = resize(photo.rgb, size)
        t = time.perf_counter()
        instant = stylize(entry.model.network(), rgb)
        t_instant = time.perf_counter() - t
        q_instant = judge(instant)
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        save_image(folder / f"instant_{entry.path.stem}_{args.size}.png", instant,
                   overwrite=True)
        old_file = Path(args.old) / entry.path.name if args.old else None
        old = (stylize(load_model(old_file).network(), rgb)
               if old_file and old_file.is_file() else None)
        s = default_settings().replace(size=args.size, device="cpu", styles=(painting,))
        opt = trace(s.validate(), Tuning(), args.every)
        # side by side: the photo, the old model's picture (with --old), the instant picture,
        # the optimization's
        strip = [rgb] + ([old] if old is not None else []) + [instant, opt["image"]]
        gap = np.full((rgb.shape[0], 8, 3), 255, np.uint8)
        save_image(folder / f"side_{entry.path.stem}_{args.size}.png",
                   np.concatenate([x for p in strip for x in (p, gap)][:-1], axis=1),
                   overwrite=True)
        reach = next((p for p in opt["points"] if p["gram"] <= q_instant["gram"]), None)
        row = {"model": entry.path.stem, "size": list(size), "instant_seconds": round(t_instant, 3),
               "instant": {k: round(v, 5) for k, v in q_instant.items()},
               "optimization": opt["final"], "optimization_seconds": opt["seconds"],
               "optimization_reaches_instant_gram_at": reach and reach["seconds"]}
        print(f"\n{entry.path.stem} on Tübingen at {size[0]}x{size[1]}:")
        if old is not None:
            q_old = judge(old)
            row["old"] = {k: round(v, 5) for k, v in q_old.items()}
            print(f"  old model     {'':7s}    " + _fmt(q_old))
        print(f"  instant       {t_instant:7.2f} s  " + _fmt(q_instant))
        print(f"  optimization  {opt['seconds']:7.1f} s  " + _fmt(opt["final"]))
        print(f"  style distance ratio (instant / optimization): "
              f"{q_instant['gram'] / opt['final']['gram']:.2f}x; the optimization reaches the "
              f"instant picture's style distance at "
              f"{'%.1f s' % reach['seconds'] if reach else 'never'}", flush=True)
        if args.refine:
            init = folder / f"instant_{entry.path.stem}_{args.size}.png"
            ref = trace(s.replace(init="image", init_image=str(init)).validate(), Tuning(),
                        args.every)
            final = opt["final"]
            match = next((p for p in ref["points"] if p["gram"] <= final["gram"]
                          and p["content"] <= final["content"]), None)
            match_gram = next((p for p in ref["points"] if p["gram"] <= final["gram"]), None)
            row["refine"] = {"final": ref["final"], "seconds": ref["seconds"],
                             "matches_gram_at": match_gram and match_gram["seconds"],
                             "matches_gram_and_content_at": match and match["seconds"],
                             "points": ref["points"]}
            print(f"  refine        {ref['seconds']:7.1f} s  " + _fmt(ref["final"]))
            print(f"  refine reaches the optimization's final style distance at "
                  f"{'%.1f s' % match_gram['seconds'] if match_gram else 'never'}, and its "
                  f"style and content distances at "
                  f"{'%.1f s' % match['seconds'] if match else 'never'} (the optimization "
                  f"from the photo: {opt['seconds']:.1f} s)", flush=True)
        row["optimization_points"] = opt["points"]
        rows.append(row)
    return {"rows": rows}


def recipe(args) -> dict:
    """Train one painting's style with the default settings changed by `--set field=value`,
    on the bundled photos less Tübingen, for `--steps`; judge its picture of Tübingen (never
    trained on) at `--size`, and name the strongest fine frequency (a stride's motif sits at
    0.25 cycles/px)."""
    import tempfile

    from nst_app.models import training_photos
    from nst_app.samples import default_content
    from nst_core.kinds.train import TrainJob
    from nst_core.media.images import fit_long_side, load_image, resize, save_image
    from nst_core.networks.model_file import load_model
    from nst_core.networks.stylize import stylize
    from nst_core.settings.training import TrainSettings

    painting = str(ROOT / "resources/samples/style" / f"{args.painting}.jpg")
    tub = default_content()
    photos = tuple(p for p in training_photos() if Path(p).name != Path(tub).name)
    changes = {}
    for item in args.set:
        name, _, value = item.partition("=")
        kind = type(getattr(TrainSettings(), name))
        changes[name] = kind(float(value)) if kind in (int, float) else kind(value)
    with tempfile.TemporaryDirectory() as tmp:
        s = TrainSettings(style=painting, photos=photos, held_out=(str(tub),),
                          output=f"{tmp}/m.nst", steps=args.steps, preview_every=10**5,
                          checkpoint_seconds=3600, **changes).validate()
        t = time.perf_counter()
        TrainJob(s).prepare().run()
        seconds = time.perf_counter() - t
        net = load_model(s.output).network()
    photo = load_image(tub)
    size = fit_long_side(*photo.size, args.size)
    picture = stylize(net, resize(photo.rgb, size))
    Path(args.save).mkdir(parents=True, exist_ok=True)
    name = "_".join([args.painting, str(args.steps)] + [c.replace("=", "") for c in args.set])
    save_image(Path(args.save) / f"recipe_{name}.png", picture, overwrite=True)
    q = {k: round(v, 4) for k, v in Judge(str(tub), painting, size)(picture).items()}
    out = {"changes": changes, "steps": args.steps, "train_seconds": round(seconds, 1), **q,
           "strongest_fine_frequency": _peak(picture)}
    print(json.dumps(out), flush=True)
    return out


def _peak(rgb) -> list[float]:
    """(vertical, horizontal) cycles a pixel of the strongest fine frequency, as the judge's
    hatching score finds it."""
    from judge import fine_spectrum

    from nst_core.media.tensors import to_tensor

    power, fy, fx, keep = fine_spectrum(to_tensor(rgb))
    i = int((power * keep).flatten().argmax())
    return [round(float(fy.flatten()[i]), 3), round(float(fx.flatten()[i]), 3)]


def _fmt(q: dict) -> str:
    return (f"gram {q['gram']:.4f}  adain {q['adain']:.4f}  content {q['content']:.4f}  "
            f"ssim {q['ssim']:.3f}  hatching {q['hatching']:.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--repeat", type=int, default=7)
    sp.add_argument("--train-steps", type=int, default=40)
    sp.add_argument("--no-train", action="store_true")
    q = sub.add_parser("quality")
    q.add_argument("--size", type=int, default=256)
    q.add_argument("--every", type=int, default=10)
    q.add_argument("--refine", action="store_true")
    q.add_argument("--save", default="/tmp/nst-instant-bench")
    q.add_argument("--old", metavar="DIR", help="models of an earlier recipe, by the shipped "
                   "models' file names: judged beside them, and shown in the side-by-side strip")
    r = sub.add_parser("recipe")
    r.add_argument("--painting", default="starry_night")
    r.add_argument("--steps", type=int, default=300)
    r.add_argument("--size", type=int, default=512)
    r.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a training setting changed from its default, e.g. crop=128")
    r.add_argument("--save", default="/tmp/nst-instant-bench")
    for p in (sp, q, r):
        p.add_argument("--json", metavar="FILE")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.what, args.repeat, args.train_steps, args.no_train = "speed", 1, 1, False
        args.json = None
    result = {"speed": speed, "quality": quality, "recipe": recipe}[args.what](args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
