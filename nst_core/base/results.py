"""What every kind of job's result says of how its run ended (docs/jobs.md)."""
from __future__ import annotations

from typing import Literal

#: done; stopped on request (keeping the best so far); failed (keeping the last good state)
Status = Literal["done", "stopped", "failed"]


class Ended:
    """The part of a result every kind shares: `status` and `reason` (one line for a person).
    Results are dataclasses that declare both fields."""

    status: Status
    reason: str

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    @property
    def failed(self) -> bool:
        return self.status == "failed"
