"""The objective: the weighted loss terms as one module, shared by every job that optimizes
against VGG19 features (a still picture, a video's frames, an instant style's training).

    total = w_content * content + w_style * style + w_tv * tv  (+ any extra terms)

after Gatys, Ecker & Bethge (2016): content is the relative squared error of deep features
(relu4_2 by default), style the layer-weighted mean of relative Gram-matrix errors, tv the total
variation of the image. A later job adds a term (a temporal loss, a region mask) with
`add_term` rather than copying the objective.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from nst_core.objective.losses import ContentLoss, StyleLoss, gram, tv_loss
from nst_core.objective.regions import Region, make_regions, region_style
from nst_core.objective.tiled import TiledObjective, tiled_grams
from nst_core.settings.picture import TransferSettings

Features = dict[str, torch.Tensor]
Extract = Callable[[torch.Tensor], Features]
#: An extra term: (features of the image, the image) -> a scalar tensor.
Term = Callable[[Features, torch.Tensor], torch.Tensor]


class Objective(nn.Module):
    """Weighted content, style and TV terms against fixed targets; `forward` returns every
    weighted term and their sum under "total". With `regions` (nst_core.objective.regions) the
    style term is each painting's inside its own region, and `style_grams` only names the
    layers."""

    def __init__(self, content_targets: Mapping[str, torch.Tensor | None],
                 style_grams: Mapping[str, torch.Tensor], style_layer_weights: Sequence[float],
                 content_weight: float, style_weight: float, tv_weight: float,
                 regions: Sequence[Region] | None = None):
        super().__init__()
        self.content = nn.ModuleDict({n: ContentLoss(t) for n, t in content_targets.items()})
        self.style_layers = tuple(style_grams)
        self.regions = list(regions) if regions else None
        self.style = nn.ModuleDict({} if self.regions else
                                   {n: StyleLoss(g) for n, g in style_grams.items()})
        total = sum(style_layer_weights) or 1.0
        self.layer_weights = [w / total for w in style_layer_weights]
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight}
        self.extra: list[tuple[str, float, Term]] = []

    @classmethod
    def gatys(cls, extract: Extract, content: torch.Tensor, styles: Sequence[torch.Tensor],
              settings: TransferSettings, guides: Sequence[torch.Tensor] | None = None,
              method: str = "inside") -> "Objective":
        """Targets from a content image and blended style images, (1, 3, H, W) each, through
        `extract` (the network in the precision the run uses, so targets and picture match).
        `guides`: each painting's region at the content's size (nst_core.objective.regions),
        followed through the network by `method`; None: every painting everywhere."""
        with torch.no_grad():
            feats = extract(content)
            content_targets = {n: feats[n] for n in settings.content_layers}
            del feats
        return cls.for_styles(extract, styles, settings, guides, method, content_targets)

    @classmethod
    def for_styles(cls, extract: Extract, styles: Sequence[torch.Tensor],
                   settings: TransferSettings, guides: Sequence[torch.Tensor] | None = None,
                   method: str = "inside",
                   content_targets: Mapping[str, torch.Tensor | None] | None = None
                   ) -> "Objective":
        """The same objective with the style targets fixed and the content targets given per
        call (`forward(..., content=)`): instant-style training and a video's frames, where
        each photo is its own content. Gram targets are (1, C, C) and broadcast over a batch."""
        if content_targets is None:
            content_targets = {n: None for n in settings.content_layers}
        weights = (settings.layer_weights(), settings.content_weight, settings.style_weight,
                   settings.tv_weight)
        if guides is None:
            return cls(content_targets, _style_grams(extract, styles, settings), *weights)
        per_style = [_style_grams(extract, [st], settings) for st in styles]
        regions = make_regions(per_style, guides, settings.style_layers, method)
        return cls(content_targets, per_style[0], *weights, regions=regions)

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.content.keys(), *self.style_layers]))

    def add_term(self, name: str, weight: float, term: Term) -> None:
        """Add `weight * term(features, image)` to the total, reported under `name`."""
        if name in ("content", "style", "tv", "total") or any(n == name for n, _, _ in self.extra):
            raise ValueError(f"a term named {name!r} exists already")
        self.extra.append((name, float(weight), term))

    def forward(self, feats: Features, image: torch.Tensor,
                content: Features | None = None) -> dict[str, torch.Tensor]:
        """Every weighted term and "total". `content`: per-call content targets (features of
        the photos this image should keep), for an objective made by `for_styles`."""
        c = sum(loss(feats[n], None if content is None else content[n])
                for n, loss in self.content.items())
        if self.regions:
            s = region_style(feats, self.regions, self.style_layers, self.layer_weights)
        else:
            s = sum(w * loss(feats[n])
                    for (n, loss), w in zip(self.style.items(), self.layer_weights))
        terms = {"content": self.weights["content"] * c, "style": self.weights["style"] * s,
                 "tv": self.weights["tv"] * tv_loss(image)}
        for name, weight, term in self.extra:
            terms[name] = weight * term(feats, image)
        terms["total"] = sum(terms.values())
        return terms


def _style_grams(extract: Extract, styles: Sequence[torch.Tensor],
                 settings: TransferSettings) -> dict[str, torch.Tensor]:
    """The blended Gram target of each style layer, (1, C, C) (one style: its own)."""
    with torch.no_grad():
        feats = [extract(s) for s in styles]
        if len(styles) == 1:
            return {n: gram(feats[0][n]).detach() for n in settings.style_layers}
        blend = settings.blend()
        return {n: StyleLoss.blended([f[n] for f in feats], blend).target
                for n in settings.style_layers}


#: The share of the content and style terms measured on the picture reduced to `strokes_at`
#: (the rest at full size), where `TransferSettings.strokes_reduction` says so: the print
#: scaled down is held to its preview's objective, and keeps its own detail at full size
#: (docs/decisions/strokes.md).
STROKES_SHARE = 0.5


def reduce(x: torch.Tensor, factor: float) -> torch.Tensor:
    """(B, C, H, W) reduced by `factor` with area averaging (differentiable)."""
    h, w = x.shape[-2:]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return torch.nn.functional.interpolate(x, size=size, mode="area")


def scale_objective(extract: Extract, content: torch.Tensor, styles: Sequence[torch.Tensor],
                    settings: TransferSettings, tile: int = 0,
                    guides: Sequence[torch.Tensor] | None = None, method: str = "inside"
                    ) -> tuple[Callable[[torch.Tensor], dict[str, torch.Tensor]], int]:
    """One scale's loss terms as a function of the image, and how many tiles it goes through
    the network in: whole (1, `tile` 0), or tile by tile with the same loss and gradient
    (nst_core.objective.tiled). `guides`: each painting's region at this scale. A scale well
    above `settings.strokes_at` measures `STROKES_SHARE` of its content and style on the
    picture reduced to that size (the photo, paintings and regions reduced alike), which keeps
    the strokes' size."""
    s = settings
    r = s.strokes_reduction(max(content.shape[-2:]))
    if r is None:
        return _scale_objective(extract, content, styles, s, tile, guides, method)
    full, part = 1 - STROKES_SHARE, STROKES_SHARE
    terms, count = _scale_objective(
        extract, content, styles, s.replace(content_weight=s.content_weight * full,
                                            style_weight=s.style_weight * full),
        tile, guides, method)
    reduced = Objective.gatys(
        extract, reduce(content, r), [reduce(st, r) for st in styles],
        s.replace(content_weight=s.content_weight * part, style_weight=s.style_weight * part,
                  tv_weight=0.0),
        None if guides is None else [reduce(g, r) for g in guides], method)

    def both(image: torch.Tensor) -> dict[str, torch.Tensor]:
        out = terms(image)
        small = reduce(image, r)
        seen = reduced(extract(small), small)
        for name in ("content", "style"):
            out[name] = out[name] + seen[name]
        out["total"] = out["total"] + seen["content"] + seen["style"]
        return out

    return both, count


def _scale_objective(extract: Extract, content: torch.Tensor, styles: Sequence[torch.Tensor],
                     settings: TransferSettings, tile: int, guides, method: str):
    s = settings
    if not tile:
        objective = Objective.gatys(extract, content, styles, s, guides, method)
        return (lambda image: objective(extract(image), image)), 1
    # a print-size painting needs tiles too
    per_style = [tiled_grams(extract, style, s.style_layers, tile) for style in styles]
    regions = None
    if guides is not None:
        regions = make_regions(per_style, guides, s.style_layers, method)
        grams = per_style[0]
    else:
        grams = {n: sum(w * g[n] for g, w in zip(per_style, s.blend())) for n in s.style_layers}
    weights = {"content": s.content_weight, "style": s.style_weight, "tv": s.tv_weight}
    tiled = TiledObjective(extract, content, grams, s.layer_weights(), s.content_layers,
                           weights, tile, regions)
    return tiled.terms, len(tiled.tiles)
