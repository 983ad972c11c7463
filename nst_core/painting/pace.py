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
  a prior share of its iterations, blended, more with each window, with the step at which the
  picture's movement, decaying geometrically as measured, reaches the threshold
  (`nst_core.painting.optimize.minimize` predicts it; the first windows decay faster than the
  later).

benchmarks/eta.py prints the estimate against the true time left over whole runs.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import torch

#: A ruled scale's share of its planned iterations before the rule has measured its picture:
#: the Balanced preset's final scale ended after about half of its iterations at 256 px on the
#: three benchmark pairs (benchmarks/RESULTS.md, "Precision").
RULED_SHARE = 0.5


@dataclass(frozen=True)
class IterationCost:
    """Seconds per iteration at a picture of `pixels` pixels: fixed + per_pixel * pixels."""

    fixed: float
    per_pixel: float

    def __call__(self, pixels: int) -> float:
        return self.fixed + self.per_pixel * pixels


#: Before a calibration: a whole iteration on 2 AVX2 cores in float32, as this repository's
#: machine runs it (0.12 s at 128x96, 0.33 s at 256x192, 1.14 s at 512x384).
DEFAULT_COST = IterationCost(0.05, 5.7e-6)

#: A run expected to take less than this (seconds) goes by the typical cost model: timing the
#: machine costs about a second, more than such a run's estimate is worth.
CALIBRATE_ABOVE = 20.0

_lock = threading.Lock()
_costs: dict[tuple[str, str], IterationCost] = {}


def _measure(net, device: str, precision: str,
             stop: threading.Event | None) -> IterationCost | None:
    from nst_core.runtime.devices import precision_dtype

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
    # an allowance for the loss terms, the Gram matrices and the optimizer, which the run's
    # own measured pace then corrects
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


#: Iterations a scale times before its pace replaces the one carried from the scale before
#: (the first ones after a change of size run slower: caches, the objective's targets).
SETTLED = 3


@dataclass
class StillPace:
    """The time left of a running still picture (see the module's docstring)."""

    sizes: list[tuple[int, int]]
    planned: list[int]
    ruled: list[bool]
    cost: IterationCost = DEFAULT_COST
    _scale: int = -1
    _last: float = 0.0
    _per_iter: float | None = None  # the mean seconds an iteration at the current scale
    _timed: int = 0  # iterations timed at the current scale
    _ratio: float = 1.0  # measured pace over the cost model's, carried from scale to scale
    _predictions: int = 0  # the picture rule's predictions seen at the current scale
    _expected: int | None = None  # the newest of them

    def step(self, scale: int, step: int, planned_here: int, expected_here: int | None,
             now: float | None = None) -> float:
        """After iteration `step` (1-based) of `scale`: seconds left. `expected_here` is the
        step at which the scale is expected to end (the picture rule's prediction), or None."""
        now = time.perf_counter() if now is None else now
        if scale != self._scale:
            self._scale, self._per_iter, self._predictions, self._expected = scale, None, 0, None
            self._timed = 0
        else:
            # (a scale's first iteration, which builds its objective and warms caches up,
            # ends before its first call and is never timed). The mean of the scale's
            # iterations: single ones vary by a third (a rejected step evaluates twice)
            dt = now - self._last
            self._timed += 1
            self._per_iter = dt if self._per_iter is None else \
                self._per_iter + (dt - self._per_iter) / self._timed
        self._last = now
        px = self.sizes[scale][0] * self.sizes[scale][1]
        model_here = self.cost(px)
        if self._timed >= SETTLED and model_here > 0:  # a scale's first ones run slow
            self._ratio = self._per_iter / model_here
        per_iter = model_here * self._ratio
        if not self.ruled[scale]:
            left = planned_here - step
        else:
            prior = max(round(planned_here * RULED_SHARE), step)
            if expected_here is not None and expected_here != self._expected:
                self._predictions += 1
                self._expected = expected_here
            # the rule's prediction from the movement's decay, trusted more with each window
            # it has measured: the first windows decay faster than the later ones
            w = self._predictions / (self._predictions + 2)
            end = prior if self._expected is None else (1 - w) * prior + w * self._expected
            left = max(end - step, 0.0)
        seconds = left * per_iter
        later = expected_iterations(self.planned[scale + 1:], self.ruled[scale + 1:])
        for (w_, h), n in zip(self.sizes[scale + 1:], later):
            seconds += n * self.cost(w_ * h) * self._ratio
        return seconds
