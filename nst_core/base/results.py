"""What every kind of job's result says of how its run ended (docs/jobs.md)."""
from __future__ import annotations

from typing import Literal

import numpy as np

#: done; stopped on request (keeping the best so far); failed (keeping the last good state)
Status = Literal["done", "stopped", "failed"]


class Ended:
    """The part of a result every kind shares: `status`, `reason` (one line for a person) and
    `picture`, what the result shows a person (the painted picture, a video's last frame, a
    training's strip of previews; None when there is none). Results are dataclasses that
    declare `status` and `reason`; `picture` is each kind's own field under one name."""

    status: Status
    reason: str

    @property
    def picture(self) -> np.ndarray | None:
        return None

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    @property
    def failed(self) -> bool:
        return self.status == "failed"
