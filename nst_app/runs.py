"""Running one job and keeping what it made: the same for the window and the command line.

`run_and_record` drains a job's events and, when the run ends (done, stopped or failed with an
image; a video once it is written), writes the result to the history at once and yields
`Finished` last. `recorded` does the same for events that end in a `Finished` of their own (a
video rendered on a Ray cluster).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from nst_core import NSTError, PreviewPolicy, RunFailedError
from nst_core.job import Job
from nst_core.media.files import os_reason

from .history import HistoryEntry, HistoryStore
from .keepers import keeper_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """The last event of `run_and_record`."""

    result: Any  # the kind's result (a StillResult), or None when none was produced
    status: str  # done, stopped or failed
    message: str = ""  # why it failed
    entry: HistoryEntry | None = None  # where the history keeps it
    history_error: str = ""  # why the history could not keep it (the picture is in `result`)
    kind: str = ""  # the kind of job that ran (its keeper's, nst_app.keepers)


def record(history: HistoryStore | None, result, source: str,
           job: Job) -> tuple[HistoryEntry | None, str]:
    """Write what `job` made to the history, as its kind's keeper says; never raises: returns
    (entry, problem)."""
    if history is None or result is None:
        return None, ""
    keeper = keeper_for(job)
    try:
        return keeper.record(history, job, result, source), ""
    except (OSError, NSTError) as e:
        reason = os_reason(e) if isinstance(e, OSError) else str(e)
        log.error("could not write the result to the history in %s: %s", history.folder, reason)
        return None, keeper.history_problem(history, result, reason)


def recorded(events: Iterator[Any], job: Job, history: HistoryStore | None,
             source: str) -> Iterator[Any]:
    """`events` as they come, with the result of their `Finished` written to the history
    (`job`: what they run)."""
    for event in events:
        if isinstance(event, Finished) and event.entry is None and not event.history_error:
            entry, problem = record(history, event.result, source, job)
            event = dataclasses.replace(event, entry=entry, history_error=problem, kind=job.kind)
        yield event


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
    entry, problem = record(history, result, source, job)
    yield Finished(result, status, message, entry, problem, job.kind)
