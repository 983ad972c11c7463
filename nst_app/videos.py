"""What the window needs of clips, without Qt: what a clip holds, one frame of it (to scrub and
to preview), a frame saved as a photo (a preview is a still picture of it), the default output
name, and a player's frames."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nst_core.media.files import unique_path
from nst_core.media.images import save_image
from nst_core.media.video import Frame, VideoInfo, even_size, frame_at, probe, read_frames

from . import paths
from .samples import resources_dir


def clip_info(path: str | os.PathLike) -> VideoInfo:
    """What the clip holds; ImageError in one line when it cannot be repainted."""
    return probe(path)


def describe(info: VideoInfo) -> str:
    """One line for the person: '480×270, 3.0 s, 24 fps, 72 frames, with sound'."""
    sound = "with sound" if info.audio else "no sound"
    return (f"{info.width}×{info.height}, {info.duration:.1f} s, {info.fps:.3g} fps, "
            f"{info.frames} frames, {sound}")


def frame(path: str | os.PathLike, seconds: float, long_side: int = 0) -> Frame:
    """The frame shown at `seconds`, upright, scaled to `long_side` (0: the clip's size; the
    video's frame size rounds to even sides)."""
    size = None
    if long_side:
        info = probe(path)
        size = even_size(*info.size, long_side)
    return frame_at(path, seconds, size)


def frame_as_photo(path: str | os.PathLike, seconds: float, long_side: int = 0,
                   data_dir: str | os.PathLike | None = None) -> Path:
    """The frame at `seconds` saved as a PNG in the app's data folder (a still picture of it
    is a preview of the video); the same frame gives the same file."""
    f = frame(path, seconds, long_side)
    folder = (Path(data_dir) if data_dir else paths.data_dir()) / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{Path(path).resolve()}|{f.time:.4f}|{long_side}".encode()).hexdigest()
    target = folder / f"{Path(path).stem[:40]}_{f.time:07.3f}s_{key[:8]}.png"
    if not target.exists():
        save_image(target, f.rgb)
    return target


def default_output(clip: str | os.PathLike, what: str, folder: str | os.PathLike = "") -> Path:
    """A free `<clip>_<painting or model>.mp4` in `folder`; by default beside the clip, or in
    the person's videos folder when the clip is one of the app's own samples (never inside
    the installed app) or its folder cannot be written."""
    where = Path(folder) if folder else _beside(Path(clip))
    return unique_path(where / f"{Path(clip).stem[:60]}_{Path(what).stem[:60]}.mp4")


def _beside(clip: Path) -> Path:
    folder = clip.parent.resolve()
    if folder.is_relative_to(resources_dir().resolve()) or not os.access(folder, os.W_OK):
        return paths.videos_dir()
    return folder


def playback(path: str | os.PathLike, start: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
    """A written video's frames from `start` seconds with their times, for playing it in the
    window."""
    for f in read_frames(path, start=start):
        yield f.time, f.rgb
