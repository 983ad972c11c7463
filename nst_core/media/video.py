"""Reading video with PyAV (FFmpeg inside its wheel).

PyAV reports a clip's rotation (a phone held upright) but does not apply it: frames are turned
here so that they look as the clip plays.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst_core.base.errors import ImageError
from nst_core.media.files import os_reason

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


#: Slice threads only. Frame threading ("AUTO", "FRAME") can hang the decoder for good when a
#: read stops before the clip's end with torch loaded (PyAV #1849, #909): a stopped render, a
#: scrub or a preview of one frame all stop early. Decoding is never the slow part here.
DECODE_THREADS = "SLICE"


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every frame as (H, W, 3) uint8 RGB, turned upright. A damaged tail ends the clip early
    rather than failing it; a clip with no decodable frame raises ImageError."""
    import av

    container = _open(path)
    got = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = DECODE_THREADS
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


# ---- reading a clip for repainting -----------------------------------------------------------
#: Refused as absurd: more pixels a frame than an 8K frame, or a longer clip than this.
MAX_FRAME_PIXELS = 7680 * 4320
MAX_SIDE = 16384
MAX_SECONDS = 4 * 3600.0
MAX_FRAMES = 500_000
#: The clip formats the command line and the window write.
VIDEO_OUTPUTS = (".mp4", ".mov", ".m4v", ".mkv")


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds, as it plays (width and height after the rotation is applied)."""

    path: str
    width: int
    height: int
    rotation: int  # degrees counter-clockwise that frames are turned by
    fps: float  # the average frame rate
    duration: float  # seconds
    frames: int  # frames in the clip (counted from the packets)
    codec: str
    audio: str  # the first audio stream's codec, "" when there is none
    times: tuple[float, ...] = field(default=(), repr=False, compare=False)  # every frame's

    def frame_times(self, start: float = 0.0, end: float = 0.0,
                    max_fps: float = 0.0) -> list[float]:
        """The times of the frames `read_frames` gives for these limits."""
        return select_times(list(self.times), start, end, max_fps)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class Frame:
    """One frame of a clip: its place among the frames read, its time in seconds from the
    clip's start (the real timestamp: a variable frame rate stays variable), upright RGB."""

    index: int
    time: float
    rgb: np.ndarray


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _packet_times(container, stream) -> list[float]:
    """The presentation time of every video packet, sorted: the clip's frame times, found by
    demuxing alone (no decoding, so it takes a moment even for a long clip)."""
    import av

    start = _stream_start(stream)
    times = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            times.append(float(packet.pts * packet.time_base) - start)
            if len(times) > MAX_FRAMES:
                break
    except av.error.FFmpegError:
        pass  # a damaged tail: the frames before it count
    return sorted(times)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open a clip and say what it holds; raise ImageError with the reason when it cannot be
    repainted (missing, empty, not a video, no video stream, damaged, absurd size or length)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        w, h = int(ctx.width or 0), int(ctx.height or 0)
        if w <= 0 or h <= 0:
            raise ImageError(path, "the video stream has no picture size (damaged)")
        if w * h > MAX_FRAME_PIXELS or max(w, h) > MAX_SIDE:
            raise ImageError(path, f"frames of {w}x{h} are larger than this app handles (8K at "
                                   "most); scale the clip down first")
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else ""
        codec = ctx.name
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        times = _packet_times(container, stream)
    finally:
        container.close()
    if not times:
        raise ImageError(path, "the video holds no frames")
    if len(times) > MAX_FRAMES:
        raise ImageError(path, f"more than {MAX_FRAMES} frames: longer than this app repaints; "
                               "cut the clip first")
    duration = times[-1] + (1.0 / fps if fps > 0 else 0.0)
    if duration > MAX_SECONDS:
        raise ImageError(path, f"{duration / 3600:.1f} hours long: longer than this app "
                               "repaints (4 hours at most); cut the clip first")
    if fps <= 0 and len(times) > 1:
        fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    rotation = _first_rotation(path)
    if round(rotation / 90) % 2:
        w, h = h, w
    return VideoInfo(str(path), w, h, rotation, fps, duration, len(times), codec, audio,
                     tuple(times))


