"""Regions: does each painting stay in its region, and does the rest keep the photo?

    .venv/bin/python benchmarks/regions.py                      # 256 px, every case
    .venv/bin/python benchmarks/regions.py --size 384 --save-dir pictures
    .venv/bin/python benchmarks/regions.py --quick              # one tiny run, a smoke test

Two cases, each rendered with the default settings (and the engine's default precision):

half  Tübingen with The Starry Night masked to the left half (`--mask left.png`), against the
      whole-picture render. On the left (a band of an eighth of the width around the border
      left out) the Gram distance to the painting (benchmarks/judge.py, on the crop), which should
      be within 25% of the whole render's; on the right the blurred-luminance SSIM to the photo
      (above 0.8) and the Gram distance to the painting (far above the left's); the leak: the
      mean pixel change from the photo in the sixteenth of the width right of the border, and
      in the far right. Once per way a guide follows the network (`Tuning.region_guides`:
      inside, average, all) and once as neural-style-tf does it ("multiply": the grey mask
      multiplied into the features, the Gram matrix divided by the whole picture's size, every
      region weighted 1).
sky   Two photos, each with two paintings: the sky (a mask found by colour) in one, the ground
      in the other. Each region's guided Gram distance to its own painting against the
      whole-picture render with that painting (the same region measured), and to the other
      painting (what leaked in).
cost  Seconds per iteration at the size, single scale, with no region, one (the left half) and
      two (left and right halves, two paintings), each after two warm-up iterations.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from common import CONTENT_LAYER, SAMPLES, STYLE_LAYERS, Judge  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

METHODS = ("inside", "average", "all", "multiply")
SKIES = (("tubingen.jpg", "starry_night.jpg", "great_wave.jpg"),
         ("rocket.jpg", "starry_night.jpg", "the_scream.jpg"))


def render(photo: str, paintings: list[str], masks: list[str], size: int, method: str,
           iterations: int | None = None) -> tuple[np.ndarray, float]:
    from nst_core import StillJob, TransferSettings, Tuning

    settings = TransferSettings(content=photo, styles=tuple(paintings), masks=tuple(masks),
                                size=size)
    if iterations:
        settings = settings.replace(iterations=iterations)
    guides = {"multiply": "average", "whole": "inside"}.get(method, method)
    t0 = time.perf_counter()
    with (_multiply() if method == "multiply" else contextlib.nullcontext()):
        result = StillJob(settings, Tuning(region_guides=guides)).prepare().run()
    return result.image, time.perf_counter() - t0


@contextlib.contextmanager
def _multiply():
    """neural-style-tf's masked style: the features times the mask, Gram over the whole
    picture's positions, every region's term weighted 1."""
    from nst_core.objective import perceptual, regions
    from nst_core.objective.losses import gram

    made, guided = perceptual.make_regions, regions.guided_gram

    def make(*a, **k):
        out = made(*a, **k)
        for r in out:
            r.shares = {n: 1.0 for n in r.shares}
        return out

    perceptual.make_regions = make
    regions.guided_gram = lambda f, g: gram(f * g.to(f.dtype))
    try:
        yield
    finally:
        perceptual.make_regions, regions.guided_gram = made, guided


def crop_judge(photo_rgb: np.ndarray, painting: str, picture: np.ndarray,
               box: tuple[int, int]) -> dict[str, float]:
    """The judge's measures of columns box[0]:box[1] of the picture against the photo's."""

    a, b = box
    part, photo = picture[:, a:b].copy(), photo_rgb[:, a:b].copy()
    return Judge(photo, painting, (part.shape[1], part.shape[0]))(part)


def half_case(size: int, methods, save: Path | None, iterations: int | None) -> list[dict]:
    from nst_core.media.images import load_image, resize

    photo, painting = str(SAMPLES / "content" / "tubingen.jpg"), \
        str(SAMPLES / "style" / "starry_night.jpg")
    src = load_image(photo)
    mask = np.zeros(src.rgb.shape[:2], np.uint8)
    mask[:, : src.size[0] // 2] = 255
    mask_path = (save or Path("/tmp")) / "left.png"
    Image.fromarray(mask).save(mask_path)
    rows = []
    for method in ("whole", *methods):
        masks = [] if method == "whole" else [str(mask_path)]
        picture, seconds = render(photo, [painting], masks, size, method, iterations)
        h, w = picture.shape[:2]
        photo_rgb = resize(src.rgb, (w, h))
        band, mid = w // 16, w // 2
        left = crop_judge(photo_rgb, painting, picture, (0, mid - band))
        right = crop_judge(photo_rgb, painting, picture, (mid + band, w))
        change = np.abs(picture.astype(float) - photo_rgb).mean(axis=(0, 2))
        rows.append({"case": "half", "method": method, "seconds": round(seconds, 1),
                     "left_gram": left["gram"], "right_gram": right["gram"],
                     "right_ssim": right["ssim"],
                     "leak_band": float(change[mid: mid + band].mean()),
                     "far_right": float(change[mid + 2 * band:].mean())})
        if save:
            Image.fromarray(picture).save(save / f"half_{method}.png")
    whole = rows[0]["left_gram"]
    print(f"\nhalf: Tübingen × The Starry Night at {size} px, left half masked")
    print("method    left gram (÷ whole)   right gram   right SSIM   leak band / far right  s")
    for r in rows:
        r["left_over_whole"] = r["left_gram"] / whole
        print(f"{r['method']:9} {r['left_gram']:.4f} ({r['left_over_whole']:.2f})       "
              f"{r['right_gram']:.4f}       {r['right_ssim']:.3f}        "
              f"{r['leak_band']:5.1f} / {r['far_right']:5.1f}        {r['seconds']:.0f}")
    return rows


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """The sky of a landscape photo: blue-dominant pixels connected to the top edge, closed."""
    import cv2

    f = rgb.astype(np.int16)
    blue = (f[..., 2] > f[..., 0] + 25) & (f[..., 2] > f[..., 1])
    blue = cv2.morphologyEx(blue.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, labels = cv2.connectedComponents(blue)
    top = set(np.unique(labels[0])) - {0}
    sky = np.isin(labels, list(top))
    return (sky * 255).astype(np.uint8)


def region_distance(net, picture: np.ndarray, guide: np.ndarray, painting: str) -> float:
    """The judge's Gram distance inside a region: guided Gram matrices of the picture (the
    region eroded at every layer, nst_core.objective.regions) against the painting's."""

    from nst_core.media.images import fit_long_side, load_image, resize
    from nst_core.media.tensors import to_tensor
    from nst_core.objective.losses import gram
    from nst_core.objective.regions import guided_gram, propagate

    h, w = picture.shape[:2]
    art = load_image(painting)
    style = to_tensor(resize(art.rgb, fit_long_side(*art.size, max(w, h))))
    g = torch.from_numpy(guide.astype(np.float32) / 255)[None, None]
    at = propagate(g, STYLE_LAYERS, "inside")
    with torch.no_grad():
        f, s = net(to_tensor(picture)), net(style)
        total, used = 0.0, 0
        for n in STYLE_LAYERS:
            if float(at[n].sum()) < 1:
                continue
            t = gram(s[n])
            total += float(((guided_gram(f[n], at[n]) - t) ** 2).sum() / (t ** 2).sum())
            used += 1
    return total / max(1, used)


