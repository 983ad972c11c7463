"""The batch queue: many pictures, one item each, rendered by an executor, resumable.

An item is a job (every photo with every painting, or a list of settings) and the file it
ends in. `run_queue` drives a queue through an executor (this computer, or a Ray cluster) and
keeps what each item made: a finished picture is saved to its output (settings embedded) and
to the history; a stopped or failed item's best picture is saved beside it as
`NAME.partial.png`. Run again, it skips outputs already complete: an output is complete when
it exists and carries the item's own settings.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from nst_core import (ImageError, NSTError, PreviewPolicy, Progress, SettingsError,
                      TransferSettings, Tuning)
from nst_core.catalogue import job_from_dict
from nst_core.job import Job
from nst_core.kinds.still import StillJob
from nst_core.media.files import os_reason, write_atomic
from nst_core.media.images import check_output, load_image, read_settings_json

from .executors import Executor, ItemEvent, ItemFinished, ItemRequeued, ItemStarted
from .history import HistoryEntry, HistoryStore
from .keepers import keeper_for
from .runs import record

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
STATES = ("queued", "running", "done", "skipped", "failed", "stopped")
QUEUE_FORMAT = 1


@dataclass
class BatchItem:
    job: Job
    output: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "queued"  # queued, running, done, skipped, failed, stopped
    error: str = ""  # why it failed
    progress: float = 0.0  # 0..1 while running

    @property
    def title(self) -> str:
        return self.job.title

    @property
    def finished(self) -> bool:
        return self.state in ("done", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "job": self.job.to_dict(), "output": self.output,
                "state": self.state, "error": self.error}

    @classmethod
    def from_dict(cls, data: Any) -> "BatchItem":
        if not isinstance(data, dict):
            raise SettingsError("item", "expected a JSON object")
        state = data.get("state", "queued")
        if state not in STATES:
            raise SettingsError("state", f"unknown state {state!r}")
        if state == "running":  # the app ended while it ran
            state = "queued"
        output, item_id, error = data.get("output"), data.get("id"), data.get("error", "")
        if not all(isinstance(v, str) for v in (output, item_id, error)) or not output:
            raise SettingsError("item", "output, id and error must be text")
        return cls(job_from_dict(data.get("job")), output, item_id, state, error)


def partial_path(output: str | Path) -> Path:
    """Where a stopped or failed item's best picture goes: beside its output."""
    p = Path(output)
    return p.with_name(f"{p.stem}.partial.png")


def output_name(settings: TransferSettings) -> str:
    """`photo__painting.png`, or `photo__a+b.png` for a blend: a person sees which pair."""
    styles = "+".join(Path(p).stem[:60] for p in settings.styles)[:120]
    return f"{Path(settings.content).stem[:60]}__{styles}.png"


def not_outputs(photos: Iterable[str], names: Iterable[str]) -> list[str]:
    """`photos` without the pictures a run names `photo__<name>.png` (or `-2` ...) after one
    of `names` (its paintings or model), and without any run's `.partial.png` pictures: a run
    writing into its photo folder must not take its own pictures as photos the next time."""
    names = [n for n in names if n]
    own = re.compile(r"__(" + "|".join(re.escape(n) for n in names) + r")(-\d+)?$") \
        if names else None
    return [p for p in photos if not Path(p).name.endswith(".partial.png")
            and not (own and own.search(Path(p).stem))]


def expand_images(inputs: Iterable[str | Path]) -> list[str]:
    """Files as given, and the images inside folders (not recursive, by name)."""
    out: list[str] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            out += [str(f.absolute()) for f in sorted(p.iterdir())
                    if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                    and not f.name.startswith(".")]
        else:
            out.append(str(p.absolute()))
    return out


def plan_items(contents: Sequence[str], styles: Sequence[str], outdir: str | Path,
               base: TransferSettings, tuning: Tuning = Tuning(), blend: bool = False,
               taken: Iterable[str] = ()) -> list[BatchItem]:
    """Every photo with every painting (or, with `blend`, with all paintings blended), one
    item each, outputs in `outdir` with names distinct from each other and from `taken`."""
    outdir = Path(outdir)
    pairs = [(c, tuple(styles)) for c in contents] if blend else \
        [(c, (s,)) for c in contents for s in styles]
    items = []
    for content, style in pairs:
        settings = base.replace(content=content, styles=style,
                                style_blend=base.style_blend if blend else ())
        items.append(BatchItem(StillJob(settings, tuning), ""))
    return name_outputs(items, outdir, taken)


