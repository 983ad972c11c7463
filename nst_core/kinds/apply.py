"""The apply job: one photo repainted by an instant style's network in one forward pass."""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst_core.base.errors import OutOfMemoryError, SettingsError
from nst_core.base.events import Event, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.job import Job, Run
from nst_core.media.images import fit_long_side, load_image, resize
from nst_core.networks.stylize import (
    ColorChoice,
    cached_model,
    check_colors,
    check_strength,
    stylize,
)
from nst_core.runtime.devices import is_oom, resolve_device


@dataclass
class ApplyResult(Ended):
    image: np.ndarray  # (H, W, 3) uint8
    model: str  # the model file
    painting: str
    status: Status = "done"
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    alpha: np.ndarray | None = None

    @property
    def picture(self) -> np.ndarray | None:
        return self.image


@dataclass(frozen=True)
class ApplyJob(Job):
    """One photo repainted by a model. `size`: long side of the output (0: the photo's own)."""

    model: str
    content: str
    size: int = 0
    strength: float = 1.0
    color: ColorChoice = "style"
    device: str = "auto"
    kind = "apply"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> ApplyRun:
        return ApplyRun(self, stop)

    def payload(self) -> dict[str, Any]:
        return {"model": self.model, "content": self.content, "size": self.size,
                "strength": self.strength, "color": self.color, "device": self.device}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ApplyJob:
        known = {"model", "content", "size", "strength", "color", "device"}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of an apply job")
        try:
            return cls(str(data.get("model", "")), str(data.get("content", "")),
                       int(data.get("size", 0)), float(data.get("strength", 1.0)),
                       str(data.get("color", "style")), str(data.get("device", "auto")))
        except (TypeError, ValueError) as e:
            raise SettingsError("apply", f"a field has the wrong kind of value ({e})") from None

    @property
    def title(self) -> str:
        return f"{Path(self.content).stem} × {Path(self.model).stem} (instant)"

    def input_files(self) -> list[str]:
        return [self.model, self.content]

    def with_input_files(self, mapping: dict[str, str]) -> ApplyJob:
        return dataclasses.replace(self, model=mapping.get(self.model, self.model),
                                   content=mapping.get(self.content, self.content))


class ApplyRun(Run):
    def __init__(self, job: ApplyJob, stop: threading.Event | None = None):
        super().__init__(stop)
        check_strength(job.strength)
        check_colors(job.color)
        if isinstance(job.size, bool) or not (job.size == 0 or 16 <= job.size <= 16384):
            raise SettingsError("size", f"must be 0 (the photo's own size) or from 16 to 16384 "
                                        f"(got {job.size!r})")
        self.job = job
        self.device = resolve_device(job.device)
        self.model = cached_model(job.model)
        self.content = load_image(job.content)

    def events(self) -> Iterator[Event]:
        job, timer = self.job, Timer()
        rgb, alpha = self.content.rgb, self.content.alpha
        if job.size:
            size = fit_long_side(*self.content.size, job.size)
            rgb = resize(rgb, size)
            alpha = resize(alpha, size) if alpha is not None else None
        try:
            out = stylize(self.model.network(), rgb, self.device, job.strength, job.color)
        except Exception as e:
            if is_oom(e):
                h, w = rgb.shape[:2]
                raise OutOfMemoryError(f"Not enough memory to repaint a {w}x{h} picture on "
                                       f"{self.device.type}; choose a smaller size.") from None
            raise
        t = timer()
        yield Progress(iteration=1, total=1, scale=0, scales=1, size=(out.shape[1], out.shape[0]),
                       losses={}, elapsed=t, eta=0.0)
        yield Preview(out, 1)
        self.result = ApplyResult(out, job.model, self.model.painting, "done",
                                  f"repainted in {t:.2f} s", {"total": t}, alpha)


