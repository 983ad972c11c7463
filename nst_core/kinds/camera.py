"""The camera job: a camera feed (or a video file standing in for one) repainted frame by frame
by an instant style's network, as fast as it runs."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nst_core.base.errors import DeviceError, ImageError, SettingsError
from nst_core.base.events import Event, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.job import Job, Run
from nst_core.media.images import fit_long_side, resize
from nst_core.networks.stylize import (
    ColorChoice,
    cached_model,
    check_colors,
    check_strength,
    stylize,
)
from nst_core.runtime.devices import resolve_device


@dataclass
class CameraResult(Ended):
    frames: int
    fps: float
    status: Status = "done"
    reason: str = ""
    last: np.ndarray | None = None

    @property
    def picture(self) -> np.ndarray | None:
        return self.last


@dataclass(frozen=True)
class CameraJob(Job):
    """A camera feed (or a video file standing in for one) repainted as fast as the model
    runs. `source`: a camera number ("0") or a video file. Runs until stopped, until the
    source ends, or for `max_frames` frames (0: no limit)."""

    model: str
    source: str = "0"
    size: int = 512
    strength: float = 1.0
    color: ColorChoice = "style"
    device: str = "auto"
    max_frames: int = 0
    kind = "camera"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> CameraRun:
        return CameraRun(self, stop)

    def payload(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "size": self.size,
                "strength": self.strength, "color": self.color, "device": self.device,
                "max_frames": self.max_frames}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CameraJob:
        known = {"model", "source", "size", "strength", "color", "device", "max_frames"}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of a camera job")
        if "model" not in data:
            raise SettingsError("model", "choose an instant-style model")
        try:
            return cls(str(data["model"]), str(data.get("source", "0")),
                       int(data.get("size", 512)), float(data.get("strength", 1.0)),
                       str(data.get("color", "style")), str(data.get("device", "auto")),
                       int(data.get("max_frames", 0)))
        except (TypeError, ValueError) as e:
            raise SettingsError("camera", f"a field has the wrong kind of value ({e})") from None


class CameraRun(Run):
    def __init__(self, job: CameraJob, stop: threading.Event | None = None):
        super().__init__(stop)
        import cv2

        check_strength(job.strength)
        check_colors(job.color)
        self.job = job
        self.device = resolve_device(job.device)
        self.model = cached_model(job.model)
        src = job.source.strip()
        if src.isdigit():
            self.cap = cv2.VideoCapture(int(src))
            if not self.cap.isOpened():
                raise DeviceError(f"No camera number {src} answers on this machine; connect "
                                  "one, or name a video file to stand in for it.")
        else:
            if not Path(src).is_file():
                raise ImageError(src, "file not found; check the path")
            self.cap = cv2.VideoCapture(src)
            if not self.cap.isOpened():
                raise ImageError(src, "not a video this app can read")

    def events(self) -> Iterator[Event]:
        import cv2

        job, timer = self.job, Timer()
        net = self.model.network()
        n, last = 0, None
        try:
            while not self._stop.is_set() and (job.max_frames <= 0 or n < job.max_frames):
                ok, frame = self.cap.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                h, w = rgb.shape[:2]
                if job.size and max(h, w) != job.size:
                    rgb = resize(rgb, fit_long_side(w, h, job.size))
                last = stylize(net, rgb, self.device, job.strength, job.color)
                n += 1
                t = timer()
                yield Progress(iteration=n, total=max(n, job.max_frames), scale=0, scales=1,
                               size=(last.shape[1], last.shape[0]), losses={}, elapsed=t,
                               eta=None, rate=n / t)
                yield Preview(last, n)
        finally:
            self.cap.release()
        t = timer()
        status: Status = "stopped" if self._stop.is_set() else "done"
        self.result = CameraResult(n, n / t if t > 0 else 0.0, status,
                                   f"{n} frames at {n / max(t, 1e-9):.1f} frames per second",
                                   last)
