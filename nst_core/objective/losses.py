"""The loss terms of Gatys, Ecker & Bethge (2016), "Image Style Transfer Using Convolutional
Neural Networks", CVPR, and "A Neural Algorithm of Artistic Style", arXiv:1508.06576.

Departure from the paper: each term is divided by the size of its target (a relative squared
error). That makes the weights independent of the VGG19 weights' source (Caffe features are
about 50x larger than torchvision's), of the layer's depth and of the image size, so one set of
defaults works for all of them.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

_EPS = 1e-8


class _Gram(torch.autograd.Function):
    """G = F F^T / n with a one-product backward: G is symmetric, so dL/dF = (dG + dG^T) F / n,
    where autograd would spend two products. Works on either memory layout without copying:
    channels-last features are read as (B, N, C) and G = F^T F."""

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:
        b, c, h, w = features.shape
        n = c * h * w
        last = features.is_contiguous(memory_format=torch.channels_last) and c > 1
        if last:
            f = features.permute(0, 2, 3, 1).reshape(b, h * w, c)  # (B, N, C), a view
            g = torch.bmm(f.transpose(1, 2), f)
        else:
            f = features.reshape(b, c, h * w)  # (B, C, N)
            g = torch.bmm(f, f.transpose(1, 2))
        ctx.save_for_backward(f)
        ctx.shape, ctx.n, ctx.last = (b, c, h, w), n, last
        return g / n  # (B, C, C)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        b, c, h, w = ctx.shape
        sym = (grad + grad.transpose(1, 2)) / ctx.n
        if ctx.last:
            return torch.bmm(f, sym).reshape(b, h, w, c).permute(0, 3, 1, 2)  # channels-last
        return torch.bmm(sym, f).reshape(b, c, h, w)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (B, C, H, W) features, normalized by their size: (B, C, C).

    G[b, i, j] = sum_k F[b, i, k] F[b, j, k] / (C H W), with k over the H*W positions."""
    return _Gram.apply(features)


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((x - target)^2) / mean(target^2): 0 when equal, 1 when x is 0."""
    return (x - target).pow(2).mean() / (target.pow(2).mean() + _EPS)


class ContentLoss(nn.Module):
    """Relative squared error between features and the content image's features. Without a
    fixed target (instant-style training, where every batch brings its own photos) the target
    is given with each call."""

    def __init__(self, target: torch.Tensor | None):
        super().__init__()
        self.register_buffer("target", None if target is None else target.detach())

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        target = self.target if target is None else target
        if target is None:
            raise ValueError("this content loss has no fixed target; pass one")
        return relative_mse(features, target)


class StyleLoss(nn.Module):
    """Relative squared error between Gram matrices and a target Gram matrix.

    With several style images the target is their blend: sum_s w_s G_s (weights sum to 1)."""

    def __init__(self, target_gram: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target_gram.detach())

    @classmethod
    def blended(cls, style_features: Sequence[torch.Tensor], weights: Sequence[float]) -> "StyleLoss":
        target = sum(w * gram(f) for f, w in zip(style_features, weights))
        return cls(target)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return relative_mse(gram(features), self.target)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference between neighbouring pixels, (B, C, H, W).

    sum((x[i+1, j] - x[i, j])^2) / (C (H-1) W) + sum((x[i, j+1] - x[i, j])^2) / (C H (W-1))."""
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def grid_pattern(image: torch.Tensor, period: int) -> torch.Tensor:
    """The energy of the pattern that repeats every `period` pixels in step with the pixel
    grid: the picture cut into period x period cells, the mean cell (its "motif", one value
    per place in the cell), and the variance of that motif over its places, summed over
    channels, averaged over the batch. A picture with no such pattern has a flat mean cell
    (its edges and strokes fall anywhere in a cell, and average out); a network whose strides
    multiply to `period` paints one motif into every cell of a flat area, and scores high."""
    b, c, h, w = image.shape
    h, w = h - h % period, w - w % period
    cells = torch.nn.functional.pixel_unshuffle(image[..., :h, :w], period)
    motif = cells.mean(dim=(2, 3)).view(b, c, period * period)
    return motif.var(dim=2, unbiased=False).sum(dim=1).mean()
