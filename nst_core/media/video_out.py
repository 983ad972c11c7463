"""Writing video with PyAV: H.264 frames at their own times, with the source clip's sound copied
(or re-encoded as AAC where the container cannot hold it), written beside the target and put
in place when complete."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst_core.base.errors import OutputExistsError, SettingsError
from nst_core.media.files import probe_writable, replacing
from nst_core.media.video import VIDEO_OUTPUTS, _stream_start


def write_video(path: str | os.PathLike, frames: Iterable[tuple[float, np.ndarray]],
                fps: float, audio_from: str | os.PathLike | None = None, start: float = 0.0,
                end: float = 0.0, crf: int = 18, overwrite: bool = False) -> Path:
    """Encode (time, RGB) frames as H.264 (yuv420p) with their own timestamps, and copy the
    audio of `audio_from` between `start` and `end` seconds unchanged (packets copied, not
    re-encoded; a codec the container cannot hold is re-encoded as AAC). Atomic: written beside
    the target and renamed when complete; an existing file is replaced only with `overwrite`."""

    p = Path(path)
    check_video_output(p, overwrite)
    with replacing(p, overwrite, suffix=p.suffix) as tmp:  # the suffix names the container
        _encode(tmp, frames, fps, audio_from, start, end, crf)
    return p


def check_render_output(p: Path, to_folder: bool, overwrite: bool) -> None:
    """Raise SettingsError or OutputExistsError unless a render can write `p`: a video file,
    or with `to_folder` a folder of PNG frames (a new or empty one, or any with `overwrite`);
    a real file is made there to be sure."""
    if to_folder:
        if not p.parent.is_dir():
            raise SettingsError("output", f"the folder {p.parent} does not exist")
        if p.exists() and not (p.is_dir() and not any(p.iterdir())) and not overwrite:
            raise OutputExistsError(f"{p} already exists; choose another name or allow "
                                    "overwriting")
    else:
        check_video_output(p, overwrite)
    probe_writable(p)


def check_video_output(p: Path, overwrite: bool) -> None:
    if p.suffix.lower() not in VIDEO_OUTPUTS:
        what = p.suffix or "a file without extension"
        raise SettingsError("output", f"cannot write a video as {what}; use .mp4, .mov or .mkv, "
                                      "or a folder for PNG frames")
    if not p.parent.is_dir():
        raise SettingsError("output", f"the folder {p.parent} does not exist")
    if p.is_dir():
        raise SettingsError("output", f"{p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} already exists; choose another name or allow overwriting")


_TB = Fraction(1, 90000)
_COPY_AUDIO = {"aac", "mp3", "mp2", "ac3", "eac3", "alac", "opus", "flac"}


def _encode(path: str, frames: Iterable[tuple[float, np.ndarray]], fps: float,
            audio_from, start: float, end: float, crf: int) -> None:
    import av

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    out = av.open(path, "w")
    src = av.open(str(audio_from)) if audio_from else None
    try:
        h, w = first[1].shape[:2]
        video = out.add_stream("libx264", rate=Fraction(round(max(fps, 1.0) * 1000), 1000))
        video.width, video.height, video.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        video.codec_context.time_base = _TB
        video.options = {"crf": str(int(crf)), "preset": "medium"}
        audio = _audio_stream(out, src)  # every stream before the first packet
        last_pts = -1
        for t, rgb in itertools.chain([first], frames):
            rgb = rgb[: video.height, : video.width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            pts = max(round(t / _TB), last_pts + 1)
            frame.pts, frame.time_base, last_pts = pts, _TB, pts
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            _copy_audio(out, src, audio, start, end)
    finally:
        out.close()
        if src is not None:
            src.close()


def _audio_stream(out, src):
    """The output's audio stream: a copy of the source's first one (its codec as it is, or AAC
    when the container cannot hold it), or None."""
    if src is None or not src.streams.audio:
        return None
    stream = src.streams.audio[0]
    if stream.codec_context.name in _COPY_AUDIO:
        return out.add_stream_from_template(stream)
    ctx = stream.codec_context
    dst = out.add_stream("aac", rate=ctx.sample_rate or 48000)
    dst.layout = "stereo" if (ctx.channels or 2) > 1 else "mono"
    return dst


def _copy_audio(out, src, dst, start: float, end: float) -> None:
    import av

    stream = src.streams.audio[0]
    origin = _stream_start(stream)
    if dst.codec_context.name != stream.codec_context.name or \
            stream.codec_context.name not in _COPY_AUDIO:
        _reencode_audio(out, src, stream, dst, start, end)
        return
    tb = stream.time_base
    shift = round((start + origin) / tb)
    try:
        if start > 0:
            src.seek(int((start + origin) / tb), stream=stream, backward=True)
        for packet in src.demux(stream):
            if packet.pts is None or packet.dts is None or packet.size == 0:
                continue
            t = float(packet.pts * tb) - origin
            if start > 0 and t < start - 1e-6:
                continue
            if end > 0 and t >= end:
                break
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = dst
            out.mux(packet)
    except av.error.FFmpegError:
        pass  # a damaged audio tail: what was copied stays


def _reencode_audio(out, src, stream, dst, start: float, end: float) -> None:
    import av

    origin = _stream_start(stream)
    resampler = av.AudioResampler(format="fltp", layout=dst.layout.name,
                                  rate=dst.codec_context.sample_rate)
    try:
        for frame in src.decode(stream):
            t = float(frame.time or 0.0) - origin
            if start > 0 and t < start - 1e-6:
                continue
            if end > 0 and t >= end:
                break
            frame.pts = None
            for f in resampler.resample(frame):
                for packet in dst.encode(f):
                    out.mux(packet)
    except av.error.FFmpegError:
        pass  # a damaged audio tail: what was decoded stays
    for packet in dst.encode():
        out.mux(packet)
