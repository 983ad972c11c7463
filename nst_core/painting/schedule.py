"""The coarse-to-fine schedule: which sizes a still picture is painted at, how the iterations
are shared between them, and how each finer scale starts from the coarser result."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nst_core.media.images import fit_long_side
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning


@dataclass(frozen=True)
class Scale:
    size: tuple[int, int]  # (w, h)
    iterations: int


def plan_scales(settings: TransferSettings, content_size: tuple[int, int],
                tuning: Tuning = Tuning()) -> list[Scale]:
    """Sizes and iterations of each scale, coarse to fine. Each scale is half the next; each
    gets `tuning.coarse_ratio` times the iterations of the next finer one, and every scale at
    least one."""
    w, h = content_size
    longs = [settings.size]
    if settings.multiscale:
        for k in range(1, settings.scales):
            side = round(settings.size / 2**k)
            if side < tuning.min_scale_side:
                break
            longs.insert(0, side)
    n = min(len(longs), settings.iterations)
    longs = longs[-n:]
    shares = [tuning.coarse_ratio ** (n - 1 - i) for i in range(n)]
    counts = [max(1, int(settings.iterations * sh / sum(shares))) for sh in shares]
    counts[-1] += settings.iterations - sum(counts)  # rounding goes to the finest scale
    while counts[-1] < 1:  # many tiny scales: take back from the coarsest that can spare
        j = max(range(n - 1), key=lambda k: counts[k])
        counts[j] -= 1
        counts[-1] += 1
    return [Scale(fit_long_side(w, h, side), c) for side, c in zip(longs, counts)]


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 3, h, w) -> (1, 3, *size) with size = (H, W), bicubic."""
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False)


def start_from_coarser(previous: torch.Tensor, content: torch.Tensor,
                       carry_detail: bool = True) -> torch.Tensor:
    """The start of a finer scale: the coarser scale's result upsampled to `content`'s size,
    plus (with `carry_detail`) the detail of the photo that the coarser size could not hold:
    the photo minus its own downsampled-and-upsampled copy. A coarser result that equals the
    downsampled photo thus gives back the photo itself. Not clamped."""
    size = tuple(content.shape[-2:])
    x = upsample(previous, size)
    if carry_detail:
        coarse = F.interpolate(content, size=previous.shape[-2:], mode="area")
        x = x + (content - upsample(coarse, size))
    return x
