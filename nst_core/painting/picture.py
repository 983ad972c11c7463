"""One picture painted coarse to fine by optimizing the image itself (Gatys, Ecker & Bethge
2016), over pictures in memory: what the still job paints, and a video's first frame.

    picture = Picture(settings, tuning, content, styles)  # plans scales, loads the network
    result = yield from picture.paint(previews, stop)      # Progress, Preview, Note; StillResult

Coarse-to-fine: the first scales run on smaller copies; each result, upsampled with the photo's
finer detail added back, starts the next scale (nst_core.painting.schedule). Each scale builds
its objective's targets once (nst_core.objective.perceptual) and runs the loop
(nst_core.painting.optimize).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from nst_core.base.errors import ImageError, OutOfMemoryError, RunFailedError
from nst_core.base.events import Event, Note, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.media import color
from nst_core.media.images import LoadedImage, fit_long_side, resize
from nst_core.media.tensors import to_tensor, to_uint8, to_uint16
from nst_core.networks.layers import pooling_depth
from nst_core.networks.vgg import shared_features
from nst_core.objective.perceptual import Objective
from nst_core.objective.tiled import TiledObjective, plan_tiles, tiled_grams
from nst_core.painting import pace
from nst_core.painting.optimize import NonFiniteLoss, make_optimizer, minimize
from nst_core.painting.pace import StillPace
from nst_core.painting.schedule import Scale, plan_scales, start_from_coarser, upsample
from nst_core.runtime.devices import (
    autocast_dtype,
    available_memory,
    SMALLEST_TILE,
    MemoryPlan,
    configure,
    estimate_memory,
    is_oom,
    plan_memory,
    precision_name,
    resolve_device,
)
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning

log = logging.getLogger(__name__)


@dataclass
class StillResult(Ended):
    image: np.ndarray  # (H, W, 3) uint8 at the output size
    settings: TransferSettings
    status: Status = "done"  # done; stopped on request (best so far); failed (last good image)
    reason: str = ""  # why it ended, for the person ("converged at iteration 112 of 300")
    losses: list[dict[str, float]] = field(default_factory=list)  # one per iteration
    timings: dict[str, float] = field(default_factory=dict)  # seconds: setup, optimize, total
    iterations: int = 0  # iterations done
    device: str = "cpu"
    alpha: np.ndarray | None = None  # the content's transparency at the output size, if any
    #: the same picture at 16 bits, (H, W, 3) uint16, for a 16-bit file (a TIFF)
    deep: np.ndarray | None = None
    #: the kept picture's terms (its scale's lowest loss), what a finished run reports
    final_losses: dict[str, float] = field(default_factory=dict)

    @property
    def picture(self) -> np.ndarray | None:
        return self.image



def min_side_for(settings: TransferSettings) -> int:
    """Smallest short side (pixels) at which the deepest layer still sees a 2x2 map."""
    deepest = max(pooling_depth(name) for name in settings.content_layers + settings.style_layers)
    return 2 ** (deepest + 1)


def largest_size_that_fits(settings: TransferSettings, content_size: tuple[int, int], free: int,
                           device: str = "cpu", tuning: Tuning = Tuning()) -> int:
    """The largest output size below the one asked for (a multiple of 32) that the network can
    paint and that fits in `free` bytes, whole or in tiles; 0 when none does."""
    size, need = 0, min_side_for(settings)
    for candidate in range(32, settings.size, 32):
        final = fit_long_side(*content_size, candidate)
        if min(final) < need:  # too small for the network: never offered
            continue
        if plan_memory(settings.replace(size=candidate), final, free, device, tuning) is None:
            break
        size = candidate
    return size


def memory_budget(settings: TransferSettings, device: torch.device) -> int:
    """Bytes a run may use: the person's limit, else what is free on `device` now."""
    if settings.max_memory:
        return int(settings.max_memory * 2**30)
    return available_memory(device)