def name_outputs(items: list[BatchItem], outdir: Path,
                 taken: Iterable[str] = ()) -> list[BatchItem]:
    """Give each item without an output a `photo__painting.png` in `outdir` distinct from the
    others' and from `taken` (`photo__painting-2.png`, ...)."""
    taken = {*taken, *(it.output for it in items if it.output)}
    for it in items:
        if it.output:
            continue
        settings = keeper_for(it.job).settings_of(it.job)
        name = output_name(settings) if settings is not None else f"{it.id}.png"
        p, n = outdir / name, 2
        while str(p) in taken:
            p = outdir / f"{Path(name).stem}-{n}.png"
            n += 1
        it.output = str(p)
        taken.add(str(p))
    return items


def items_from_jobs_file(path: str | Path, outdir: str | Path, defaults: TransferSettings,
                         tuning: Tuning = Tuning()) -> list[BatchItem]:
    """`--jobs jobs.json`: a list of settings objects (missing fields take `defaults`; an
    optional "output" names the file) or of job objects (with a "kind")."""
    from .settings_io import read_json_file

    p = Path(path)
    data = read_json_file(p, "jobs")
    if not isinstance(data, list) or not data:
        raise SettingsError("jobs", f"{p} must hold a non-empty list of settings")
    items = []
    for i, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            raise SettingsError("jobs", f"entry {i} of {p.name} is not an object")
        entry = dict(entry)
        output = entry.pop("output", "")
        if not isinstance(output, str):
            raise SettingsError("jobs", f"entry {i}: output must be a file name")
        try:
            if "kind" in entry:
                job = job_from_dict(entry)
            else:
                job = StillJob(TransferSettings.from_dict({**defaults.to_dict(), **entry}),
                               tuning)
            job.validate()  # a typo fails the file now, not item by item later
        except SettingsError as e:
            raise SettingsError("jobs", f"entry {i} of {p.name}: {e}") from None
        if output:
            output = str(Path(outdir) / output) if not Path(output).is_absolute() else output
            earlier = next((k for k, it in enumerate(items, 1) if it.output == output), None)
            if earlier is not None:
                raise SettingsError("jobs", f"entries {earlier} and {i} of {p.name} both write "
                                    f"{Path(output).name}; give each its own output")
        items.append(BatchItem(job, output))
    return name_outputs(items, Path(outdir))


def on_disk(item: BatchItem) -> str:
    """"complete" when the output exists, carries the item's settings and decodes whole;
    "damaged" when it carries them but does not decode (cut short outside this app, whose
    writes are atomic); "other" when a different picture is there; "missing" otherwise."""
    p = Path(item.output)
    if not p.is_file():
        return "missing"
    settings = keeper_for(item.job).settings_of(item.job)
    try:
        text = read_settings_json(p)
        if text is not None and settings is not None and \
                TransferSettings.from_json(text) == settings:
            try:
                load_image(p)  # the settings come first in the file: the pixels may not
            except ImageError:
                return "damaged"
            return "complete"
    except NSTError:
        pass
    return "other"