def _first_rotation(path: str | os.PathLike) -> int:
    import av

    container = _open(path)
    try:
        for frame in container.decode(container.streams.video[0]):
            return int(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError:
        raise ImageError(path, "no frame of the video can be decoded (damaged)") from None
    finally:
        container.close()
    raise ImageError(path, "no frame of the video can be decoded (damaged)")


class _Thinning:
    """Keeps at most `max_fps` frames a second (0: every frame) on a regular grid of times,
    starting afresh after a gap. The frame count and the reading share it, so they agree."""

    def __init__(self, max_fps: float):
        self.step = 1.0 / max_fps if max_fps > 0 else 0.0
        self.next = -math.inf

    def keep(self, t: float) -> bool:
        if not self.step:
            return True
        if t < self.next - 1e-6:
            return False
        grid = self.next + self.step
        self.next = grid if grid > t else t + self.step
        return True


def select_times(times: list[float], start: float = 0.0, end: float = 0.0,
                 max_fps: float = 0.0) -> list[float]:
    """Which of the (sorted) frame `times` are read: those from `start` to `end` seconds (`end`
    0: to the clip's end), thinned to at most `max_fps` frames a second (0: every frame)."""
    thin = _Thinning(max_fps)
    return [t for t in times
            if start - 1e-6 <= t and not (end > 0 and t >= end - 1e-6) and thin.keep(t)]


def read_frames(path: str | os.PathLike, start: float = 0.0, end: float = 0.0,
                max_fps: float = 0.0, size: tuple[int, int] | None = None) -> Iterator[Frame]:
    """The frames from `start` to `end` seconds at most `max_fps` a second, upright, resized to
    `size` (w, h) when given, with their timestamps (seconds from the clip's start). A damaged
    tail ends the clip early."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = DECODE_THREADS
        origin = _stream_start(stream)
        if start > 0:
            container.seek(int((start + origin) / stream.time_base), stream=stream,
                           backward=True, any_frame=False)
        thin, n = _Thinning(max_fps), 0
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - origin
                if t < start - 1e-6:
                    continue
                if end > 0 and t >= end - 1e-6:
                    break
                if not thin.keep(t):
                    continue
                rgb = _rotate(frame.to_ndarray(format="rgb24"),
                              int(getattr(frame, "rotation", 0) or 0))
                if size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(size):
                    rgb = _resize(rgb, size)
                yield Frame(n, t, rgb)
                n += 1
        except av.error.FFmpegError:
            if not n:
                raise ImageError(path, "no frame of the video can be decoded (damaged)") from None
    finally:
        container.close()


def read_selected(path: str | os.PathLike, times: list[float], end: float,
                  size: tuple[int, int] | None = None) -> Iterator[Frame]:
    """The frames at `times` (some of the clip's own frame times, in order), numbered from 0:
    one stretch of a render shared between workers."""
    wanted = iter(times)
    due = next(wanted, None)
    n = 0
    if due is None:
        return
    for frame in read_frames(path, due, end, 0.0, size):
        if abs(frame.time - due) > 1e-4:
            continue
        yield Frame(n, frame.time, frame.rgb)
        n += 1
        due = next(wanted, None)
        if due is None:
            return


def frame_at(path: str | os.PathLike, time: float,
             size: tuple[int, int] | None = None) -> Frame:
    """The frame shown at `time` seconds (the last one at or before it)."""
    last = None
    for frame in read_frames(path, start=max(0.0, time - 10.0), size=size):
        if frame.time > time + 1e-6 and last is not None:
            break
        last = frame
    if last is None:
        raise ImageError(path, f"no frame at {time:.2f} s")
    return Frame(0, last.time, last.rgb)


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    w, h = size
    shrink = w < rgb.shape[1]
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def even_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) with the long side about `long_side`, the aspect kept and both even (H.264 in
    yuv420p needs even sides)."""
    scale = long_side / max(width, height)
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


# ---- writing -------------------------------------------------------------------------------
