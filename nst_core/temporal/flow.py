"""Optical flow between video frames, warping along it, and where the warp can be trusted
(Ruder, Dosovitskiy & Brox 2016), plus the flicker measure of Lai et al. (2018).

Conventions: `flow(a, b)` is the (H, W, 2) field with a(p) ≈ b(p + flow(p)). To carry the
previous frame's picture into the current frame, take the *backward* flow w = flow(current,
previous) and `warp(previous_picture, w)`: each pixel p of the current frame reads the previous
picture at p + w(p).
"""
from __future__ import annotations

import numpy as np

#: Ruder et al.'s thresholds: forward-backward consistency and motion boundaries.
CONSISTENCY = (0.01, 0.5)
BOUNDARY = (0.01, 0.002)


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from RGB frame `a` to `b` (same size), OpenCV's DIS at its medium preset:
    (H, W, 2) float32 of (dx, dy) with a(p) ≈ b(p + flow(p))."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(a), _gray(b), None)


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """`image` (H, W) or (H, W, C), read at p + field(p) with bilinear interpolation (the border
    pixel is repeated outside): warp(b, flow(a, b)) ≈ a. Keeps the dtype."""
    import cv2

    h, w = field.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def reliability(backward: np.ndarray, forward: np.ndarray, blur: float = 1.0) -> np.ndarray:
    """Where warping the previous frame into the current one can be trusted, (H, W) float32 in
    [0, 1], after Ruder et al. 2016. `backward` is w = flow(current, previous), `forward`
    ŵ = flow(previous, current). A pixel p is 0 where

    * it was hidden in the previous frame (disoccluded): with q = p + w(p),
      |w(p) + ŵ(q)|² > 0.01 (|w(p)|² + |ŵ(q)|²) + 0.5;
    * it lies on a motion boundary: |∇u|² + |∇v|² > 0.01 |w|² + 0.002 (u, v: w's components);
    * q falls outside the previous frame;

    and 1 elsewhere, then lightly blurred so that the loss has no hard seams."""
    import cv2

    h, w = backward.shape[:2]
    fw_at_q = warp(forward, backward)
    total = backward + fw_at_q
    a, b = CONSISTENCY
    sq = lambda v: (v ** 2).sum(axis=-1)
    occluded = sq(total) > a * (sq(backward) + sq(fw_at_q)) + b
    gu = np.stack(np.gradient(backward[..., 0]), axis=-1)
    gv = np.stack(np.gradient(backward[..., 1]), axis=-1)
    c, d = BOUNDARY
    boundary = sq(gu) + sq(gv) > c * sq(backward) + d
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    qx, qy = xs + backward[..., 0], ys + backward[..., 1]
    outside = (qx < 0) | (qx > w - 1) | (qy < 0) | (qy > h - 1)
    mask = (~(occluded | boundary | outside)).astype(np.float32)
    if blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
        mask[outside | occluded] = 0.0  # blurring never lends trust to an unmatched pixel
    return mask


def trusted_flow(current: np.ndarray, previous: np.ndarray,
                 max_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The backward flow w = flow(current, previous) and its `reliability`, both (H, W, ...) at
    the frames' size. With `max_side`, larger frames are measured shrunk to that long side and
    the field (its vectors scaled to match) and the trust map are enlarged: motion is smooth
    at that scale, and the flow of a 1080p frame at 960 px costs a quarter."""
    import cv2

    h, w = current.shape[:2]
    shrink = bool(max_side) and max(h, w) > max_side
    cur, prev = current, previous
    if shrink:
        small = (max(1, round(w * max_side / max(h, w))), max(1, round(h * max_side / max(h, w))))
        cur, prev = (cv2.resize(np.ascontiguousarray(x), small, interpolation=cv2.INTER_AREA)
                     for x in (current, previous))
    back = flow(cur, prev)
    trust = reliability(back, flow(prev, cur))
    if not shrink:
        return back, trust
    grow = np.array([w / small[0], h / small[1]], np.float32)
    return (cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR) * grow,
            cv2.resize(trust, (w, h), interpolation=cv2.INTER_LINEAR))


def warping_error(previous_out: np.ndarray, current_out: np.ndarray,
                  previous_in: np.ndarray, current_in: np.ndarray) -> float:
    """Lai et al. 2018: the mean squared difference, over reliable pixels, between the current
    output and the previous output warped by the *input* frames' flow. Images (H, W, 3) uint8 or
    floats in [0, 1]; returns a number on the [0, 1] scale."""
    back = flow(current_in, previous_in)
    fwd = flow(previous_in, current_in)
    mask = reliability(back, fwd, blur=0) > 0.5
    if not mask.any():
        return 0.0
    prev = _unit(previous_out)
    cur = _unit(current_out)
    diff = ((cur - warp(prev, back)) ** 2).mean(axis=-1)
    return float(diff[mask].mean())


def _unit(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)


def steady_blend(current: np.ndarray, warped: np.ndarray, weight: np.ndarray,
                 sigma: float = 2.0) -> np.ndarray:
    """Pull `current` toward `warped` by `weight` (H, W) in [0, 1] without washing out texture.

    A plain mix of two pictures whose brush strokes differ has less contrast than either (two
    unrelated textures mixed half and half keep about 70% of it), so the painting's texture
    fades frame after frame. Here the mix's detail (what a Gaussian blur of `sigma` removes)
    is scaled back, per pixel and channel, to the local contrast of `current`: where the two
    agree nothing changes, where they differ the strokes keep their strength. Float arrays on
    the 0..255 scale in, the same out, within 0..255."""
    import cv2

    a = weight.astype(np.float32)[..., None]
    cur = current.astype(np.float32)
    mix = cur + a * (warped.astype(np.float32) - cur)
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), sigma)  # noqa: E731
    mean_mix, mean_cur = blur(mix), blur(cur)
    var_mix = np.maximum(blur(mix * mix) - mean_mix ** 2, 0.0)
    var_cur = np.maximum(blur(cur * cur) - mean_cur ** 2, 0.0)
    gain = np.clip(np.sqrt((var_cur + 1.0) / (var_mix + 1.0)), 1.0, 2.0)
    # Clipped evenly about the local mean: clipping at 0 or 255 alone would brighten dark
    # strokes (and darken light ones) a little more every frame.
    room = np.minimum(mean_mix, 255.0 - mean_mix).clip(0.0, None)
    return mean_mix + np.clip((mix - mean_mix) * gain, -room, room)