def sky_case(size: int, method: str, save: Path | None, iterations: int | None) -> list[dict]:

    from nst_core.media.images import load_image, resize
    from nst_core.networks.vgg import VGGFeatures

    net = VGGFeatures(STYLE_LAYERS + (CONTENT_LAYER,), winograd=False)
    rows = []
    for photo_name, sky_art, ground_art in SKIES:
        photo = str(SAMPLES / "content" / photo_name)
        arts = [str(SAMPLES / "style" / sky_art), str(SAMPLES / "style" / ground_art)]
        src = load_image(photo)
        sky = sky_mask(src.rgb)
        folder = save or Path("/tmp")
        paths = [folder / f"{Path(photo_name).stem}_sky.png",
                 folder / f"{Path(photo_name).stem}_ground.png"]
        Image.fromarray(sky).save(paths[0])
        Image.fromarray(255 - sky).save(paths[1])
        regional, seconds = render(photo, arts, [str(p) for p in paths], size, method, iterations)
        wholes = [render(photo, [a], [], size, "whole", iterations)[0] for a in arts]
        h, w = regional.shape[:2]
        masks = [resize(sky, (w, h)), resize(255 - sky, (w, h))]
        for k, (where, art) in enumerate(zip(("sky", "ground"), arts)):
            other = arts[1 - k]
            rows.append({
                "case": "sky", "photo": photo_name, "region": where, "painting": Path(art).stem,
                "own": region_distance(net, regional, masks[k], art),
                "own_whole": region_distance(net, wholes[k], masks[k], art),
                "other": region_distance(net, regional, masks[k], other),
                "seconds": round(seconds, 1)})
        if save:
            Image.fromarray(regional).save(save / f"sky_{Path(photo_name).stem}.png")
    print(f"\nsky: two paintings, one for the sky and one for the ground ({method}, {size} px)")
    print("photo          region  painting         own / whole render's   ÷      other painting")
    for r in rows:
        r["own_over_whole"] = r["own"] / r["own_whole"]
        print(f"{r['photo']:14} {r['region']:7} {r['painting']:16} {r['own']:.4f} / "
              f"{r['own_whole']:.4f}      {r['own_over_whole']:.2f}   {r['other']:.4f}")
    return rows


