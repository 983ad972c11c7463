"""The plain events a run yields. Every kind of job speaks these; front ends (the window's
worker, the command line, the batch queue, a Ray worker) drain them without knowing the kind.

They are frozen dataclasses of numbers, strings and numpy arrays: they pickle (Ray sends them
between processes) and carry no torch tensors.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Progress:
    """Scalar progress after one step (an optimizer iteration, a training step, a frame)."""

    iteration: int  # 1-based, counted over the whole run
    total: int  # steps planned in the whole run (falls when an early stop skips some)
    scale: int  # 0-based index of the current stage (scale of a still picture; 0 elsewhere)
    scales: int  # number of stages
    size: tuple[int, int]  # (width, height) of the image being worked on
    losses: dict[str, float]  # the weighted terms and "total"
    elapsed: float  # seconds since the run started
    eta: float | None  # estimated seconds left, None until measurable
    rate: float | None = None  # items per second where the kind counts them (training
    #                            samples, camera frames), else None


@dataclass(frozen=True, eq=False)  # compared by identity: it holds an array
class Preview:
    """What the picture looks like now: (H, W, 3) uint8, a new array the receiver may keep."""

    image: np.ndarray
    iteration: int


@dataclass(frozen=True)
class Note:
    """Something worth telling the person that is not an error (a scale converged early)."""

    text: str


Event = Progress | Preview | Note


@dataclass(frozen=True)
class PreviewPolicy:
    """When a run converts its picture into a `Preview` (the one place that decides it).

    A preview goes out at the first step, at the end of every stage and of the run, and in
    between once at least `every` steps and `seconds` seconds have passed since the last one.
    `every=0` turns the in-between previews off (the command line wants none)."""

    every: int = 10
    seconds: float = 0.0

    def due(self, step: int, last_step: int, last_time: float, stage_end: bool,
            now: float | None = None) -> bool:
        if step == 1 or stage_end:
            return True
        if self.every <= 0:
            return False
        now = time.perf_counter() if now is None else now
        return step - last_step >= self.every and now - last_time >= self.seconds


#: For a window: a preview whenever a quarter second has passed.
LIVE = PreviewPolicy(every=1, seconds=0.25)
#: For a batch or a remote worker: one a second at most.
SPARSE = PreviewPolicy(every=1, seconds=1.0)
#: For the command line: first and stage ends only.
NONE = PreviewPolicy(every=0)


@dataclass
class Timer:
    """Seconds since a start, for `elapsed` and timings."""

    start: float = field(default_factory=time.perf_counter)

    def __call__(self) -> float:
        return time.perf_counter() - self.start
