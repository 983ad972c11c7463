"""The history: every finished, stopped or failed-with-an-image result, from any front end (the
window, the command line, the batch queue), written to the app's data folder the moment it
exists, so nothing is lost if the app or the machine dies. A finished video is listed too: its
poster frame in the folder, the video where it was rendered.

Each entry is a PNG with the settings embedded (written atomically by the engine's saver) and a
JSON sidecar with the settings, when it was made and how the run went, so that listing the
history decodes no image. A PNG whose sidecar was never written (a crash between the two
writes) is still listed, from the PNG's own embedded settings.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst_core import NSTError, TransferSettings
from nst_core.media.files import write_atomic
from nst_core.media.images import read_settings_json, save_image

log = logging.getLogger(__name__)

SIDECAR_FORMAT = 1
STATUSES = ("done", "stopped", "failed", "unknown")
KINDS = ("still", "video")


@dataclass
class HistoryEntry:
    image_path: str
    created: float  # time.time()
    iterations: int
    seconds: float
    status: str  # done, stopped, failed (unknown: a PNG whose sidecar is missing)
    reason: str = ""  # why it ended ("converged at iteration 112 of 300", an error)
    source: str = ""  # window, cli, batch
    settings_data: dict[str, Any] | None = field(default=None, repr=False)
    kind: str = "still"  # or "video": the picture is its poster frame
    video: str = ""  # the video (or folder of PNG frames) it rendered
    frames: int = 0  # frames of the video
    video_settings_data: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    @property
    def settings(self) -> TransferSettings | None:
        try:
            if self.settings_data is not None:
                return TransferSettings.from_dict(self.settings_data)
            text = read_settings_json(self.image_path)  # an entry without a sidecar
            return TransferSettings.from_json(text) if text else None
        except NSTError as e:
            log.warning("history entry %s: %s", self.image_path, e)
            return None

    @property
    def video_settings(self):
        """The render's `VideoSettings` (a video entry), or None when unreadable."""
        from nst_core.settings.video import VideoSettings

        if self.video_settings_data is None:
            return None
        try:
            return VideoSettings.from_dict(self.video_settings_data)
        except NSTError as e:
            log.warning("history entry %s: %s", self.image_path, e)
            return None

    def label(self) -> str:
        when = time.strftime("%d %b %Y %H:%M", time.localtime(self.created))
        state = "" if self.status == "done" else f" ({self.status})"
        if self.kind == "video":
            return self._video_label(when + state)
        s = self.settings
        if s is None:
            return when + state
        style = ", ".join(Path(p).stem for p in s.styles)
        text = f"{when}{state}\n{Path(s.content).stem} × {style}\n{s.size}px · " \
               f"{self.iterations} it · {self.seconds:.0f} s"
        return text + (f"\n{self.reason}" if self.reason else "")

    def _video_label(self, head: str) -> str:
        v = self.video_settings
        lines = [f"{head} · video"]
        if v is not None:
            what = Path(v.model).stem if v.method == "instant" else \
                ", ".join(Path(p).stem for p in v.picture.styles)
            lines.append(f"{Path(v.content).stem} × {what}")
            lines.append(f"{v.picture.size}px · {self.frames} frames"
                         + (f" · {self.seconds / self.frames:.3g} s a frame"
                            if self.frames and self.seconds else ""))
        lines.append(self.video if Path(self.video).exists()
                     else f"{self.video} (no longer there)")
        return "\n".join(lines)


def _sidecar(entry: HistoryEntry) -> dict[str, Any]:
    data = {"format": SIDECAR_FORMAT, "image": Path(entry.image_path).name,
            "created": entry.created, "iterations": entry.iterations, "seconds": entry.seconds,
            "status": entry.status, "reason": entry.reason, "source": entry.source,
            "settings": entry.settings_data}
    if entry.kind == "video":
        data.update(kind="video", video=entry.video, frames=entry.frames,
                    video_settings=entry.video_settings_data)
    return data


def _number(data: dict, key: str, kind: type, default=None):
    v = data.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{key} is not a number: {v!r}")
    return kind(v)


