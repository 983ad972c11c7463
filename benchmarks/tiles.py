"""Does a picture painted in tiles look like the one painted whole, and what does a print-size
picture cost?

    .venv/bin/python benchmarks/tiles.py compare --sizes 512 768 --tile 256 --save-dir DIR
    .venv/bin/python benchmarks/tiles.py large --size 4096 --iters 3 --max-memory 8
    .venv/bin/python benchmarks/tiles.py pace --size 512 --tile 256 --iters 5
    .venv/bin/python benchmarks/tiles.py stroke --sizes 512 1024
    .venv/bin/python benchmarks/tiles.py pairs --size 512 --histories 50 12 5
    .venv/bin/python benchmarks/tiles.py --quick compare      # a smoke test

compare: each pair with the default settings, whole and with `--tile` (every scale larger than
the tile goes in tiles), in float32 so that the two differ by tiling alone; the judge's four
measures (benchmarks/judge.py) and a seam measure: the mean squared luminance gradient across
the tiles' borders (the two pixels either side of each cut) over the mean elsewhere, for the
tiled picture and, at the same places, for the whole one. Style measures within 5%, content
within 2% and SSIM within 0.01 is "same picture" (benchmarks/precision.py).

large: a few iterations of one pair at a print size within `--max-memory` GB: the memory plan
(tiles, L-BFGS pairs), seconds per iteration at the final scale, the process's peak memory, and
the whole run's time at that pace; the picture as it stands is saved (--save-dir, else the
temporary folder) to look at.

pace: seconds per iteration at one size, whole and in tiles, single scale, on an idle machine.

pairs: the default picture with fewer L-BFGS curvature pairs (what a print-size picture gets
when fifty do not fit), judged against fifty's.

stroke: the default picture at the first size (the preview) and at each larger one (the print),
the print scaled down to the preview's size: the judge's measures of both against the preview's
judge, and the SSIM of the scaled print against the preview (the strokes keep their size
relative to the picture when they match).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import PAIRS, SAMPLES, Judge, luminance, peak_rss_mib, same_picture, ssim  # noqa: E402

FP32 = (("cpu", "float32"), ("cuda", "float32"))


def _settings(photo: str, painting: str, size: int, **changes):
    from nst_core import TransferSettings

    return TransferSettings(content=str(SAMPLES / "content" / photo),
                            styles=(str(SAMPLES / "style" / painting),), **{"size": size,
                                                                             **changes})


def seam_ratio(rgb, cuts_x: list[int], cuts_y: list[int]) -> float:
    """Mean squared luminance gradient across the cuts over its mean everywhere else."""
    import numpy as np

    lum = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    gx = np.zeros_like(lum)
    gy = np.zeros_like(lum)
    gx[:, 1:] = (lum[:, 1:] - lum[:, :-1]) ** 2  # gx[:, x]: between x - 1 and x
    gy[1:, :] = (lum[1:, :] - lum[:-1, :]) ** 2
    at = np.zeros(lum.shape, bool)
    at_y = np.zeros(lum.shape, bool)
    for x in cuts_x:
        at[:, max(1, x - 1): x + 2] = True  # the steps into, across and out of the cut
    for y in cuts_y:
        at_y[max(1, y - 1): y + 2, :] = True
    across = np.concatenate([gx[at], gy[at_y]])
    elsewhere = np.concatenate([gx[:, 1:][~at[:, 1:]], gy[1:, :][~at_y[1:, :]]])
    return float(across.mean() / elsewhere.mean())


def _run(settings, tuning):
    from nst_core import StillJob

    run = StillJob(settings, tuning).prepare()
    t0 = time.perf_counter()
    result = run.run()
    return run, result, time.perf_counter() - t0


def compare(args) -> int:

    from nst_core import Tuning
    from nst_core.media.images import save_image
    from nst_core.objective.tiled import plan_tiles

    tuning = Tuning(precision=FP32)
    sizes = [96] if args.quick else args.sizes
    pairs = PAIRS[:1] if args.quick else PAIRS[: args.pairs]
    tile = 64 if args.quick else args.tile
    for size in sizes:
        for photo, painting in pairs:
            base = _settings(photo, painting, size, **({"iterations": 4, "multiscale": False}
                                                       if args.quick else {}))
            rows = {}
            for name, settings in (("whole", base), ("tiled", base.replace(tile=tile))):
                run, result, seconds = _run(settings, tuning)
                judged = Judge(settings.content, settings.styles[0], run.output_size)(
                    result.image)
                w, h = run.output_size
                layers = settings.content_layers + settings.style_layers
                cuts = plan_tiles((w, h), tile, layers)
                cuts_x = sorted({t.inner[2] for t in cuts} - {0})
                cuts_y = sorted({t.inner[0] for t in cuts} - {0})
                row = {"size": size, "photo": photo, "painting": painting, "run": name,
                       "tile": tile if name == "tiled" else 0, "tiles": len(cuts),
                       "seconds": round(seconds, 1), "iterations": result.iterations,
                       **{k: round(v, 5) for k, v in judged.items()},
                       "seam": round(seam_ratio(result.image, cuts_x, cuts_y), 3)}
                rows[name] = (row, result.image)
                print(json.dumps(row), flush=True)
                if args.save_dir:
                    Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                    save_image(Path(args.save_dir) / f"{size}_{Path(photo).stem}_{name}.png",
                               result.image, overwrite=True)
            (t, t_img), (wh, w_img) = rows["tiled"], rows["whole"]
            import numpy as np

            diff = np.abs(t_img.astype(int) - w_img.astype(int))
            print(f"{size:4d} {photo:14s} tiled/whole: gram {t['gram'] / wh['gram']:.3f} adain "
                  f"{t['adain'] / wh['adain']:.3f} content {t['content'] / wh['content']:.3f} "
                  f"ssim {t['ssim'] - wh['ssim']:+.4f} seam {t['seam']:.3f} (whole there "
                  f"{wh['seam']:.3f}) pixels differ by {diff.mean():.2f} on average, "
                  f"time {t['seconds'] / wh['seconds']:.2f}x -> "
                  f"{'same picture' if same_picture(t, wh) else 'DIFFERENT'}", flush=True)
    return 0


def large(args) -> int:
    from nst_core import Note, Progress, StillJob, Tuning
    from nst_core.painting.sizing import memory_outlook

    photo, painting = PAIRS[0]
    size = 160 if args.quick else args.size
    settings = _settings(photo, painting, size, max_memory=args.max_memory,
                         tile=96 if args.quick else 0, iterations=args.iters * 4)
    from nst_core.media.images import load_image

    outlook = memory_outlook(settings, load_image(settings.content).size)
    print(f"# {size} px within {settings.max_memory} GB: needs {outlook.needed / 2**30:.1f} GB "
          f"in {outlook.tiles} tiles", flush=True)
    import threading

    stop = threading.Event()
    run = StillJob(settings, Tuning()).prepare(stop=stop)
    plan = run.picture.plans
    print("# plan per scale:", [(sc.size, p.tile, p.history) for sc, p in
                                zip(run.picture.scales, plan)], flush=True)
    final = len(run.picture.scales) - 1
    marks: list[float] = []
    for event in run.events():
        if isinstance(event, Note):
            print("#", event.text, flush=True)
        if isinstance(event, Progress) and event.scale == final:
            marks.append(time.perf_counter())
            if len(marks) > args.iters:
                stop.set()
    per_it = (marks[-1] - marks[0]) / max(1, len(marks) - 1)
    peak = peak_rss_mib() / 1024
    from nst_core.painting.schedule import plan_scales

    default = plan_scales(settings.replace(iterations=300), load_image(settings.content).size)
    from nst_core.painting.sizing import estimated_seconds

    whole_run = estimated_seconds(settings.replace(iterations=300),
                                  load_image(settings.content).size)
    row = {"size": run.output_size, "tiles": outlook.tiles, "final_scale_s_per_it":
           round(per_it, 1), "peak_rss_gb": round(peak, 2),
           "default_final_scale_iterations": default[-1].iterations,
           "default_final_scale_hours": round(per_it * default[-1].iterations / 3600, 2),
           "engine_estimate_of_default_run_hours": round(whole_run / 3600, 2)}
    if not args.quick:  # the picture as it stands, to look at at 100%
        import tempfile

        from nst_core.media.images import save_image

        folder = Path(args.save_dir or tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        row["saved"] = str(save_image(folder / f"large_{size}.png", run.result.image,
                                      overwrite=True))
    print(json.dumps(row), flush=True)
    return 0


def pace_mode(args) -> int:
    from nst_core import Progress, StillJob, Tuning

    photo, painting = PAIRS[0]
    size, tile, iters = (96, 64, 2) if args.quick else (args.size, args.tile, args.iters)
    for name, t in (("whole", 0), ("tiled", tile)):
        settings = _settings(photo, painting, size, iterations=iters + 1, multiscale=False,
                             tile=t)
        marks = []
        run = StillJob(settings, Tuning()).prepare()
        for event in run.events():
            if isinstance(event, Progress):
                marks.append(time.perf_counter())
        per_it = (marks[-1] - marks[0]) / (len(marks) - 1)  # the first includes the setup
        print(json.dumps({"size": run.output_size, "run": name, "tile": t,
                          "s_per_it": round(per_it, 2)}), flush=True)
    return 0


def stroke(args) -> int:

    from nst_core import Tuning
    from nst_core.media.images import resize, save_image
    from nst_core.media.tensors import to_tensor

    tuning = Tuning(precision=FP32)
    sizes = [64, 96] if args.quick else args.sizes
    for photo, painting in PAIRS[: 1 if args.quick else args.pairs]:
        pictures = {}
        for size in sizes:
            settings = _settings(photo, painting, size,
                                 **({"iterations": 4} if args.quick else {}))
            if size != sizes[0] and args.print_scales:  # the print's coarse-to-fine schedule
                settings = settings.replace(scales=args.print_scales)
            # the strokes as at the preview's size (the size one tuned at), or as the network
            # sets them at each size (--strokes-at 0)
            settings = settings.replace(
                strokes_at=sizes[0] if args.strokes_at is None else args.strokes_at)
            run, result, seconds = _run(settings, tuning)
            pictures[size] = (run.output_size, result.image, seconds)
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                save_image(Path(args.save_dir) / f"stroke_{size}_{Path(photo).stem}.png",
                           result.image, overwrite=True)
        preview_size, preview, _ = pictures[sizes[0]]
        judge = Judge(str(SAMPLES / "content" / photo), str(SAMPLES / "style" / painting),
                      preview_size)
        ref = judge(preview)
        for size in sizes[1:]:
            _, image, seconds = pictures[size]
            small = resize(image, preview_size)
            got = judge(small)
            same = ssim(luminance(to_tensor(small)), luminance(to_tensor(preview)))
            print(json.dumps({"photo": photo, "preview": sizes[0], "print": size,
                              "print_seconds": round(seconds, 1),
                              **{f"preview_{k}": round(v, 5) for k, v in ref.items()},
                              **{f"print_{k}": round(v, 5) for k, v in got.items()},
                              "ssim_print_vs_preview": round(same, 4)}), flush=True)
            print(f"{photo:14s} {size} px scaled to {sizes[0]}: gram "
                  f"{got['gram'] / ref['gram']:.3f} adain {got['adain'] / ref['adain']:.3f} "
                  f"content {got['content'] / ref['content']:.3f} ssim-to-photo "
                  f"{got['ssim'] - ref['ssim']:+.3f}; SSIM against the preview {same:.3f}",
                  flush=True)
    return 0


def pairs_mode(args) -> int:
    import dataclasses


    from nst_core import Tuning

    size = 64 if args.quick else args.size
    histories = [50, 5] if args.quick else args.histories
    for photo, painting in PAIRS[: 1 if args.quick else args.pairs]:
        rows = []
        for history in histories:
            settings = _settings(photo, painting, size,
                                 **({"iterations": 4} if args.quick else {}))
            tuning = dataclasses.replace(Tuning(precision=FP32), lbfgs_history=history)
            run, result, seconds = _run(settings, tuning)
            judged = Judge(settings.content, settings.styles[0], run.output_size)(result.image)
            row = {"size": size, "photo": photo, "pairs": history, "seconds": round(seconds, 1),
                   "iterations": result.iterations, **{k: round(v, 5) for k, v in judged.items()}}
            rows.append(row)
            print(json.dumps(row), flush=True)
        ref = rows[0]
        for row in rows[1:]:
            print(f"{photo:14s} {row['pairs']} pairs against {ref['pairs']}: gram "
                  f"{row['gram'] / ref['gram']:.3f} adain {row['adain'] / ref['adain']:.3f} "
                  f"content {row['content'] / ref['content']:.3f} ssim "
                  f"{row['ssim'] - ref['ssim']:+.4f} -> "
                  f"{'same picture' if same_picture(row, ref) else 'DIFFERENT'}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("compare", "large", "pace", "stroke", "pairs"))
    ap.add_argument("--histories", type=int, nargs="+", default=[50, 12, 5])
    ap.add_argument("--print-scales", type=int, default=0,
                    help="stroke: the prints' number of scales (0: the default)")
    ap.add_argument("--strokes-at", type=int, default=None,
                    help="stroke: the pictures' strokes_at (default: the preview's size; 0: "
                         "off)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 768])
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--pairs", type=int, default=len(PAIRS))
    ap.add_argument("--save-dir")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--max-memory", type=float, default=0.0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    return {"compare": compare, "large": large, "pace": pace_mode, "stroke": stroke,
            "pairs": pairs_mode}[
        args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
