"""Chunks of a video render, for the workers of a cluster: frames `first` to `end` painted on
their own and sent back as PNG bytes (nst_app.video_cluster shares a render out and joins it)."""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nst_core.base.errors import RunFailedError, SettingsError
from nst_core.base.events import Event, PreviewPolicy
from nst_core.base.results import Ended, Status
from nst_core.job import Job, Run
from nst_core.kinds.video import VideoJob, VideoResult, VideoRun
from nst_core.media.frame_cache import kept_frames
from nst_core.settings.tuning import Tuning
from nst_core.settings.video import VideoSettings


@dataclass
class ChunkResult(Ended):
    """What a chunk made: its frames as PNG bytes, in order (lead-in frames first)."""

    first: int  # the first of the render's frames this chunk repainted (lead-in included)
    frames: list[bytes]
    status: Status = "done"
    reason: str = ""
    seconds_per_frame: float = 0.0


@dataclass(frozen=True)
class VideoChunkJob(Job):
    """Frames `first` to `end` (indices among the render's frames) of a video render, painted
    on their own: the first of them starts afresh, the rest follow it along the flow. A render
    shared between workers gives each a chunk that begins a few frames before the frames it is
    kept for (a lead-in), and cross-fades the overlap (nst_app.video_cluster). The frames come
    back as PNG bytes, so the worker needs no shared folder; no sound, no file."""

    settings: VideoSettings
    first: int
    end: int
    tuning: Tuning = Tuning()
    kind = "video_chunk"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> ChunkRun:
        return ChunkRun(self, previews or PreviewPolicy(), stop)

    def payload(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "first": self.first, "end": self.end,
                "tuning": self.tuning.to_dict()}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> VideoChunkJob:
        unknown = set(data) - {"settings", "first", "end", "tuning"}
        if unknown:
            raise SettingsError(min(unknown), "unknown field of a video chunk")
        try:
            first, end = int(data["first"]), int(data["end"])
        except (KeyError, TypeError, ValueError):
            raise SettingsError("first", "a chunk needs whole numbers first and end") from None
        return cls(VideoSettings.from_dict(data.get("settings", {})), first, end,
                   Tuning.from_dict(data.get("tuning", {})))

    @property
    def title(self) -> str:
        return f"{Path(self.settings.content).stem} frames {self.first + 1}-{self.end}"

    def input_files(self) -> list[str]:
        return VideoJob(self.settings).input_files()

    def with_input_files(self, mapping: dict[str, str]) -> VideoChunkJob:
        moved = VideoJob(self.settings).with_input_files(mapping)
        return dataclasses.replace(self, settings=moved.settings)


class ChunkRun(Run):
    def __init__(self, job: VideoChunkJob, previews: PreviewPolicy,
                 stop: threading.Event | None = None):
        super().__init__(stop)
        self.job = job
        self.folder = Path(tempfile.mkdtemp(prefix="nst-video-chunk-"))
        # removed when the events end, or when the run is dropped without being drained
        self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, True)
        settings = job.settings.replace(output=str(self.folder / "frames"), overwrite=True)
        try:
            self.inner = VideoRun(VideoJob(settings, job.tuning), previews, self._stop,
                                  (job.first, job.end))
        except BaseException:
            self._remove_folder()
            raise

    def events(self) -> Iterator[Event]:
        try:
            try:
                yield from self.inner.events()
                inner = self.inner.result
            except RunFailedError as e:
                raise RunFailedError(str(e), result=self._result(e.result)) from None
            self.result = self._result(inner)
        finally:
            self._remove_folder()

    def _result(self, inner: VideoResult | None) -> ChunkResult:
        if inner is None:
            return ChunkResult(self.job.first, [], "failed", "nothing was repainted")
        if inner.output:
            files = sorted(Path(inner.output).glob("frame_*.png"))
        else:  # stopped or failed: the frames finished so far
            files = kept_frames(self.inner.cache)
        return ChunkResult(self.job.first, [p.read_bytes() for p in files], inner.status,
                           inner.reason, inner.seconds_per_frame)