class BatchQueue:
    """Items in order, saved to `path` (when given) after every change, so the queue survives
    a restart of the app."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.items: list[BatchItem] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: str) -> BatchItem | None:
        return next((it for it in self.items if it.id == item_id), None)

    def add(self, items: Iterable[BatchItem]) -> None:
        self.items.extend(items)
        self.save()

    def remove(self, ids: Iterable[str]) -> None:
        ids = set(ids)
        self.items = [it for it in self.items if it.id not in ids or it.state == "running"]
        self.save()

    def clear_finished(self) -> None:
        self.items = [it for it in self.items if not it.finished]
        self.save()

    def to_do(self) -> list[BatchItem]:
        """Items not yet finished (a failed or stopped one is tried again)."""
        return [it for it in self.items if not it.finished]

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            data = {"queue_format": QUEUE_FORMAT, "items": [it.to_dict() for it in self.items]}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(data, indent=1).encode("utf-8"))
            except OSError as e:
                log.error("could not save the batch queue to %s: %s", self.path, e)

    @classmethod
    def load(cls, path: str | Path) -> "BatchQueue":
        """The queue saved at `path`; an unreadable file gives an empty queue and a damaged
        item is skipped, each with a warning."""
        q = cls(path)
        p = Path(path)
        if not p.is_file():
            return q
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            items = data["items"] if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ValueError("no list of items")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
            log.warning("ignoring the unreadable batch queue %s: %s", p, e)
            return q
        for i, raw in enumerate(items, 1):
            try:
                q.items.append(BatchItem.from_dict(raw))
            except (NSTError, ValueError, TypeError) as e:
                log.warning("skipping item %d of the batch queue: %s", i, e)
        return q


# ---- running -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemDone:
    """An item ended: done, skipped, failed or stopped; `output` is the file it left."""

    item_id: str
    state: str
    output: str = ""
    error: str = ""
    seconds: float = 0.0
    entry: HistoryEntry | None = None  # where the history keeps its picture


@dataclass(frozen=True)
class QueueDone:
    done: int
    skipped: int
    failed: int
    stopped: int
    remaining: int  # not started (the queue was stopped)
    seconds: float


def run_queue(q: BatchQueue, executor: Executor, history: HistoryStore | None,
              stop: threading.Event, overwrite: bool = False,
              previews: PreviewPolicy | None = None, source: str = "batch") -> Iterator[Any]:
    """Render the queue's unfinished items through `executor`, yielding the executor's
    events (ItemStarted, ItemEvent, ItemRequeued) and ItemDone for each item that ends, then
    QueueDone. Never raises for an item's failure; the queue file follows every change."""
    t0 = time.perf_counter()
    counts = dict(done=0, skipped=0, failed=0, stopped=0)
    todo: list[BatchItem] = []
    for it in q.to_do():
        state = on_disk(it)
        if state == "damaged":  # this item's own picture, unreadable: painted again
            log.warning("%s is damaged (it does not decode); painting it again", it.output)
            try:
                Path(it.output).unlink()
                state = "missing"
            except OSError as e:
                log.warning("cannot remove %s: %s", it.output, os_reason(e))
        if state == "complete" and not overwrite:
            it.state, it.error = "skipped", ""
            counts["skipped"] += 1
            yield ItemDone(it.id, "skipped", it.output)
            continue
        try:
            check_output(it.output, overwrite=overwrite or state == "missing")
        except NSTError as e:
            hint = " (use --overwrite, or another output folder)" if state == "other" else ""
            it.state, it.error = "failed", str(e) + hint
            counts["failed"] += 1
            yield ItemDone(it.id, "failed", "", it.error)
            continue
        it.state, it.error, it.progress = "queued", "", 0.0
        todo.append(it)
    q.save()
    by_id = {it.id: it for it in todo}
    started: dict[str, float] = {}
    try:
        yield from _drain(q, executor.run([(it.id, it.job) for it in todo], stop, previews),
                          by_id, started, counts, history, overwrite, source)
    finally:  # the executor failed (a cluster out of reach) or the caller let go
        for it in todo:
            if it.state == "running":
                it.state = "queued"
        q.save()
    remaining = sum(1 for it in todo if it.state == "queued")
    yield QueueDone(counts["done"], counts["skipped"], counts["failed"], counts["stopped"],
                    remaining, time.perf_counter() - t0)


def _drain(q: BatchQueue, events: Iterator[Any], by_id: dict[str, BatchItem],
           started: dict[str, float], counts: dict[str, int], history: HistoryStore | None,
           overwrite: bool, source: str) -> Iterator[Any]:
    """Follow the executor's events: item states, progress, and keeping what each made."""
    for event in events:
        if isinstance(event, ItemStarted):
            it = by_id[event.item_id]
            it.state, started[it.id] = "running", time.perf_counter()
            q.save()
        elif isinstance(event, ItemEvent):
            p = event.event
            if isinstance(p, Progress) and p.total:
                by_id[event.item_id].progress = p.iteration / p.total
        elif isinstance(event, ItemRequeued):
            by_id[event.item_id].state = "queued"
            q.save()
        elif isinstance(event, ItemFinished):
            it = by_id[event.item_id]
            done = _keep(it, event, history, overwrite, source,
                         time.perf_counter() - started.get(it.id, time.perf_counter()))
            counts[done.state] += 1
            q.save()
            yield event
            yield done
            continue
        yield event


def _keep(it: BatchItem, event: ItemFinished, history: HistoryStore | None, overwrite: bool,
          source: str, seconds: float) -> ItemDone:
    """Save what a finished item made, set its state, and say so."""
    result, keeper = event.result, keeper_for(it.job)
    status = "failed" if event.error else result.status if result is not None else "done"
    it.progress = 1.0 if status == "done" else it.progress
    saved, entry = "", None
    problem = event.error
    if keeper.has_work(result):
        try:
            if keeper.output and status == "done":
                saved = str(keeper.save(result, it.output, overwrite))
                partial_path(it.output).unlink(missing_ok=True)
            elif keeper.output:
                saved = str(keeper.save(result, partial_path(it.output), True))
        except (NSTError, OSError) as e:
            reason = os_reason(e) if isinstance(e, OSError) else str(e)
            problem = (problem + "; " if problem else "") + f"cannot write {it.output}: {reason}"
            status = "failed"
        entry, history_problem = record(history, result, source, it.job)
        if history_problem:
            log.warning(history_problem)
    it.state = {"done": "done", "stopped": "stopped"}.get(status, "failed")
    it.error = problem if it.state == "failed" else ""
    return ItemDone(it.id, it.state, saved, it.error, seconds, entry)
