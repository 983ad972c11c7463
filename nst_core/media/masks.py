"""Region masks: where a painting goes in the picture (white), where it does not (black), and
where it goes partly (grey). A mask is any image file; a transparent part counts as black, so
a brush stroke saved on a transparent layer is its region. What cannot be used raises an
`ImageError` with a one-line reason, before any work starts.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageFilter

from nst_core.base.errors import ImageError
from nst_core.media.images import load_image

#: A mask whose brightest pixel is at most this (of 255) gives its painting no region.
BLACK = 8


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask file as an (H, W) uint8 array (255: this painting), or `ImageError`."""
    img = load_image(path)
    # the picture was laid over white; a transparent part is "not this painting"
    grey = np.asarray(Image.fromarray(img.rgb).convert("L"), dtype=np.int16)
    if img.alpha is not None:
        grey = grey - (255 - img.alpha.astype(np.int16))
    mask = np.clip(grey, 0, 255).astype(np.uint8)
    if int(mask.max()) <= BLACK:
        raise ImageError(img.path, "the mask is all black, so its painting would go nowhere; "
                                   "paint white where the painting goes")
    return mask


def mask_tensor(mask: np.ndarray, size: tuple[int, int], soft: float,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """`mask` scaled to (w, h) = `size` (whatever the mask's own size), its borders blurred by
    `soft` percent of the long side: (1, 1, h, w) float32 in [0, 1]."""
    im = Image.fromarray(mask, "L")
    if im.size != tuple(size):
        im = im.resize(size, Image.Resampling.BOX if im.width > size[0]
                       else Image.Resampling.BILINEAR)
    radius = soft / 100.0 * max(size)
    if radius > 0.3:
        im = im.filter(ImageFilter.GaussianBlur(radius))
    arr = np.asarray(im, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy())[None, None].to(device)
