"""Time left: how long a still picture will take, before it starts and while it runs.

Two things make a coarse-to-fine run hard to time. An iteration's cost is not proportional to
its pixels: a small scale pays a fixed cost per iteration (the network's 16 layers, the
optimizer's bookkeeping), so scaling a 64 px iteration by its pixel count overestimates a
256 px one several times. And the picture rule ends refining scales early, at a step nobody
knows in advance. So:

- `IterationCost`: seconds per iteration as a + b * pixels, from a calibration (two sizes, a
  few iterations, once per process, device and precision) and then corrected by what the run
  measures at its own scale.
- `StillPace`: the run's remaining work: the scale in progress at its measured pace (a moving
  average from the scale's second iteration on), the scales to come
  at the cost model's pace times the ratio measured now, and each ruled scale's expected length:
  a prior share of its iterations until the rule has measured the picture's movement, then the
  step at which that movement, decaying geometrically as measured, reaches the threshold
  (`nst_core.optimize.minimize` predicts it).

benchmarks/eta.py prints the estimate against the true time left over whole runs.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import torch

#: A ruled scale's share of its planned iterations before the rule has a measurement:
#: the default's refining scales ended after about 60% of theirs (benchmarks/RESULTS.md).
RULED_SHARE = 0.6


@dataclass(frozen=True)
class IterationCost:
    """Seconds per iteration at a picture of `pixels` pixels: fixed + per_pixel * pixels."""

    fixed: float
    per_pixel: float

    def __call__(self, pixels: int) -> float:
        return self.fixed + self.per_pixel * pixels


#: Before a calibration (which replaces it within a second): 2 AVX2 cores in float32.
DEFAULT_COST = IterationCost(0.03, 1.2e-6)

_lock = threading.Lock()
_costs: dict[tuple[str, str], IterationCost] = {}


def _measure(net, device: str, precision: str,
             stop: threading.Event | None) -> IterationCost | None:
    from .devices import precision_dtype

    dtype = precision_dtype(precision)
    times = []
    for side in (96, 192):
        x = torch.rand(1, 3, side * 3 // 4, side, device=device, requires_grad=True)
        best = math.inf
        for _ in range(3):  # the first warms up; the best of the rest
            if stop is not None and stop.is_set():
                return None
            t0 = time.perf_counter()
            loss = sum((f * f).mean() for f in net.extract(x, dtype).values())
            loss.backward()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        times.append((side * (side * 3 // 4), best))
    (p1, t1), (p2, t2) = times
    per_pixel = max((t2 - t1) / (p2 - p1), 1e-12)
    # the loss terms, the Gram matrices and the optimizer add about a third to the network
    return IterationCost(1.3 * max(t1 - per_pixel * p1, 0.0), 1.3 * per_pixel)


def calibrate(net, device: str = "cpu", precision: str = "float32",
              stop: threading.Event | None = None) -> IterationCost:
    """This machine's cost model for `device` and `precision`, measured on `net` (the run's
    `VGGFeatures`): about a second the first time in a process, then remembered. `stop` ends
    the measurement early; the typical cost stands in then."""
    with _lock:
        key = (device, precision)
        if key not in _costs:
            cost = _measure(net, device, precision, stop)
            if cost is None:
                return DEFAULT_COST
            _costs[key] = cost
        return _costs[key]


def known_cost(device: str = "cpu", precision: str = "float32") -> IterationCost:
    """The calibrated cost if this process has measured it, else `DEFAULT_COST` (never
    measures: safe to call from a window's thread)."""
    return _costs.get((device, precision), DEFAULT_COST)


def expected_iterations(planned: list[int], ruled: list[bool]) -> list[int]:
    """Each scale's expected iterations: all of them, or a ruled scale's share."""
    return [max(1, round(n * RULED_SHARE)) if r else n for n, r in zip(planned, ruled)]


def estimate_seconds(sizes: list[tuple[int, int]], iterations: list[int], ruled: list[bool],
                     cost: IterationCost) -> float:
    """Seconds a run of these scales is expected to take."""
    return sum(n * cost(w * h) for (w, h), n in
               zip(sizes, expected_iterations(iterations, ruled)))


@dataclass
class StillPace:
    """The time left of a running still picture (see the module's docstring)."""

    sizes: list[tuple[int, int]]
    planned: list[int]
    ruled: list[bool]
    cost: IterationCost = DEFAULT_COST
    _scale: int = -1
    _last: float = 0.0
    _per_iter: float | None = None  # the moving average at the current scale

    def step(self, scale: int, step: int, planned_here: int, expected_here: int | None,
             now: float | None = None) -> float:
        """After iteration `step` (1-based) of `scale`: seconds left. `expected_here` is the
        step at which the scale is expected to end (the picture rule's prediction), or None."""
        now = time.perf_counter() if now is None else now
        if scale != self._scale:
            self._scale, self._per_iter = scale, None
        else:
            dt = now - self._last
            # (a scale's first iteration, which builds its objective and warms caches up,
            # ends before its first call and is never timed)
            self._per_iter = dt if self._per_iter is None else 0.7 * self._per_iter + 0.3 * dt
        self._last = now
        px = self.sizes[scale][0] * self.sizes[scale][1]
        model_here = self.cost(px)
        per_iter = self._per_iter if self._per_iter is not None else model_here
        ratio = per_iter / model_here if model_here > 0 else 1.0
        if expected_here is not None or not self.ruled[scale]:
            left = max((expected_here or planned_here) - step, 0)
        else:  # before the rule has measured: the prior share of what is left
            left = max(round(planned_here * RULED_SHARE) - step,
                       round((planned_here - step) * RULED_SHARE))
        seconds = left * per_iter
        later = expected_iterations(self.planned[scale + 1:], self.ruled[scale + 1:])
        for (w, h), n in zip(self.sizes[scale + 1:], later):
            seconds += n * self.cost(w * h) * ratio
        return seconds
