"""The still-picture job: one photo repainted in the style of one or more paintings.

    run = StillJob(settings).prepare()      # validates, loads images and network, plans scales
    for event in run.events(): ...          # Progress every iteration, Preview per policy
    run.result                              # StillResult: the best image (so far, if stopped)

The painting itself, coarse to fine, is `nst_core.painting.picture.Picture`; this kind reads the
files the settings name and hands it the pictures.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from nst_core.base.errors import SettingsError
from nst_core.base.events import Event, PreviewPolicy
from nst_core.job import Job, Run
from nst_core.media.images import load_image
from nst_core.media.masks import load_mask
from nst_core.painting.picture import Picture, StillResult
from nst_core.runtime.memory import released_after
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning

__all__ = ["StillJob", "StillRun", "StillResult"]


@dataclass(frozen=True)
class StillJob(Job):
    """Repaint one photo: what the person chose (`settings`) and how the engine works
    (`tuning`)."""

    settings: TransferSettings
    tuning: Tuning = Tuning()
    #: where the render keeps its checkpoint (nst_core.painting.checkpoint); empty: nowhere
    checkpoint: str = ""
    kind = "still"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> "StillRun":
        return StillRun(self, previews or PreviewPolicy(), stop)

    def payload(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "tuning": self.tuning.to_dict(),
                "checkpoint": self.checkpoint}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "StillJob":
        unknown = set(data) - {"settings", "tuning", "checkpoint"}
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of a still job")
        checkpoint = data.get("checkpoint", "")
        if not isinstance(checkpoint, str):
            raise SettingsError("checkpoint", "expected a file path")
        return cls(TransferSettings.from_dict(data.get("settings", {})),
                   Tuning.from_dict(data.get("tuning", {})), checkpoint)

    @property
    def title(self) -> str:
        styles = "+".join(Path(p).stem for p in self.settings.styles)
        return f"{Path(self.settings.content).stem} × {styles}"

    def validate(self) -> StillJob:
        self.settings.validate()
        self.tuning.validate()
        return self

    def input_files(self) -> list[str]:
        s = self.settings
        files = [s.content, *s.styles] + ([s.init_image] if s.init == "image" else [])
        return [f for f in [*files, *s.masks] if f]

    def with_input_files(self, mapping: dict[str, str]) -> "StillJob":
        s = self.settings
        return StillJob(s.replace(content=mapping.get(s.content, s.content),
                                  styles=tuple(mapping.get(p, p) for p in s.styles),
                                  init_image=mapping.get(s.init_image, s.init_image),
                                  masks=tuple(mapping.get(m, m) for m in s.masks)),
                        self.tuning, self.checkpoint)


class StillRun(Run):
    """A prepared still picture. Construction validates the settings, loads the images and the
    network, and checks memory, raising `SettingsError`, `ImageError`, `DeviceError`,
    `WeightsError` or `OutOfMemoryError` before any work starts."""

    def __init__(self, job: StillJob, previews: PreviewPolicy,
                 stop: threading.Event | None = None):
        super().__init__(stop)
        self.job = job
        self.previews = previews
        s = job.settings.validate()
        init_image = load_image(s.init_image) if s.init == "image" else None
        masks = [load_mask(m) if m else None for m in s.masks]
        self.picture = Picture(s, job.tuning.validate(), load_image(s.content),
                               [load_image(p) for p in s.styles], init_image, masks)

    @property
    def output_size(self) -> tuple[int, int]:
        return self.picture.output_size

    @property
    def evaluations(self) -> list[tuple[int, float, bool]]:
        """(scale, total loss, rejected) of every point the optimizer evaluated (benchmarks)."""
        return self.picture.evaluations

    @released_after
    def events(self) -> Iterator[Event]:
        self.result = yield from self.picture.paint(self.previews, self._stop,
                                                    self.job.checkpoint)
