"""Running one job and keeping what it made: the same for the window and the command line.

`run_and_record` drains a job's events and, when the run ends (done, stopped or failed with an
image), writes the result to the history at once and yields `Finished` last.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from nst_core import NSTError, PreviewPolicy, RunFailedError
from nst_core.jobs import Job

from .history import HistoryEntry, HistoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """The last event of `run_and_record`."""

    result: Any  # the kind's result (a StillResult), or None when none was produced
    status: str  # done, stopped or failed
    message: str = ""  # why it failed
    entry: HistoryEntry | None = None  # where the history keeps it
    history_error: str = ""  # why the history could not keep it (the picture is in `result`)


def record(history: HistoryStore | None, result, source: str) -> tuple[HistoryEntry | None, str]:
    """Write a result to the history; never raises: returns (entry, problem)."""
    if history is None or result is None:
        return None, ""
    try:
        return history.add(result, source), ""
    except (OSError, NSTError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        log.error("could not write the result to the history in %s: %s", history.folder, reason)
        return None, f"The picture could not be written to the history in {history.folder} " \
                     f"({reason}); save it with Save As."


def run_and_record(job: Job, history: HistoryStore | None, source: str,
                   previews: PreviewPolicy | None = None,
                   stop: threading.Event | None = None) -> Iterator[Any]:
    """Prepare and run `job`, yielding its events, then `Finished`. Bad input raises the
    engine's NSTError from the first `next()` (nothing was produced)."""
    run = job.prepare(previews, stop)
    try:
        yield from run.events()
        result, status, message = run.result, run.result.status, ""
    except RunFailedError as e:
        result, status, message = e.result, "failed", str(e)
    entry, problem = record(history, result, source)
    yield Finished(result, status, message, entry, problem)