def work_size(size: tuple[int, int], plan: MemoryPlan | None,
              settings: TransferSettings) -> tuple[int, int]:
    """A (w, h) whose pixels are the network's work per iteration at a scale of `size`: the
    scale itself painted whole; in tiles, their passes with margins, the first without a
    backward (a third of the second's work)."""
    if plan is None or not plan.tile:
        return size
    layers = settings.content_layers + settings.style_layers
    pixels = sum((t.outer[1] - t.outer[0]) * (t.outer[3] - t.outer[2])
                 for t in plan_tiles(size, plan.tile, layers)) * 4 / 3
    w, h = size
    grow = (pixels / (w * h)) ** 0.5
    return round(w * grow), round(h * grow)


def plan_scales_memory(settings: TransferSettings, scales: list[Scale], budget: int,
                       device: str, tuning: Tuning) -> list[MemoryPlan | None]:
    """How each scale fits `budget`: whole, in tiles, or not at all (None)."""
    return [plan_memory(settings, sc.size, budget, device, tuning) for sc in scales]


def estimated_seconds(settings: TransferSettings, content_size: tuple[int, int],
                      tuning: Tuning = Tuning()) -> float:
    """Seconds a still picture of these settings is expected to take on this machine
    (nst_core.painting.pace: the calibrated cost model where this process has measured it, else a
    typical laptop's). Loads nothing and never measures: a window may call it as settings
    change."""
    device = resolve_device(settings.device)
    precision = precision_name(autocast_dtype(tuning, device.type))
    scales = plan_scales(settings, content_size, tuning)
    plans = plan_scales_memory(settings, scales, memory_budget(settings, device), device.type,
                               tuning)
    ruled = [k > 0 and settings.settle > 0 for k in range(len(scales))]
    return pace.estimate_seconds([work_size(sc.size, p, settings) for sc, p in zip(scales, plans)],
                                 [sc.iterations for sc in scales], ruled,
                                 pace.known_cost(device.type, precision))


def calibrate_pace(settings: TransferSettings, tuning: Tuning = Tuning(),
                   stop: threading.Event | None = None) -> None:
    """Measure this machine's pace for `settings`' device and precision (about a second, once
    per process; from a background thread in a window), so that `estimated_seconds` is this
    machine's. `stop` ends the timing early (nothing is remembered then)."""
    device = resolve_device(settings.device)
    net = shared_features(settings.content_layers + settings.style_layers, settings.weights,
                          settings.weights_path, settings.pooling, device, tuning.winograd)
    pace.calibrate(net, device.type, precision_name(autocast_dtype(tuning, device.type)), stop)


@dataclass(frozen=True)
class MemoryOutlook:
    """How a still picture of some settings will fit in memory, before it starts."""

    needed: int  # bytes at the peak as planned; where nothing fits, the least any plan needs
    budget: int  # bytes the run may use (settings.max_memory, else what is free)
    tiles: int  # the final scale's tiles: 1 whole, more in tiles, 0 when it does not fit


def memory_outlook(settings: TransferSettings, content_size: tuple[int, int],
                   device: str = "cpu", tuning: Tuning = Tuning()) -> MemoryOutlook:
    """Whether and how a still picture of these settings fits: whole where the memory free (or
    `settings.max_memory`) holds it, else in the tiles that do (nst_core.objective.tiled)."""
    final = plan_scales(settings, content_size, tuning)[-1].size
    budget = memory_budget(settings, resolve_device(device))
    plan = plan_memory(settings, final, budget, device, tuning)
    if plan is None:
        return MemoryOutlook(estimate_memory(settings, final, device, tuning, SMALLEST_TILE, 5),
                             budget, 0)
    layers = settings.content_layers + settings.style_layers
    tiles = len(plan_tiles(final, plan.tile, layers)) if plan.tile else 1
    return MemoryOutlook(plan.needed, budget, tiles)


def memory_needed(settings: TransferSettings, content_size: tuple[int, int],
                  device: str = "cpu", tuning: Tuning = Tuning()) -> int:
    """Bytes a still picture of these settings needs at its peak on `device` (whole, or in
    the tiles that fit)."""
    return memory_outlook(settings, content_size, device, tuning).needed


