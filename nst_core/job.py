"""The job contract (docs/jobs.md): every kind of work is a frozen description plus a run.

    job = StillJob(settings)                      # frozen; to_dict/from_dict; pickles
    run = job.prepare(previews=LIVE, stop=event)  # loads what it needs, or raises NSTError
    for event in run.events():                    # Progress, Preview, Note
        ...                                       # run.request_stop() from any thread
    run.result                                    # the kind's result (stopped: the best so far)

A description names its kind; `nst_core.catalogue.job_from_dict` rebuilds any kind the engine
ships from its dict, so a queue file, a command line's `--jobs` file and a Ray worker all carry
jobs as JSON.
"""
from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Iterator

from nst_core.base.events import Event, PreviewPolicy

JOB_FORMAT = 1


class Job(ABC):
    """A frozen description of one piece of work. Subclasses are frozen dataclasses."""

    kind: ClassVar[str]

    @abstractmethod
    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> "Run":
        """Validate, load inputs and networks, and return a run ready to start. Raises the
        engine's typed errors (NSTError) before any work starts."""

    @abstractmethod
    def payload(self) -> dict[str, Any]:
        """The kind's own fields as plain JSON values."""

    @classmethod
    @abstractmethod
    def from_payload(cls, data: dict[str, Any]) -> "Job":
        ...

    @property
    def title(self) -> str:
        """A short name for lists and logs."""
        return self.kind

    def validate(self) -> "Job":
        """Raise `SettingsError` for settings that cannot run, before anything is loaded (a
        queue file with a typo fails at once, not item by item); return the job."""
        return self

    def input_files(self) -> list[str]:
        """Files the job reads (a remote worker needs their bytes)."""
        return []

    def with_input_files(self, mapping: dict[str, str]) -> "Job":
        """The same job reading its files from other paths (old path -> new path)."""
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"job_format": JOB_FORMAT, "kind": self.kind, **self.payload()}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)


class Run(ABC):
    """One prepared piece of work. `events()` does it; `result` holds what it made."""

    def __init__(self, stop: threading.Event | None = None):
        self._stop = stop if stop is not None else threading.Event()
        self.result: Any = None

    def request_stop(self) -> None:
        """Ask the run to stop; it does so within one step and keeps its best so far.
        Safe from any thread."""
        self._stop.set()

    @abstractmethod
    def events(self) -> Iterator[Event]:
        """Do the work, yielding plain events; sets `result`. A failure raises the engine's
        `RunFailedError` (or a subclass) carrying the best result so far."""

    def run(self, on_event: Callable[[Event], None] | None = None) -> Any:
        """Blocking form: drain the events, return the result."""
        for event in self.events():
            if on_event is not None:
                on_event(event)
        return self.result
