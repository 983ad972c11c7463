"""The objective of a picture too large to go through the network whole, evaluated tile by
tile, with the whole picture's loss and gradient (docs/decisions/tiles.md).

A Gram matrix is a sum over positions, so the whole picture's is the sum of its tiles' F Fᵀ;
the content and total-variation terms are sums over positions too. Each tile owns a part of the
picture and goes through the network with a margin as wide as the deepest layer's reach
(nst_core.networks.layers.tile_margin), so the features of the part it owns equal the whole
picture's; the margins' own features are dropped. One evaluation makes two passes:

1. without a graph, every tile's features: the whole picture's Gram matrices and content error,
   hence the loss and its gradient with respect to each Gram matrix, dL/dG;
2. with a graph, one tile at a time: the surrogate sum <dL/dG, F_t F_tᵀ / n> + the tile's
   content error has the same gradient on the tile's pixels as the whole loss, from the
   features the tile owns; its backward adds into the picture's gradient, margins included.

So the picture optimized in tiles is the picture optimized whole, to float rounding: no tile is
ever judged alone (what gives other programs their seams and colour drift), and only one tile's
activations are in memory at a time. The price is a forward pass more per step and the margins'
work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from nst_core.networks.layers import stride, tile_margin
from nst_core.objective.losses import _EPS, gram, relative_mse, tv_loss
from nst_core.objective.regions import EMPTY as _REGION_EMPTY
from nst_core.objective.regions import Region

Features = dict[str, torch.Tensor]
Extract = Callable[[torch.Tensor], Features]


@dataclass(frozen=True)
class Tile:
    """A part of the picture: `inner` (y0, y1, x0, x1) is what it owns, `outer` the same with
    its margin, cut at the picture's edges. Pixel coordinates, ends exclusive."""

    inner: tuple[int, int, int, int]
    outer: tuple[int, int, int, int]

    def owned(self, features: torch.Tensor, layer_stride: int) -> torch.Tensor:
        """The positions of `features` (computed on `outer`) that this tile owns. Its parts
        start and end on the stride, except at the picture's edge, where the whole picture's
        map floors as this one does."""
        y0, y1, x0, x1 = (v // layer_stride for v in self.inner)
        oy, ox = self.outer[0] // layer_stride, self.outer[2] // layer_stride
        return features[..., y0 - oy: y1 - oy, x0 - ox: x1 - ox]

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        y0, y1, x0, x1 = self.outer
        return image[..., y0:y1, x0:x1]

    def owned_of_whole(self, whole: torch.Tensor, layer_stride: int) -> torch.Tensor:
        """The positions this tile owns of a map of the whole picture at a layer (a guide)."""
        y0, y1, x0, x1 = (v // layer_stride for v in self.inner)
        return whole[..., y0:y1, x0:x1]


def _splits(length: int, most: int, align: int) -> list[int]:
    """Cut points of [0, length) into pieces of at most `most` (a multiple of `align`), as
    even as alignment allows; every cut is a multiple of `align`."""
    pieces = max(1, -(-length // most))
    size = -(-length // pieces)
    size = -(-size // align) * align
    cuts = list(range(0, length, size))
    return cuts + [length]


def plan_tiles(size: tuple[int, int], tile: int, layers: Sequence[str]) -> list[Tile]:
    """Tiles owning at most `tile` x `tile` pixels of a (w, h) picture, with the margins
    `layers` need. The parts owned start on the deepest layer's stride, so every layer's
    features line up with the whole picture's."""
    w, h = size
    align = max(stride(n) for n in layers)
    margin = tile_margin(layers)
    most = max(align, tile // align * align)
    ys, xs = _splits(h, most, align), _splits(w, most, align)
    tiles = []
    for y0, y1 in zip(ys, ys[1:]):
        for x0, x1 in zip(xs, xs[1:]):
            outer = (max(0, y0 - margin), y1 if y1 == h else min(h, y1 + margin),
                     max(0, x0 - margin), x1 if x1 == w else min(w, x1 + margin))
            tiles.append(Tile((y0, y1, x0, x1), outer))
    return tiles


def _feature_size(size: tuple[int, int], layer: str) -> tuple[int, int]:
    """(rows, columns) of the whole (w, h) picture's features at `layer`: each pooling floors."""
    w, h = size
    s = stride(layer)
    return h // s, w // s


def _outer_sum(f: torch.Tensor) -> torch.Tensor:
    """F Fᵀ of (1, C, h, w) features over their positions, (1, C, C), unnormalised."""
    c = f.shape[1]
    flat = f.reshape(1, c, -1).float()
    return torch.bmm(flat, flat.transpose(1, 2))


def tiled_grams(extract: Extract, image: torch.Tensor, layers: Sequence[str], tile: int
                ) -> dict[str, torch.Tensor]:
    """The Gram matrices (1, C, C) of the whole `image` (1, 3, H, W) at `layers`, as
    nst_core.objective.losses.gram would give them, computed `tile` pixels at a time."""
    size = (image.shape[-1], image.shape[-2])
    sums: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for t in plan_tiles(size, tile, layers):
            feats = extract(t.crop(image))
            for n in layers:
                part = _outer_sum(t.owned(feats[n], stride(n)))
                sums[n] = part if n not in sums else sums[n] + part
            del feats
    out = {}
    for n in layers:
        rows, cols = _feature_size(size, n)
        out[n] = sums[n] / (sums[n].shape[-1] * rows * cols)
    return out


class _Known(torch.autograd.Function):
    """A loss whose value and gradient with respect to the image were computed already: its
    backward hands the gradient to the image."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, value: torch.Tensor, grad: torch.Tensor):
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * out, None, None


class TiledObjective:
    """content, style and TV against fixed targets, like nst_core.objective.perceptual's
    `Objective` and with its weights and normalisation, for a picture evaluated `tile` pixels at
    a time. `terms(image)` returns every weighted term and "total", whose backward gives the
    image the whole picture's gradient. With `regions` each painting's Gram matrices are taken
    over its own region (nst_core.objective.regions), and `style_grams` only names the layers."""

    def __init__(self, extract: Extract, content: torch.Tensor,
                 style_grams: dict[str, torch.Tensor], style_layer_weights: Sequence[float],
                 content_layers: Sequence[str], weights: dict[str, float], tile: int,
                 regions: Sequence[Region] | None = None):
        self.extract = extract
        self.style_layers = tuple(style_grams)
        self.content_layers = tuple(content_layers)
        layers = tuple(dict.fromkeys([*self.content_layers, *self.style_layers]))
        self.size = (content.shape[-1], content.shape[-2])
        self.tiles = plan_tiles(self.size, tile, layers)
        #: one Region a painting; a whole-picture style is one region without a guide
        self.regions = list(regions) if regions else [
            Region(dict(style_grams), {}, {n: 1.0 for n in self.style_layers})]
        total = sum(style_layer_weights) or 1.0
        self.layer_weights = [w / total for w in style_layer_weights]
        self.weights = dict(weights)
        # the content's features, each tile's own part of them, and each layer's mean square
        self.content_parts: list[dict[str, torch.Tensor]] = []
        squares = {n: 0.0 for n in self.content_layers}
        with torch.no_grad():
            for t in self.tiles:
                feats = self.extract(t.crop(content))
                part = {n: t.owned(feats[n], stride(n)).clone()
                        for n in self.content_layers}
                for n, f in part.items():
                    squares[n] += float(f.double().pow(2).sum())
                self.content_parts.append(part)
                del feats
        self.content_count = {n: self._count(n) for n in self.content_layers}
        self.content_scale = {n: 1.0 / (self.content_count[n] * (squares[n] / self.content_count[n]
                                                                  + _EPS))
                              for n in self.content_layers}
        # each region's weight in its Gram matrices' sums: positions, or its guide's sum
        self.style_counts = [{n: self._count(n) * (float(r.guides[n].sum()) / self._positions(n)
                                                   if r.guides else 1.0)
                              for n in self.style_layers} for r in self.regions]

    def full(self, layer: str) -> tuple[int, int]:
        return _feature_size(self.size, layer)

    def _positions(self, layer: str) -> int:
        rows, cols = self.full(layer)
        return rows * cols

    def _count(self, layer: str) -> int:
        """Elements of the whole picture's features at `layer`."""
        channels = self.content_parts[0][layer].shape[1] if layer in self.content_layers \
            else self.regions[0].targets[layer].shape[-1]
        return channels * self._positions(layer)

    def _active(self):
        """(region index, region, layer, layer weight) of every term the style has."""
        for n, lw in zip(self.style_layers, self.layer_weights):
            for i, r in enumerate(self.regions):
                if r.shares[n] >= _REGION_EMPTY:
                    yield i, r, n, lw

    @staticmethod
    def _weighted(t: Tile, r: Region, layer: str, own: torch.Tensor) -> torch.Tensor:
        """A tile's own features at `layer`, weighted by the root of the region's guide."""
        if not r.guides:
            return own
        g = t.owned_of_whole(r.guides[layer], stride(layer))
        return own * g.sqrt().to(own.dtype)

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = image.detach()
        w = self.weights
        active = list(self._active())
        # pass 1: the whole picture's Gram matrices and content error
        sums: dict[tuple[int, str], torch.Tensor] = {}
        error = 0.0
        with torch.no_grad():
            for t, part in zip(self.tiles, self.content_parts):
                feats = self.extract(t.crop(x))
                for i, r, n, _ in active:
                    own = self._weighted(t, r, n, t.owned(feats[n], stride(n)))
                    s = _outer_sum(own)
                    sums[i, n] = s if (i, n) not in sums else sums[i, n] + s
                for n in self.content_layers:
                    own = t.owned(feats[n], stride(n))
                    error += float((own - part[n]).double().pow(2).sum()) * self.content_scale[n]
                del feats
        grams = {(i, n): (sums[i, n] / self.style_counts[i][n]).requires_grad_(True)
                 for i, _, n, _ in active}
        with torch.enable_grad():
            style = sum(lw * r.shares[n] * relative_mse(grams[i, n], r.targets[n])
                        for i, r, n, lw in active)
            d_grams = torch.autograd.grad(style, list(grams.values())) if active else ()
        d_gram = dict(zip(grams, d_grams))
        if not active:
            style = x.new_zeros(())
        # pass 2: each tile's share of the gradient
        grad = torch.zeros_like(x)
        for t, part in zip(self.tiles, self.content_parts):
            piece = t.crop(x).detach().requires_grad_(True)
            with torch.enable_grad():
                feats = self.extract(piece)
                surrogate = piece.new_zeros(())
                for i, r, n, _ in active:
                    own = self._weighted(t, r, n, t.owned(feats[n], stride(n)))
                    # gram() divides by the tile's own count; the whole picture's is the count
                    scale = own.shape[1] * own.shape[2] * own.shape[3] / self.style_counts[i][n]
                    surrogate = surrogate + w["style"] * scale * (gram(own) * d_gram[i, n]).sum()
                for n in self.content_layers:
                    own = t.owned(feats[n], stride(n))
                    surrogate = surrogate + (w["content"] * self.content_scale[n]
                                             * (own - part[n]).pow(2).sum())
                (g,) = torch.autograd.grad(surrogate, piece)
            y0, y1, x0, x1 = t.outer
            grad[..., y0:y1, x0:x1] += g
            del feats, surrogate, g
        content = torch.tensor(w["content"] * error, device=x.device)
        style_term = w["style"] * style.detach()
        tv = w["tv"] * tv_loss(image)
        value = content + style_term
        total = _Known.apply(image, value, grad) + tv
        return {"content": content, "style": style_term, "tv": tv.detach(), "total": total}
