"""Reading video with PyAV (FFmpeg inside its wheel).

PyAV reports a clip's rotation (a phone held upright) but does not apply it: frames are turned
here so that they look as the clip plays.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import ImageError
from .images import os_reason

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv",
                  ".gif"}


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES - {".gif"}


def _rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """Turn a frame counter-clockwise by `degrees` (PyAV's sign: positive is anticlockwise)."""
    k = (round(degrees / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    try:
        if not p.is_file():
            raise ImageError(p, "file not found; check the path" if not p.exists()
                             else "is not a video file")
        if p.stat().st_size == 0:
            raise ImageError(p, "the file is empty (0 bytes)")
        container = av.open(str(p))
    except ImageError:
        raise
    except OSError as e:
        if isinstance(e, av.error.FFmpegError):
            raise ImageError(p, "not a video this app can read (damaged or an unknown "
                                "format)") from None
        raise ImageError(p, f"cannot be opened ({os_reason(e)})") from None
    except Exception:
        raise ImageError(p, "not a video this app can read (damaged or an unknown "
                            "format)") from None
    if not container.streams.video:
        container.close()
        raise ImageError(p, "has no video stream")
    return container


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every frame as (H, W, 3) uint8 RGB, turned upright. A damaged tail ends the clip early
    rather than failing it; a clip with no decodable frame raises ImageError."""
    import av

    container = _open(path)
    got = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                got += 1
                yield _rotate(rgb, int(getattr(frame, "rotation", 0) or 0))
        except av.error.FFmpegError:
            if not got:
                raise ImageError(path, "no frame of the video can be decoded (damaged)") from None
    finally:
        container.close()
    if not got:
        raise ImageError(path, "the video holds no frames")


def sample_frames(path: str | os.PathLike, count: int) -> list[np.ndarray]:
    """About `count` frames spread evenly over the clip (to train on a video's look)."""
    container = _open(path)
    try:
        total = container.streams.video[0].frames  # 0 when the container does not say
    finally:
        container.close()
    every = max(1, total // count) if total else 1
    kept: list[np.ndarray] = []
    for i, frame in enumerate(iter_frames(path)):
        if i % every == 0:
            kept.append(frame)
            if len(kept) >= 2 * count:  # length unknown: thin out as it goes
                kept, every = kept[::2], every * 2
    return kept[:: max(1, len(kept) // count)][:count]
