"""Freed memory kept for reuse while a run computes on the CPU, and given back when it ends.

Why: glibc's malloc serves every block above its mmap threshold (at most 32 MB) with a fresh
mapping and unmaps it on free. A 512 px picture's first-block activations are 50 MB each, and
every iteration frees and allocates them again, so the kernel faults in and zeroes their pages
anew: about 100,000 page faults per iteration. Keeping them makes a 512 px iteration 1.1-1.3x
faster on 2 AVX2 cores (docs/decisions/kept-memory.md). With `M_MMAP_MAX` at 0 every
block comes from the heap, where a freed block is reused as it is, and with a high
`M_TRIM_THRESHOLD` the heap's free top is kept; `release()` hands the free memory back
(`malloc_trim`) when a run ends, so an idle window does not hold a run's peak. `M_ARENA_MAX` at
1 makes threads share the main heap: a thread's own arena cannot hold a block over 64 MB and
maps it afresh every time, and runs compute on worker threads (the window's, a Ray actor's). A
thread that has allocated before the call keeps its own arena, so the application calls this at
start-up (main.py, the Ray worker); every CPU run calls it too (devices.configure). The cost:
the heap fragments around the largest blocks, +13% peak memory at 1024 px and +49% at 2048 px
against glibc's own handling (for 1.8x and 1.9x per iteration); devices.estimate_memory allows
for it.

Process-wide, like torch.backends.cudnn.benchmark, and a no-op where the C library is not
glibc (macOS, Windows, musl).
"""
from __future__ import annotations

import ctypes
import functools
import logging
import platform
import threading
from typing import Callable, Iterator, TypeVar

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_TRIM_THRESHOLD = 2**31 - 1  # the largest an int holds: keep the heap's free top

_lock = threading.Lock()
_kept = False


@functools.lru_cache(maxsize=1)
def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        return libc
    except (OSError, AttributeError):
        return None


def supported() -> bool:
    """Whether freed memory can be kept here (glibc)."""
    return _glibc() is not None


def keep_freed_memory() -> bool:
    """From now on, reuse freed blocks instead of returning them to the system at once.
    True where it took effect (glibc)."""
    global _kept
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        if not _kept:
            ok = all([libc.mallopt(_M_MMAP_MAX, 0) == 1,
                      libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1,
                      libc.mallopt(_M_ARENA_MAX, 1) == 1])
            if not ok:
                log.warning("mallopt refused; freed memory is returned to the system as before")
                return False
            _kept = True
    return True


def release() -> None:
    """Give the free memory kept so far back to the system (a run has ended)."""
    libc = _glibc()
    if libc is not None and _kept:
        libc.malloc_trim(0)


E = TypeVar("E")


def released_after(events: Callable[..., Iterator[E]]) -> Callable[..., Iterator[E]]:
    """Decorator for a run's `events`: `release()` once it ends, however it ends (done,
    stopped, failed, or closed by its consumer)."""

    @functools.wraps(events)
    def wrapper(*args, **kwargs) -> Iterator[E]:
        try:
            return (yield from events(*args, **kwargs))
        finally:
            release()

    return wrapper