class Picture:
    """One picture ready to paint: `content`, `styles` and `init_image` are pictures in memory
    (`settings.content` and the paths name them only in messages). Construction plans the scales,
    loads the network and checks memory, raising `ImageError`, `DeviceError`, `WeightsError` or
    `OutOfMemoryError` before any work starts; the settings must be valid already."""

    def __init__(self, settings: TransferSettings, tuning: Tuning, content: LoadedImage,
                 styles: list[LoadedImage], init_image: LoadedImage | None = None):
        self.settings = s = settings
        self.tuning = tuning
        #: (scale, total loss, rejected) of every point the optimizer evaluated, for the
        #: benchmarks: what the person is shown skips the rejected ones
        self.evaluations: list[tuple[int, float, bool]] = []
        self.device = resolve_device(s.device)
        self.content = content
        self.styles = styles
        self.init_image = init_image
        self.scales = plan_scales(s, self.content.size, self.tuning)
        self._check_sizes()
        self.net = shared_features(s.content_layers + s.style_layers, s.weights, s.weights_path,
                                   s.pooling, self.device, self.tuning.winograd)
        self.dtype = autocast_dtype(self.tuning, self.device.type)
        self.precision = precision_name(self.dtype)
        free = memory_budget(s, self.device)
        #: how each scale fits in memory: whole or in tiles (nst_core.objective.tiled)
        self.plans = plan_scales_memory(s, self.scales, free, self.device.type, self.tuning)
        final = self.plans[-1]
        if final is None:
            w, h = self.output_size
            need = estimate_memory(s, self.output_size, self.device.type, self.tuning,
                                   SMALLEST_TILE, 5)
            fits = largest_size_that_fits(s, self.content.size, free, self.device.type,
                                          self.tuning)
            if s.max_memory:
                limit, more = "is allowed", "raise the memory limit"
            else:
                limit, more = f"is free on {self.device.type}", "close other programs"
            smaller = (f"choose a smaller output size (up to about {fits} px fits) or {more}"
                       if fits else f"{more}: even the smallest size does not fit")
            raise OutOfMemoryError(
                f"A {w}x{h} picture needs at least {need / 2**30:.1f} GB of memory, even in "
                f"tiles, but only {free / 2**30:.1f} GB {limit}; {smaller}.", fits=fits or None)
        self.memory_needed = max(p.needed for p in self.plans if p is not None)

    @property
    def output_size(self) -> tuple[int, int]:
        return self.scales[-1].size

    @property
    def total_iterations(self) -> int:
        return sum(s.iterations for s in self.scales)

    # ---- painting --------------------------------------------------------------------------
    def paint(self, previews: PreviewPolicy, stop: threading.Event
              ) -> Generator[Event, None, StillResult | None]:
        """Optimize scale by scale, yielding `Progress` after every iteration and `Preview`s per
        the policy; returns the result (None when stopped before the first step). Raises
        `RunFailedError` (a NaN loss) or `OutOfMemoryError`, both carrying the last good image
        as a failed `StillResult`."""
        s, timer = self.settings, Timer()
        torch.manual_seed(s.seed)
        gen = torch.Generator(device="cpu").manual_seed(s.seed)
        configure(self.device, self.tuning)
        planned = self.total_iterations
        scales = list(self.scales)
        ruled = [k > 0 and s.settle > 0 for k in range(len(scales))]
        sizes = [work_size(sc.size, p, s) for sc, p in zip(scales, self.plans)]
        counts = [sc.iterations for sc in scales]
        cost = pace.known_cost(self.device.type, self.precision)
        if pace.estimate_seconds(sizes, counts, ruled, cost) > pace.CALIBRATE_ABOVE:
            cost = pace.calibrate(self.net, self.device.type, self.precision)
        clock = StillPace(sizes, counts, ruled, cost)
        history: list[dict[str, float]] = []
        best: torch.Tensor | None = None  # the best image of the current scale
        best_terms: dict[str, float] = {}  # and its loss terms
        opt = None
        timings = {"setup": timer()}
        last_preview = (0, 0.0)
        k = 0

        def result(status: Status, why: str) -> StillResult | None:
            if best is None:
                return None
            timings.setdefault("total", timer())
            return self._result(best, best_terms, status, why, history, timings)

        try:
            for k, scale in enumerate(self.scales):
                content, net_content, styles = self._prepare(scale)
                plan = self.plans[k]
                terms, count = self._objective(net_content, styles, plan)
                if plan.tile:
                    yield Note(f"Scale {k + 1} ({scale.size[0]}x{scale.size[1]}) is painted in "
                               f"{count} tiles of up to {plan.tile} px, with one loss for the "
                               "whole picture")
                if best is None:
                    x = self._initial(scale, net_content, styles, gen)
                else:
                    x = start_from_coarser(best, net_content, self.tuning.carry_detail)
                x = x.clamp(0, 1).contiguous().requires_grad_(True)
                best = x.detach().clone()
                tuning = dataclasses.replace(self.tuning, lbfgs_history=max(1, plan.history))
                opt = make_optimizer(x, s, tuning, self.precision, coarser=opt)

                # The picture rule ends scales that refine a coarser picture. A scale that
                # starts from the photo (or noise, or the person's image) first turns it into a
                # painting, and how long that takes varies too much for the rule's reference:
                # it ended single-scale runs 4-16 windows before they matched their own final
                # picture (docs/decisions/picture-rule.md).
                settle = s.settle if k > 0 else 0.0
                for it in minimize(x, terms, opt, scale.iterations, stop,
                                   s.early_stop, self.tuning.early_stop_window,
                                   settle, self.tuning.settle_window,
                                   self.tuning.settle_patience):
                    best, best_terms = it.best, it.best_losses
                    history.append(it.losses)
                    self.evaluations.append((k, it.evaluated, it.rejected))
                    if it.converged:
                        skipped = scale.iterations - it.step
                        scales[k] = Scale(scale.size, it.step)
                        log.info("scale %d converged after %d iterations (%d skipped)", k + 1,
                                 it.step, skipped)
                        yield Note(f"Scale {k + 1} converged after {it.step} iterations")
                    n = len(history)
                    stage_end = it.step == scales[k].iterations
                    left = clock.step(k, it.step, scales[k].iterations,
                                     it.expected_steps if settle > 0 else None)
                    yield Progress(iteration=n, total=sum(sc.iterations for sc in scales),
                                   scale=k, scales=len(scales), size=scale.size,
                                   losses=dict(it.losses), elapsed=timer(),
                                   eta=0.0 if it.converged else left)
                    if previews.due(n, *last_preview, stage_end=stage_end):
                        yield Preview(self._display(it.image), n)
                        last_preview = (n, time.perf_counter())
                if stop.is_set():
                    break
        except NonFiniteLoss as e:
            why = (f"The loss became {e.value} at iteration {len(history) + 1} (scale {k + 1}); "
                   "the last good image was kept. Lower the learning rate or the style "
                   "strength, or start from the content image.")
            raise RunFailedError(why, result=result("failed", why)) from None
        except (RunFailedError, ImageError):
            raise
        except Exception as e:
            if is_oom(e):
                w, h = self.scales[k].size
                why = (f"Not enough memory for a {w}x{h} image on {self.device.type}; choose a "
                       f"smaller output size (for example {max(32, s.size // 2)}) and start "
                       "again.")
                raise OutOfMemoryError(why, result=result("failed", why)) from None
            raise
        timings["total"] = timer()
        timings["optimize"] = timings["total"] - timings["setup"]
        if stop.is_set():
            return result("stopped", f"stopped at iteration {len(history)} of {planned}")
        n = len(history)  # a scale that converged early leaves iterations unused
        return result("done", f"converged at iteration {n} of {planned}"
                      if n < planned else f"finished all {n} iterations")

    # ---- parts -------------------------------------------------------------------------------
    def _extract(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.extract(image, self.dtype)

    def _objective(self, content: torch.Tensor, styles: list[torch.Tensor], plan: MemoryPlan
                   ) -> tuple[Callable[[torch.Tensor], dict[str, torch.Tensor]], int]:
        """The terms of one scale's loss as a function of the image, and the tiles it goes
        through the network in: whole (1), or tile by tile (the same loss and gradient,
        nst_core.objective.tiled)."""
        s = self.settings
        if not plan.tile:
            objective = Objective.gatys(self._extract, content, styles, s)
            return (lambda image: objective(self._extract(image), image)), 1
        blend = s.blend()
        grams: dict[str, torch.Tensor] = {}
        for style, weight in zip(styles, blend):  # a print-size painting needs tiles too
            for n, g in tiled_grams(self._extract, style, s.style_layers, plan.tile).items():
                grams[n] = weight * g if n not in grams else grams[n] + weight * g
        weights = {"content": s.content_weight, "style": s.style_weight, "tv": s.tv_weight}
        tiled = TiledObjective(self._extract, content, grams, s.layer_weights(),
                               s.content_layers, weights, plan.tile)
        return tiled.terms, len(tiled.tiles)

    def _check_sizes(self) -> None:
        need = min_side_for(self.settings)
        w, h = self.output_size
        if min(w, h) < need:
            raise ImageError(self.content.path, f"too small for the network at this output size: "
                             f"{w}x{h} gives the deepest layer less than 2x2 pixels; choose an "
                             f"output size with a short side of at least {need} px")
        for img in self.styles:
            sw, sh = self._style_size(img, self.output_size)
            if min(sw, sh) < need:
                raise ImageError(img.path, f"too small for the network at style scale "
                                 f"{self.settings.style_scale:g}: it becomes {sw}x{sh}; use a "
                                 f"larger style scale or a less elongated painting")

    def _style_size(self, img: LoadedImage, out: tuple[int, int]) -> tuple[int, int]:
        side = max(1, round(max(out) * self.settings.style_scale))
        return fit_long_side(*img.size, side)

    def _prepare(self, scale: Scale):
        """Content, the content as the network sees it, and styles for one scale, as tensors
        (1, 3, H, W)."""
        s, dev = self.settings, self.device
        content = to_tensor(resize(self.content.rgb, scale.size), dev)
        styles = [to_tensor(resize(img.rgb, self._style_size(img, scale.size)), dev)
                  for img in self.styles]
        if s.color == "histogram":
            styles = [color.match_color(st, content) for st in styles]
        net_content = content
        if s.color == "luminance":
            net_content = color.luminance(content)
            styles = [color.match_luminance(color.luminance(st), net_content) for st in styles]
        return content, net_content, styles

    def _initial(self, scale: Scale, content: torch.Tensor, styles: list[torch.Tensor],
                 gen: torch.Generator) -> torch.Tensor:
        s = self.settings
        w, h = scale.size
        if s.init == "content":
            return content.clone()
        if s.init == "noise":
            return torch.rand((1, 3, h, w), generator=gen).to(self.device)
        if s.init == "style":
            return upsample(styles[0], (h, w)).clamp(0, 1)
        assert self.init_image is not None
        x = to_tensor(resize(self.init_image.rgb, (w, h)), self.device)
        return color.luminance(x) if s.color == "luminance" else x

    def _display(self, image: torch.Tensor) -> np.ndarray:
        """What the person sees of an image being optimized: (H, W, 3) uint8."""
        return to_uint8(self._shown(image))

    def _shown(self, image: torch.Tensor) -> torch.Tensor:
        """The picture an image being optimized stands for, (1, 3, H, W) in [0, 1]: with the
        photo's colours put back where only its luminance was painted."""
        if self.settings.color == "luminance":
            h, w = image.shape[-2:]
            content = to_tensor(resize(self.content.rgb, (w, h)), image.device)
            image = color.combine_luminance(image, content)
        return image

    def _result(self, best: torch.Tensor, best_terms: dict[str, float], status: Status,
                reason: str, history: list[dict[str, float]],
                timings: dict[str, float]) -> StillResult:
        out_w, out_h = self.output_size
        shown = self._shown(best).detach()
        if tuple(shown.shape[-2:]) != (out_h, out_w):  # ended on a coarse scale
            shown = upsample(shown, (out_h, out_w))
        shown = shown.clamp(0, 1)
        rgb = to_uint8(shown)
        deep = to_uint16(shown)
        alpha = resize(self.content.alpha, (out_w, out_h)) \
            if self.content.alpha is not None else None
        return StillResult(image=rgb, settings=self.settings, status=status, reason=reason,
                           losses=list(history), final_losses=dict(best_terms),
                           timings=dict(timings), iterations=len(history),
                           device=self.device.type, alpha=alpha, deep=deep)
