"""The one place that decides whether a kind of work may start in the window now.

Each kind of work owns its controller (and so its worker); the gate knows them all. Painting a
picture, training an instant style and rendering a video each take the whole machine, so one
of them runs at a time, never beside the batch queue (both at once would halve the speed of
each). Instant pictures are quick and wait for none of those, but the canvas belongs to the long
work while it runs."""
from __future__ import annotations

from dataclasses import dataclass

from .worker import JobController

#: the kinds that take the whole machine, one at a time
LONG = ("paint", "train", "video")


@dataclass
class _Kind:
    controller: JobController
    label: str  # how a message names it: "a painting", "a training", ...


class WorkGate:
    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}

    def add(self, kind: str, controller: JobController, label: str) -> None:
        self._kinds[kind] = _Kind(controller, label)

    def controller(self, kind: str) -> JobController:
        return self._kinds[kind].controller

    def controllers(self) -> list[JobController]:
        return [k.controller for k in self._kinds.values()]

    def running(self) -> list[str]:
        """The kinds of work under way now."""
        return [name for name, k in self._kinds.items() if k.controller.running]

    def long_running(self) -> str:
        """The long work under way ("paint", "train", "video"), or ""."""
        return next((name for name in self.running() if name in LONG), "")

    def busy(self) -> bool:
        """Anything under way at all (the window waits for it before it closes)."""
        return bool(self.running())

    def refusal(self, kind: str) -> str:
        """Why `kind` may not start now, in one line for the person; "" when it may."""
        long = self.long_running()
        if kind in LONG or kind == "batch":
            if long == kind:
                return f"{self._kinds[long].label.capitalize()} is already under way."
            if long:
                return (f"{self._kinds[long].label.capitalize()} is under way: stop it first "
                        "(Stop), or wait for it.")
            if kind != "batch" and "batch" in self.running():
                return ("The batch queue is running: stop it first, or wait for it (both at "
                        "once would halve the speed of each).")
            return ""
        if kind in ("instant", "camera") and long:
            return (f"Instant pictures wait until {self._kinds[long].label} under way ends.")
        return ""
