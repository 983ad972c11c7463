"""Style in regions: each painting's Gram matrices taken over its own part of the picture, after
Gatys et al. (2017), "Controlling Perceptual Factors in Neural Style Transfer" (spatial control).

A painting's *guide* g(p) in [0, 1] says how much pixel p belongs to it. Its guided Gram matrix
is the guide-weighted mean of the features' outer products,

    G_g = sum_p g(p) F(p) F(p)^T / (C sum_p g(p)),

so a small region's statistics count as fully as a large one's (normalised by its area, unlike a
grey mask multiplied into the features). Its term is weighted by the region's share of the
picture, mean(g): the pull on a feature at p is then g(p)/N from every region, as a painting
covering the whole picture pulls 1/N, so a region is painted as strongly as a whole picture.

The guides: where several paintings' masks overlap, their blend weights share the pixel; where
none reaches, no style pulls and the picture keeps the photo. Each guide follows the network to
every style layer (`propagate`): 2x2 average pooling at each pooling, and at each 3x3
convolution "inside" shrinks it by one position (a feature counts for a region only where all it
sees lies there, so no style leaks across the border), "all" grows it, "average" keeps it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nst_core.media.masks import mask_tensor
from nst_core.networks.layers import LAYER_INDEX, LAYER_NAMES
from nst_core.objective.losses import gram, relative_mse

#: How a guide follows the network (benchmarks/regions.py measures them).
METHODS = ("inside", "average", "all")
#: a region smaller than this share of a layer's positions is left out of that layer
EMPTY = 1e-4


def region_guides(masks: Sequence[torch.Tensor | None], blend: Sequence[float]
                  ) -> list[torch.Tensor]:
    """Each painting's guide, (1, 1, H, W): its mask where only it reaches; where masks overlap,
    the covered amount (the largest mask there) shared by the blend weights. A missing mask
    (None) is the whole picture. At least one mask must be given."""
    shape = next(m.shape for m in masks if m is not None)
    device = next(m.device for m in masks if m is not None)
    full = [torch.ones(shape, device=device) if m is None else m.clamp(0, 1) for m in masks]
    stack = torch.cat(full)  # (S, 1, H, W)
    shares = stack * torch.tensor(list(blend), device=device).view(-1, 1, 1, 1)
    total = shares.sum(0, keepdim=True)
    cover = stack.amax(0, keepdim=True)
    guides = torch.where(total > 0, cover * shares / total.clamp_min(1e-12),
                         torch.zeros_like(shares))
    return list(guides.split(1))


def guides_at(masks: Sequence[np.ndarray | None], size: tuple[int, int], soft: float,
              blend: Sequence[float], device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Each painting's guide at a picture of (w, h) = `size`, from its mask (None: the whole
    picture; nst_core.media.masks), the borders blurred by `soft` percent of the long side."""
    return region_guides([None if m is None else mask_tensor(m, size, soft, device)
                          for m in masks], blend)


def propagate(guide: torch.Tensor, layers: Sequence[str], method: str = "inside"
              ) -> dict[str, torch.Tensor]:
    """The guide (1, 1, H, W) at each of `layers`' resolutions, as the network shrinks the
    picture (its poolings floor, so do these)."""
    if method not in METHODS:
        raise ValueError(f"unknown guide method {method!r}; one of {', '.join(METHODS)}")
    wanted = set(layers)
    last = max(LAYER_INDEX[n] for n in layers)
    out: dict[str, torch.Tensor] = {}
    g = guide
    for name in LAYER_NAMES[: last + 1]:
        if name.startswith("conv"):
            if method == "inside":
                g = -F.max_pool2d(-g, 3, stride=1, padding=1)
            elif method == "all":
                g = F.max_pool2d(g, 3, stride=1, padding=1)
        elif name.startswith("pool"):
            g = F.avg_pool2d(g, 2)
        if name in wanted:
            out[name] = g
    return out


def guided_gram(features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """G_g of (1, C, h, w) features with a (1, 1, h, w) guide: (1, C, C)."""
    h, w = features.shape[-2:]
    weighted = features * guide.sqrt().to(features.dtype)
    return gram(weighted) * (h * w / guide.sum().clamp_min(1e-12))


@dataclass
class Region:
    """One painting's part of the style term: its Gram targets, its guide at every style layer
    and its share of the picture there (the guide's mean, its term's weight)."""

    targets: dict[str, torch.Tensor]
    guides: dict[str, torch.Tensor]
    shares: dict[str, float]


def make_regions(style_grams: Sequence[dict[str, torch.Tensor]],
                 guides: Sequence[torch.Tensor], layers: Sequence[str], method: str
                 ) -> list[Region]:
    """One `Region` per painting (its Gram targets and its full-size guide)."""
    out = []
    for targets, guide in zip(style_grams, guides):
        at = propagate(guide, layers, method)
        out.append(Region(dict(targets), at, {n: float(g.mean()) for n, g in at.items()}))
    return out


def region_style(feats: dict[str, torch.Tensor], regions: Sequence[Region],
                 layers: Sequence[str], layer_weights: Sequence[float]) -> torch.Tensor:
    """The style term over regions: sum over layers and paintings of the layer weight, the
    region's share and the relative Gram error inside the region."""
    total = None
    for n, lw in zip(layers, layer_weights):
        for r in regions:
            share = r.shares[n]
            if share < EMPTY:
                continue
            term = lw * share * relative_mse(guided_gram(feats[n], r.guides[n]), r.targets[n])
            total = term if total is None else total + term
    if total is None:  # every region vanished at every layer: no style to pull
        return next(iter(feats.values())).new_zeros(()).float()
    return total
