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
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from nst_core.base.errors import ImageError, OutOfMemoryError, RunFailedError
from nst_core.base.events import Event, Note, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.media import color
from nst_core.media.images import LoadedImage, fit_long_side, resize
from nst_core.media.tensors import deep_to_tensor, to_tensor, to_uint8, to_uint16
from nst_core.networks.vgg import shared_features
from nst_core.objective.perceptual import scale_objective
from nst_core.objective.regions import guides_at
from nst_core.painting import checkpoint as checkpoints
from nst_core.painting import pace
from nst_core.painting.optim import BoxLBFGS
from nst_core.painting.optimize import NonFiniteLoss, make_optimizer, minimize
from nst_core.painting.pace import StillPace
from nst_core.painting.schedule import Scale, plan_scales, start_from_coarser, upsample
from nst_core.painting.sizing import (
    largest_size_that_fits,
    memory_budget,
    min_side_for,
    plan_scales_memory,
    work_size,
)
from nst_core.runtime.devices import (
    SMALLEST_TILE,
    autocast_dtype,
    configure,
    estimate_memory,
    is_oom,
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



class Picture:
    """One picture ready to paint: `content`, `styles` and `init_image` are pictures in memory
    (`settings.content` and the paths name them only in messages). Construction plans the scales,
    loads the network and checks memory, raising `ImageError`, `DeviceError`, `WeightsError` or
    `OutOfMemoryError` before any work starts; the settings must be valid already."""

    def __init__(self, settings: TransferSettings, tuning: Tuning, content: LoadedImage,
                 styles: list[LoadedImage], init_image: LoadedImage | None = None,
                 masks: list[np.ndarray | None] | None = None):
        self.settings = s = settings
        self.tuning = tuning
        #: (scale, total loss, rejected) of every point the optimizer evaluated, for the
        #: benchmarks: what the person is shown skips the rejected ones
        self.evaluations: list[tuple[int, float, bool]] = []
        self.device = resolve_device(s.device)
        self.content = content
        self.styles = styles
        self.init_image = init_image
        #: each painting's region (nst_core.media.masks), None where it covers everything;
        #: None when no painting is limited to a region
        self.masks = masks if masks and any(m is not None for m in masks) else None
        self.mask_paths = [p for p in s.masks if p] if self.masks else []
        self.scales = plan_scales(s, self.content.size, self.tuning)
        self._check_sizes()
        self.net = shared_features(s.content_layers + s.style_layers, s.weights, s.weights_path,
                                   s.pooling, self.device, self.tuning.winograd)
        self.dtype = autocast_dtype(self.tuning, self.device.type)
        self.precision = precision_name(self.dtype)
        free = memory_budget(s, self.device)
        #: how each scale fits in memory: whole or in tiles (nst_core.objective.tiled)
        self.plans = plan_scales_memory(s, self.scales, free, self.device.type, self.tuning)
        if any(plan is None for plan in self.plans):
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
    def input_files(self) -> list[str]:
        """The files this picture is made from, as their paths name them."""
        init = [self.init_image.path] if self.init_image is not None else []
        return [self.content.path, *(img.path for img in self.styles), *init, *self.mask_paths]

    @property
    def output_size(self) -> tuple[int, int]:
        return self.scales[-1].size

    @property
    def total_iterations(self) -> int:
        return sum(s.iterations for s in self.scales)

    # ---- painting --------------------------------------------------------------------------
    def paint(self, previews: PreviewPolicy, stop: threading.Event, checkpoint: str = ""
              ) -> Generator[Event, None, StillResult | None]:
        """Optimize scale by scale, yielding `Progress` after every iteration and `Preview`s per
        the policy; returns the result (None when stopped before the first step). Raises
        `RunFailedError` (a NaN loss) or `OutOfMemoryError`, both carrying the last good image
        as a failed `StillResult`.

        `checkpoint`: a file where the render keeps where it stands (nst_core.painting.
        checkpoint), every `tuning.checkpoint_every` seconds and when stopped; a render of the
        same settings and images continues from it, and a finished one removes it."""
        s, timer = self.settings, Timer()
        torch.manual_seed(s.seed)
        gen = torch.Generator(device="cpu").manual_seed(s.seed)
        configure(self.device, self.tuning)
        planned = self.total_iterations
        scales = list(self.scales)
        key = checkpoints.render_key(s, self.input_files) if checkpoint else ""
        resumed = None
        if checkpoint:
            resumed, why = checkpoints.load(checkpoint, key)
            if why:
                yield Note(f"The checkpoint {checkpoint} was not used ({why}): starting afresh")
            elif resumed is not None:
                scales = [Scale(size, n) for size, n in resumed.scales]
                yield Note(f"Continuing from the checkpoint at iteration {resumed.iterations} "
                           f"(scale {resumed.scale + 1} of {len(scales)})")
        ruled = [k > 0 and s.settle > 0 for k in range(len(scales))]
        sizes = [work_size(sc.size, p, s) for sc, p in zip(scales, self.plans)]
        counts = [sc.iterations for sc in scales]
        cost = pace.known_cost(self.device.type, self.precision)
        if pace.estimate_seconds(sizes, counts, ruled, cost) > pace.CALIBRATE_ABOVE:
            cost = pace.calibrate(self.net, self.device.type, self.precision)
        clock = StillPace(sizes, counts, ruled, cost)
        history: list[dict[str, float]] = list(resumed.losses) if resumed else []
        best: torch.Tensor | None = None  # the best image of the current scale
        best_terms: dict[str, float] = {}  # and its loss terms
        opt = None
        timings = {"setup": timer()}
        before = resumed.seconds if resumed else 0.0  # painting time of earlier sessions
        last_preview = (0, 0.0)
        last_saved = time.perf_counter()
        k, done_here = 0, 0  # the scale in progress and its steps done
        x: torch.Tensor | None = None  # the image being optimized

        def result(status: Status, why: str) -> StillResult | None:
            if best is None:
                return None
            timings.setdefault("total", timer() + before)
            return self._result(best, best_terms, status, why, history, timings)

        def keep() -> None:
            nonlocal last_saved
            if checkpoint and best is not None:
                lbfgs = isinstance(opt, BoxLBFGS)
                try:
                    checkpoints.save(checkpoint, checkpoints.Checkpoint(
                        key, k, done_here, [(sc.size, sc.iterations) for sc in scales], best,
                        opt.gamma if lbfgs else None, history, before + timer(),
                        opt.kept_state(checkpoints.PAIR_BYTES) if lbfgs else None,
                        None if x is None or x.shape != best.shape else x, s.to_json()))
                except OSError as e:  # a full disk must not end the render
                    log.warning("cannot write the checkpoint %s: %s", checkpoint, e)
            last_saved = time.perf_counter()

        start_image, start_gamma, first, state = None, None, 0, None
        if resumed is not None:
            if resumed.step >= scales[resumed.scale].iterations:  # that scale had finished
                first, best = resumed.scale + 1, resumed.image.to(self.device)
                start_gamma = resumed.gamma
            else:
                here = resumed.current if resumed.current is not None else resumed.image
                first, start_image = resumed.scale, here.to(self.device)
                start_gamma, done_here = resumed.gamma, resumed.step
                state = resumed.optimizer
        try:
            for k, scale in enumerate(self.scales):
                if k < first:
                    continue
                content, net_content, styles = self._prepare(scale)
                plan = self.plans[k]
                guides = guides_at(self.masks, scale.size, s.soft_edges, s.blend(),
                                   self.device) if self.masks is not None else None
                terms, count = scale_objective(self._extract, net_content, styles, s,
                                               plan.tile, guides, self.tuning.region_guides)
                if plan.tile:
                    yield Note(f"Scale {k + 1} ({scale.size[0]}x{scale.size[1]}) is painted in "
                               f"{count} tiles of up to {plan.tile} px, with one loss for the "
                               "whole picture")
                offset = done_here if start_image is not None else 0
                if start_image is not None:
                    x = start_image
                elif best is None:
                    x = self._initial(scale, net_content, styles, gen)
                    if guides is not None and s.init != "content":
                        # where no painting goes the picture keeps the photo from the start
                        cover = torch.cat(guides).sum(0, keepdim=True).clamp(0, 1)
                        x = x * cover + net_content * (1 - cover)
                else:
                    if start_gamma is not None:  # H0 grows with the pixels (optimize.py)
                        start_gamma *= scale.size[0] * scale.size[1] / best[0, 0].numel()
                    x = start_from_coarser(best, net_content, self.tuning.carry_detail)
                start_image = None
                x = x.clamp(0, 1).contiguous().requires_grad_(True)
                best = x.detach().clone()
                tuning = dataclasses.replace(self.tuning, lbfgs_history=max(1, plan.history))
                opt = make_optimizer(x, s, tuning, self.precision, coarser=opt,
                                     gamma=start_gamma)
                if state is not None and isinstance(opt, BoxLBFGS):
                    try:
                        opt.restore(state)
                    except (KeyError, TypeError, ValueError) as e:  # learnt again instead
                        log.info("the checkpoint's optimizer state is not used: %s", e)
                start_gamma, state = None, None

                # The picture rule ends scales that refine a coarser picture. A scale that
                # starts from the photo (or noise, or the person's image) first turns it into a
                # painting, and how long that takes varies too much for the rule's reference:
                # it ended single-scale runs 4-16 windows before they matched their own final
                # picture (docs/decisions/picture-rule.md).
                settle = s.settle if k > 0 else 0.0
                for it in minimize(x, terms, opt, scales[k].iterations - offset, stop,
                                   s.early_stop, self.tuning.early_stop_window,
                                   settle, self.tuning.settle_window,
                                   self.tuning.settle_patience):
                    best, best_terms = it.best, it.best_losses
                    done_here = offset + it.step
                    history.append(it.losses)
                    self.evaluations.append((k, it.evaluated, it.rejected))
                    if it.converged:
                        skipped = scales[k].iterations - done_here
                        scales[k] = Scale(scale.size, done_here)
                        log.info("scale %d converged after %d iterations (%d skipped)", k + 1,
                                 done_here, skipped)
                        yield Note(f"Scale {k + 1} converged after {done_here} iterations")
                    if checkpoint and time.perf_counter() - last_saved \
                            >= self.tuning.checkpoint_every:
                        keep()  # before the step is shown: a pause finds it kept
                    n = len(history)
                    stage_end = done_here == scales[k].iterations
                    left = clock.step(k, done_here, scales[k].iterations,
                                      it.expected_steps if settle > 0 else None)
                    yield Progress(iteration=n, total=sum(sc.iterations for sc in scales),
                                   scale=k, scales=len(scales), size=scale.size,
                                   losses=dict(it.losses), elapsed=timer() + before,
                                   eta=0.0 if it.converged else left)
                    if previews.due(n, *last_preview, stage_end=stage_end):
                        yield Preview(self._display(it.image), n)
                        last_preview = (n, time.perf_counter())
                if stop.is_set():
                    break
                done_here = 0
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
        timings["total"] = timer() + before
        timings["optimize"] = timings["total"] - timings["setup"]
        if stop.is_set():
            keep()
            return result("stopped", f"stopped at iteration {len(history)} of {planned}")
        if checkpoint:
            checkpoints.remove(checkpoint)
        n = len(history)  # a scale that converged early leaves iterations unused
        return result("done", f"converged at iteration {n} of {planned}"
                      if n < planned else f"finished all {n} iterations")

    # ---- parts -------------------------------------------------------------------------------
    def _extract(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.extract(image, self.dtype)

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
        content = (deep_to_tensor(self.content.deep, scale.size, dev)
                   if self.content.deep is not None
                   else to_tensor(resize(self.content.rgb, scale.size), dev))
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