def cost_case(size: int, iterations: int | None) -> list[dict]:
    from nst_core import StillJob, TransferSettings
    from nst_core.media.images import load_image

    photo = str(SAMPLES / "content" / "tubingen.jpg")
    arts = [str(SAMPLES / "style" / "starry_night.jpg"), str(SAMPLES / "style" / "great_wave.jpg")]
    src = load_image(photo)
    left = np.zeros(src.rgb.shape[:2], np.uint8)
    left[:, : src.size[0] // 2] = 255
    paths = [Path("/tmp/cost_left.png"), Path("/tmp/cost_right.png")]
    Image.fromarray(left).save(paths[0])
    Image.fromarray(255 - left).save(paths[1])
    steps = iterations or 10
    rows = []
    for name, styles, masks in (("none", arts[:1], ()), ("one", arts[:1], (str(paths[0]),)),
                                ("two", arts, tuple(str(p) for p in paths))):
        settings = TransferSettings(content=photo, styles=tuple(styles), masks=masks, size=size,
                                    iterations=steps + 2, multiscale=False, early_stop=0.0)
        run = StillJob(settings).prepare()
        times = []
        t = time.perf_counter()
        for event in run.events():
            if type(event).__name__ == "Progress":
                now = time.perf_counter()
                times.append(now - t)
                t = now
        per = float(np.mean(times[2:]))
        rows.append({"case": "cost", "regions": name, "seconds_per_iteration": per})
    print(f"\ncost: seconds per iteration at {size} px, single scale")
    for r in rows:
        print(f"{r['regions']:5} regions  {r['seconds_per_iteration']:.3f} s  "
              f"({r['seconds_per_iteration'] / rows[0]['seconds_per_iteration']:.2f}x)")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--cases", nargs="+", default=["half", "sky"],
                   choices=("half", "sky", "cost"))
    p.add_argument("--save-dir", type=Path)
    p.add_argument("--quick", action="store_true", help="64 px, 4 iterations: a smoke test")
    args = p.parse_args(argv)
    size, iterations = (64, 4) if args.quick else (args.size, None)
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    if "half" in args.cases:
        half_case(size, args.methods, args.save_dir, iterations)
    if "sky" in args.cases:
        sky_case(size, args.methods[0] if args.methods[0] != "multiply" else "inside",
                 args.save_dir, iterations)
    if "cost" in args.cases:
        cost_case(size, iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