def _parse(meta: Path, data: Any) -> HistoryEntry:
    """An entry from its sidecar; ValueError when a field is missing or of the wrong kind."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "image" in data:  # this format
        image = data["image"]
        status = data.get("status", "done")
    else:  # entries of the first format: image_path, stopped, note
        image = Path(str(data.get("image_path", ""))).name
        status = "stopped" if data.get("stopped") else "done"
    if not isinstance(image, str) or not image or Path(image).name != image:
        raise ValueError(f"bad image name {image!r}")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    created = _number(data, "created", float)
    if not 0 <= created <= time.time() + 366 * 86400:
        raise ValueError(f"created is not a plausible time: {created!r}")
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ValueError("settings is not an object")
    reason = data.get("reason", data.get("note", ""))
    source = data.get("source", "")
    if not isinstance(reason, str) or not isinstance(source, str):
        raise ValueError("reason and source must be text")
    kind = data.get("kind", "still")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    video, video_settings = data.get("video", ""), data.get("video_settings")
    if kind == "video" and (not isinstance(video, str) or not video):
        raise ValueError(f"bad video path {video!r}")
    if video_settings is not None and not isinstance(video_settings, dict):
        raise ValueError("video_settings is not an object")
    return HistoryEntry(str(meta.with_name(image)), created,
                        _number(data, "iterations", int, 0), _number(data, "seconds", float, 0.0),
                        status, reason, source, settings, kind,
                        video if kind == "video" else "", _number(data, "frames", int, 0),
                        video_settings if kind == "video" else None)


class HistoryStore:
    """Entries in a folder, oldest first."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def add(self, result, source: str = "") -> HistoryEntry | None:
        """Record a still result (`nst_core.StillResult`). A result with no iteration done (a
        stop before the first one) is the photo itself and is not recorded: None."""
        if result is None or result.iterations == 0:
            return None
        return self.add_image(result.image, result.settings, result.iterations,
                              float(result.timings.get("total", 0.0)), result.status,
                              result.reason, source, alpha=result.alpha)

    def add_video(self, result, settings, source: str = "") -> HistoryEntry | None:
        """Record a finished video (`nst_core.kinds.video.VideoResult` of a render of
        `settings`, `VideoSettings`): its poster frame (the last frame repainted, or the written
        video's middle frame) and where the video is. A render that wrote no video (stopped,
        failed: its frames wait in the cache to be continued) is not recorded: None. Raises
        OSError or NSTError when the poster cannot be read or the folder written."""
        if result is None or result.status != "done" or not result.output:
            return None
        poster = result.last if result.last is not None else poster_frame(result.output)
        return self.add_image(poster, settings.picture, sum(result.iterations),
                              result.seconds_per_frame * result.frames, "done", result.reason,
                              source, kind="video", video=str(result.output),
                              frames=result.frames, video_settings_data=settings.to_dict())

    def add_image(self, rgb: np.ndarray, settings: TransferSettings, iterations: int,
                  seconds: float, status: str = "done", reason: str = "",
                  source: str = "", alpha: np.ndarray | None = None,
                  **video: Any) -> HistoryEntry:
        """Write the picture (with the photo's transparency, `alpha`), then its sidecar, each
        atomically (`video`: the entry's video fields when the picture is a video's poster).
        Raises OSError or NSTError when the folder cannot be written."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while True:
            base = self.folder / (f"run-{stamp}" if n == 1 else f"run-{stamp}-{n}")
            try:
                png = save_image(base.with_suffix(".png"), rgb, settings.to_json(),
                                 alpha=alpha)
                break
            except FileExistsError:  # OutputExistsError: another entry took the name
                n += 1
        entry = HistoryEntry(str(png), time.time(), int(iterations), float(seconds), status,
                             reason, source, settings.to_dict(), **video)
        write_atomic(base.with_suffix(".json"), json.dumps(_sidecar(entry)).encode("utf-8"))
        return entry

    def remove(self, entry: HistoryEntry) -> None:
        """Delete an entry: its picture, then its sidecar (a sidecar left alone by a crash
        between the two lists nothing). A video's own file stays where it was rendered.
        ValueError for a picture outside this history; OSError when a file cannot be
        deleted."""
        png = Path(entry.image_path)
        if png.parent.resolve() != self.folder.resolve() or not png.name.startswith("run-"):
            raise ValueError(f"{png} is not in the history in {self.folder}")
        for path in (png, png.with_suffix(".json")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def entries(self) -> list[HistoryEntry]:
        """Every entry, oldest first. A damaged sidecar is skipped with a warning and its
        picture, like a PNG whose sidecar was never written, is listed from the PNG (status
        "unknown", settings read from the PNG when asked): no picture is hidden."""
        out: list[HistoryEntry] = []
        if not self.folder.is_dir():
            return out
        covered: set[str] = set()
        for meta in sorted(self.folder.glob("run-*.json")):
            try:
                entry = _parse(meta, json.loads(meta.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, OverflowError, RecursionError) as e:
                log.warning("skipping unreadable history entry %s: %s", meta.name, e)
                continue
            covered.add(Path(entry.image_path).name)
            if Path(entry.image_path).is_file():
                out.append(entry)
        for png in sorted(self.folder.glob("run-*.png")):
            if png.name in covered:
                continue
            try:
                st = png.stat()
            except OSError:
                continue
            out.append(HistoryEntry(str(png), st.st_mtime, 0, 0.0, "unknown"))
        out.sort(key=lambda e: e.created)
        return out


def poster_frame(output: str | Path) -> np.ndarray:
    """The middle frame of a written video, or the middle PNG of a folder of frames; ImageError
    when there is none to read."""
    from nst_core.base.errors import ImageError
    from nst_core.media.images import load_image
    from nst_core.media.video import frame_at, probe

    path = Path(output)
    if path.is_dir():
        pngs = sorted(path.glob("frame_*.png"))
        if not pngs:
            raise ImageError(f"{path}: no frames in the folder")
        return load_image(pngs[len(pngs) // 2]).rgb
    return frame_at(path, probe(path).duration / 2).rgb
