"""A feed-forward style network applied to a picture (Johnson, Alahi & Fei-Fei 2016): one
forward pass, in tiles sharing the whole picture's statistics when it would not fit, and the
model files loaded once per process. What the apply, camera and video jobs and a training's
preview call."""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from nst_core.base.errors import SettingsError
from nst_core.media import color
from nst_core.media.tensors import to_tensor, to_uint8
from nst_core.networks.model_file import InstantModel, load_model
from nst_core.networks.transformer import TransformerNet

#: "style": the painting's colours; "keep": the photo's.
ColorChoice = Literal["style", "keep"]

#: Pictures above this many pixels go through the network in tiles (the whole-picture
#: statistics are measured on a copy of this size first). About 1.4 GB of activations at the
#: default width; a 4K frame (8.3 MP) still goes in one piece.
TILE_PIXELS = 12_000_000
TILE_OVERLAP = 64


def _ramp(n: int, overlap: int, start: bool, end: bool) -> torch.Tensor:
    """Blend weights along one side of a tile: rising over `overlap` pixels where another tile
    overlaps it, flat at the picture's border."""
    w = torch.ones(n)
    r = min(overlap, n // 2)
    if r > 0:
        up = (torch.arange(r, dtype=torch.float32) + 0.5) / r
        if start:
            w[:r] = up
        if end:
            w[n - r:] = up.flip(0)
    return w


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    out = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(out))


def forward_tiled(net: TransformerNet, x: torch.Tensor, tile: int,
                  overlap: int = TILE_OVERLAP, stats_pixels: int = TILE_PIXELS) -> torch.Tensor:
    """The network's output for a picture too large to go through at once: instance-norm
    statistics are measured on the whole picture (downscaled to `stats_pixels`), then tiles of
    `tile` px, overlapping by `overlap`, go through with those statistics and are blended with
    linear ramps, so no seam shows."""
    _, _, h, w = x.shape
    scale = min(1.0, math.sqrt(stats_pixels / (h * w)))
    small = x if scale >= 1 else F.interpolate(
        x, size=(max(8, round(h * scale)), max(8, round(w * scale))), mode="area")
    out = torch.zeros_like(x)
    weight = torch.zeros((1, 1, h, w), dtype=x.dtype, device=x.device)
    try:
        with net.norm_mode("record"):
            net(small)
        del small
        with net.norm_mode("fixed"):
            ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
            for y0 in ys:
                for x0 in xs:
                    y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
                    piece = net(x[..., y0:y1, x0:x1])
                    wy = _ramp(y1 - y0, overlap, y0 > 0, y1 < h).to(x)
                    wx = _ramp(x1 - x0, overlap, x0 > 0, x1 < w).to(x)
                    m = wy.view(1, 1, -1, 1) * wx.view(1, 1, 1, -1)
                    out[..., y0:y1, x0:x1] += piece * m
                    weight[..., y0:y1, x0:x1] += m
    finally:
        net.clear_stats()
    return out / weight


def stylize(net: TransformerNet, rgb: np.ndarray, device: torch.device | str = "cpu",
            strength: float = 1.0, colors: str = "style",
            tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """One picture through a model: (H, W, 3) uint8 in, the same size out.

    `strength` blends the painting over the photo (0: the photo, 1: the model's picture);
    `colors="keep"` keeps the photo's colours (the picture's luminance on the photo's
    chroma, as the optimization's luminance mode does)."""
    device = torch.device(device)
    net = net.to(device)
    if device.type in ("cpu", "cuda"):
        net = net.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        x = to_tensor(rgb, device)
        if device.type in ("cpu", "cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        h, w = x.shape[-2:]
        if h * w > tile_pixels:
            y = forward_tiled(net, x, tile=max(256, int(math.sqrt(tile_pixels))),
                              stats_pixels=tile_pixels)
        else:
            y = net(x)
        if colors == "keep":
            y = color.combine_luminance(y, x)
        if strength < 1.0:
            y = torch.lerp(x, y, float(strength))
        return to_uint8(y)


@functools.lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float, size: int) -> InstantModel:
    return load_model(path)


def cached_model(path: str | os.PathLike) -> InstantModel:
    """A model file loaded once per process (again when the file changes)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return load_model(p)  # says why in one line
    return _cached_model(str(p.resolve()), st.st_mtime, st.st_size)


def check_strength(strength: float) -> None:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0.0 <= strength <= 1.0:
        raise SettingsError("strength", f"must be between 0 and 1 (got {strength!r})")


def check_colors(colors: str) -> None:
    if colors not in ("style", "keep"):
        raise SettingsError("color", f"must be style or keep (got {colors!r})")


