"""Before a still picture starts: whether and how it fits in memory (whole, or in tiles, at
each scale), the size to offer when it does not, and how long it will take here. Loads nothing,
so a window may ask as the settings change."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from nst_core.media.images import fit_long_side
from nst_core.networks.layers import pooling_depth
from nst_core.networks.vgg import shared_features
from nst_core.objective.tiled import plan_tiles
from nst_core.painting import pace
from nst_core.painting.schedule import Scale, plan_scales
from nst_core.runtime.devices import (
    SMALLEST_TILE,
    MemoryPlan,
    autocast_dtype,
    available_memory,
    estimate_memory,
    plan_memory,
    precision_name,
    resolve_device,
)
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning


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
    backward (a third of the second's work); and the pass at the strokes' size, where the
    scale has one (`TransferSettings.strokes_reduction`)."""
    w, h = size
    pixels = float(w * h)
    if plan is not None and plan.tile:
        layers = settings.content_layers + settings.style_layers
        pixels = sum((t.outer[1] - t.outer[0]) * (t.outer[3] - t.outer[2])
                     for t in plan_tiles(size, plan.tile, layers)) * 4 / 3
    reduced = settings.strokes_reduction(max(w, h))
    if reduced is not None:
        pixels += round(w * reduced) * round(h * reduced)
    if pixels == w * h:
        return size
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
