"""The folder that keeps a video render's finished frames beside its output, so that a stopped
render continues where it stopped: its layout (one PNG per frame, numbered from 0, and the
job's manifest), and the threads that write and read the frames while the next one is painted.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

CACHE_SUFFIX = ".frames"
MANIFEST = "job.json"


def cache_dir(output: str | os.PathLike) -> Path:
    """The folder of finished frames beside an output."""
    p = Path(output)
    return p.with_name(p.name + CACHE_SUFFIX)


def frame_path(cache: Path, i: int) -> Path:
    """The kept frame `i` (0-based among the render's frames)."""
    return cache / f"{i:06d}.png"


def lead_path(cache: Path, i: int) -> Path:
    """Frame `i` as a chunk's lead-in painted it (a render shared between workers keeps it to
    cross-fade with the chunk before)."""
    return cache / f"lead_{i:06d}.png"


def kept_frames(cache: Path) -> list[Path]:
    """The frames kept in a cache, in order."""
    return sorted(cache.glob("[0-9]*.png"))


class FrameWriter:
    """Writes the finished frames to the cache in background threads: PNG-encoding and syncing
    a 1080p frame takes longer than repainting it on a GPU (about 0.3 s against 0.02 s,
    benchmarks/RESULTS.md), so the next frame is painted meanwhile. At most twice as many
    frames as threads are outstanding; a write's error (a full disk) is raised by the next
    `submit` or by `flush`, and `close` finishes what was handed over."""

    def __init__(self, save: Callable[[int, np.ndarray], None], workers: int | None = None):
        self._save = save
        self._workers = workers or self.workers()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="nst-frame-writer")
        self._pending: deque[Future] = deque()

    @staticmethod
    def workers() -> int:
        return max(1, min(4, os.cpu_count() or 1))

    def submit(self, index: int, rgb: np.ndarray) -> None:
        self._collect(2 * self._workers - 1)
        self._pending.append(self._pool.submit(self._save, index, rgb))

    def flush(self) -> None:
        """Wait for every frame handed over; raise the first write's error."""
        self._collect(0)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _collect(self, outstanding: int) -> None:
        """Take the finished writes (raising a failed one's error), waiting, oldest first,
        until at most `outstanding` remain."""
        while self._pending and (len(self._pending) > outstanding or self._pending[0].done()):
            self._pending.popleft().result()


def read_ahead(load: Callable[[int], np.ndarray], count: int,
                workers: int) -> Iterator[np.ndarray]:
    """load(0), load(1), ... load(count - 1) in order, each started up to twice `workers`
    items ahead in background threads."""
    with ThreadPoolExecutor(workers, thread_name_prefix="nst-frame-reader") as pool:
        ahead: deque[Future] = deque()
        for i in range(count):
            ahead.append(pool.submit(load, i))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False
