"""A picture on show in the window: its pixels and how the run that made it went."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QImage

from nst_app.history import HistoryEntry
from nst_app.runs import Finished
from nst_core import TransferSettings

from .qtimage import to_qimage


@dataclass
class RunOutcome:
    """A picture on show: its pixels (and as a QImage) and how its run went."""

    rgb: np.ndarray
    image: QImage
    settings: TransferSettings
    iterations: int
    seconds: float
    status: str = "done"  # done, stopped, failed
    reason: str = ""
    losses: list[dict[str, float]] = field(default_factory=list)
    entry: HistoryEntry | None = None  # where the history keeps it
    final_losses: dict[str, float] = field(default_factory=dict)  # the kept picture's
    kind: str = "still"  # what made it: "still" (optimized) or "instant" (a style's network)
    alpha: np.ndarray | None = None  # the photo's transparency, given back when saved
    deep: np.ndarray | None = None  # the picture at 16 bits, for a TIFF

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    @classmethod
    def from_finished(cls, f: Finished) -> "RunOutcome | None":
        r = f.result
        if r is None:
            return None
        return cls(r.image, to_qimage(r.image), r.settings, r.iterations,
                   float(r.timings.get("total", 0.0)), r.status, r.reason, list(r.losses),
                   f.entry, dict(r.final_losses), alpha=r.alpha, deep=r.deep)
