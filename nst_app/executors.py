"""Executors: where the items of a batch run. Each takes (item id, job) pairs and yields what
happens to them as plain events; the batch queue (nst_app.batch) decides what to keep.

    for event in executor.run(items, stop, previews):
        ItemStarted | ItemEvent (wraps an engine event) | ItemRequeued | ItemFinished

`LocalExecutor` runs the items one after another in this process; `RayExecutor`
(nst_app.ray_executor) sends them to the workers of a Ray cluster. A stop request ends the items
that are running within one step (each keeps its best picture) and starts no other.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from nst_core import NSTError, PreviewPolicy, RunFailedError
from nst_core.job import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemStarted:
    item_id: str
    worker: str  # "local", or the Ray worker's node and process
    pid: int = 0  # the process rendering it


@dataclass(frozen=True)
class ItemEvent:
    item_id: str
    event: Any  # an engine event: Progress, Preview, Note


@dataclass(frozen=True)
class ItemRequeued:
    """The worker running the item died; the item goes back to the queue."""

    item_id: str
    reason: str


@dataclass(frozen=True)
class ItemFinished:
    item_id: str
    result: Any  # the job's result (done, stopped or failed with an image), or None
    error: str = ""  # why it failed; empty when it did not


class Executor(Protocol):
    name: str

    def run(self, items: Sequence[tuple[str, Job]], stop: threading.Event,
            previews: PreviewPolicy | None = None) -> Iterator[Any]:
        ...


def run_item(item_id: str, job: Job, stop: threading.Event,
             previews: PreviewPolicy | None) -> Iterator[Any]:
    """One item, start to end, in this process: its events wrapped, then `ItemFinished`.
    Never raises for the item's own failures: a bad input or a failed run is the item's
    error, and the next item goes on."""
    try:
        run = job.prepare(previews, stop)
        for event in run.events():
            yield ItemEvent(item_id, event)
        yield ItemFinished(item_id, run.result)
    except RunFailedError as e:
        yield ItemFinished(item_id, e.result, str(e))
    except NSTError as e:
        yield ItemFinished(item_id, None, str(e))
    except Exception as e:  # a bug must not take the rest of the batch down
        log.exception("unexpected error in batch item %s", item_id)
        yield ItemFinished(item_id, None, f"unexpected error: {type(e).__name__}: {e}")


class LocalExecutor:
    """The items one after another, in this process."""

    name = "this computer"

    def run(self, items: Sequence[tuple[str, Job]], stop: threading.Event,
            previews: PreviewPolicy | None = None) -> Iterator[Any]:
        for item_id, job in items:
            if stop.is_set():
                return
            yield ItemStarted(item_id, "local", os.getpid())
            yield from run_item(item_id, job, stop, previews)
