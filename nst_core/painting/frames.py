"""A clip's frames painted one after another and held steady along the optical flow (Ruder,
Dosovitskiy & Brox 2016): what the video job calls for each frame, over arrays.

Two methods:

* optimize (quality): every frame is optimized like a still picture on the same objective, plus
  a temporal term that holds it to the previous repainted frame warped along the flow wherever
  the flow is reliable (nst_core.temporal.flow). Later frames start from that warp and need
  fewer iterations. With `long_term`, frames further back hold it too, each where the nearer
  ones do not. A frame with nothing before it to hold to is painted as a still picture, coarse
  to fine (`picture`).
* instant (fast): an instant-style model repaints each frame, and the result is blended toward
  the warped previous output where the flow is reliable.
"""
from __future__ import annotations

import threading
from collections.abc import Generator, Sequence

import numpy as np
import torch

from nst_core.base.errors import ImageError
from nst_core.media import color
from nst_core.media.images import LoadedImage, fit_long_side, load_image, resize
from nst_core.media.masks import load_mask
from nst_core.media.tensors import to_tensor, to_uint8
from nst_core.networks.layers import pooling_depth
from nst_core.networks.stylize import cached_model, stylize
from nst_core.networks.vgg import shared_features
from nst_core.objective.perceptual import Objective
from nst_core.objective.regions import guides_at
from nst_core.painting.optimize import Iterate, make_optimizer, minimize
from nst_core.painting.picture import Picture
from nst_core.runtime.devices import autocast_dtype, precision_name
from nst_core.settings.tuning import Tuning
from nst_core.settings.video import VideoSettings
from nst_core.temporal import flow

#: Earlier frames that hold a frame with `long_term` (1: the previous frame).
LONG_TERM = (1, 4, 8)
#: The instant method measures motion on frames shrunk to this long side (`flow.trusted_flow`):
#: at 1080p that keeps 89% of the steadying (Lai's warping error) for 61% of its time on a CPU,
#: where the repainting itself takes 0.02 s on a GPU (benchmarks/RESULTS.md).
INSTANT_FLOW_SIDE = 960


class FramePainter:
    """Paints the frames of one render at `size` (width, height). Construction loads the model
    (instant) or the paintings and the network (optimize), raising the engine's typed errors."""

    def __init__(self, settings: VideoSettings, tuning: Tuning, device: torch.device,
                 size: tuple[int, int]):
        self.settings, self.tuning, self.device, self.size = settings, tuning, device, size
        self.optimizer = None  # the latest frame's (a later frame starts from its curvature)
        self._temporal: list[tuple[torch.Tensor, torch.Tensor]] = []  # (weight map, target)
        if settings.method == "instant":
            self.model = cached_model(settings.model)
            self.dtype = None
        else:
            self._load_styles()

    @property
    def keep(self) -> int:
        """How many earlier frames (inputs and outputs) the next frame needs."""
        return max(LONG_TERM) if self.settings.long_term else 1

    @property
    def precision(self) -> str:
        return precision_name(self.dtype)

    def _load_styles(self) -> None:
        p = self.settings.picture
        self.styles = [load_image(path) for path in p.styles]
        #: each painting's region (the same in every frame), or None: everywhere
        self.masks = [load_mask(m) if m else None for m in p.masks] if p.regional else None
        deepest = max(pooling_depth(n) for n in p.content_layers + p.style_layers)
        need = 2 ** (deepest + 1)
        if min(self.size) < need:
            raise ImageError(self.settings.content, f"frames of {self.size[0]}x{self.size[1]} "
                             f"are too small for the network; choose an output size with a "
                             f"short side of at least {need} px")
        self.net = shared_features(p.content_layers + p.style_layers, p.weights, p.weights_path,
                                   p.pooling, self.device, self.tuning.winograd)
        self.dtype = autocast_dtype(self.tuning, self.device.type)

    # ---- instant ---------------------------------------------------------------------------
    def instant(self, rgb: np.ndarray, inputs: Sequence[np.ndarray],
                outputs: Sequence[np.ndarray]) -> np.ndarray:
        """One frame through the model, blended toward the previous output along the flow."""
        s = self.settings
        out = stylize(self.model.network(), rgb, self.device, s.strength,
                      "keep" if s.keep_colors else "style")
        if not inputs or s.temporal_weight == 0 or s.stability == 0:
            return out
        back, trust = flow.trusted_flow(rgb, inputs[-1], INSTANT_FLOW_SIDE)
        warped = flow.warp(outputs[-1].astype(np.float32), back)
        mixed = flow.steady_blend(out, warped, s.stability * trust)
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)

    # ---- optimize --------------------------------------------------------------------------
    def objective(self, first: np.ndarray) -> Objective:
        """The objective of every frame: the paintings' style at the frames' size (with
        `histogram` colour, matched to the first frame's colours, the same for every frame),
        content targets per frame, and the temporal term."""
        p = self.settings.picture
        side = max(1, round(max(self.size) * p.style_scale))
        styles = [to_tensor(resize(img.rgb, fit_long_side(*img.size, side)), self.device)
                  for img in self.styles]
        if p.color == "histogram":
            content = to_tensor(first, self.device)
            styles = [color.match_color(st, content) for st in styles]
        guides = None if self.masks is None else \
            guides_at(self.masks, self.size, p.soft_edges, p.blend(), self.device)
        objective = Objective.for_styles(self._extract, styles, p, guides,
                                         self.tuning.region_guides)
        objective.add_term("temporal", self.settings.temporal_weight, self._temporal_term)
        return objective

    def holds(self, inputs: Sequence[np.ndarray]) -> bool:
        """Whether the next frame is held to those before it (else it is painted as a still
        picture when the settings paint coarse to fine)."""
        return self.settings.temporal_weight > 0 and len(inputs) > 0

    def picture(self, rgb: np.ndarray, index: int) -> Picture:
        """A frame with nothing before it to hold to, as a still picture (coarse to fine, with
        the picture rule), as "Preview This Frame" paints it."""
        p = self.settings.picture
        name = f"frame {index + 1} of {self.settings.content}"
        # strokes_at 0: the later frames are held to one full-size objective, and the first
        # frame's strokes must be theirs
        return Picture(p.replace(size=max(self.size), strokes_at=0), self.tuning,
                       LoadedImage(rgb, None, name), self.styles, None, self.masks)

    def optimize(self, index: int, rgb: np.ndarray, inputs: Sequence[np.ndarray],
                 outputs: Sequence[np.ndarray], objective: Objective,
                 stop: threading.Event) -> Generator[Iterate, None, tuple[np.ndarray | None, int]]:
        """Optimize one frame, yielding the optimizer's accepted iterates; returns (frame,
        iterations), or (None, iterations) when stopped before the frame was finished."""
        p, dev = self.settings.picture, self.device
        content = to_tensor(rgb, dev)
        with torch.no_grad():
            feats = self._extract(content)
            targets = {n: feats[n] for n in p.content_layers}
            del feats
        self._temporal.clear()
        start = self._hold(rgb, inputs, outputs) if self.holds(inputs) else None
        if start is not None:
            x = torch.from_numpy(np.ascontiguousarray(start)).permute(2, 0, 1)[None].to(dev)
        elif p.init == "noise":
            gen = torch.Generator(device="cpu").manual_seed(p.seed + index)
            x = torch.rand((1, 3, *rgb.shape[:2]), generator=gen).to(dev)
        else:
            x = content.clone()
        x = x.clamp(0, 1).contiguous().requires_grad_(True)
        steps = self.steps(bool(inputs))
        # a frame that starts from the one before starts from its curvature scale too
        opt = make_optimizer(x, p, self.tuning, self.precision,
                             coarser=self.optimizer if start is not None else None)
        self.optimizer = opt
        best, its = x.detach().clone(), 0

        def terms(image: torch.Tensor) -> dict[str, torch.Tensor]:
            return objective(self._extract(image), image, targets)

        # the picture rule for a frame that starts from the one before, not from the photo
        # (as in a still: nst_core.painting.picture)
        settle = p.settle if start is not None else 0.0
        for it in minimize(x, terms, opt, steps, stop, p.early_stop,
                           self.tuning.early_stop_window, settle,
                           self.tuning.settle_window, self.tuning.settle_patience):
            best, its = it.best, it.step
            yield it
        if stop.is_set() and its < steps:
            return None, its
        return to_uint8(best), its

    def steps(self, has_earlier: bool) -> int:
        """Iterations planned for a frame (held to earlier frames or not)."""
        s = self.settings
        held = s.temporal_weight > 0 and has_earlier
        return s.later_iterations if held else s.picture.iterations

    def _hold(self, rgb: np.ndarray, inputs: Sequence[np.ndarray],
              outputs: Sequence[np.ndarray]) -> np.ndarray:
        """Fill the temporal term's targets from the earlier frames warped along the flow;
        return the frame's start: the previous output warped where the flow is trusted."""
        dev = self.device
        covered = np.zeros(rgb.shape[:2], np.float32)
        start = rgb.astype(np.float32) / 255.0
        for j in LONG_TERM if self.settings.long_term else (1,):
            if j > len(inputs):
                break
            back, trust = flow.trusted_flow(rgb, inputs[-j])
            weight = np.clip(trust - covered, 0.0, 1.0)  # where nearer frames do not hold
            covered = np.clip(covered + weight, 0.0, 1.0)
            warped = flow.warp(outputs[-j].astype(np.float32) / 255.0, back)
            if j == 1:
                start = warped * trust[..., None] + start * (1 - trust[..., None])
            self._temporal.append((torch.from_numpy(weight)[None, None].to(dev),
                                   torch.from_numpy(warped).permute(2, 0, 1)[None].to(dev)))
        return start

    def _temporal_term(self, feats, image: torch.Tensor) -> torch.Tensor:
        """Ruder's temporal loss: the mean of c (x - warp)² over pixels and channels, summed
        over the earlier frames that hold this one."""
        total = image.new_zeros(())
        for weight, target in self._temporal:
            total = total + (weight * (image - target) ** 2).mean()
        return total

    def _extract(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.extract(image, self.dtype)
