"""A video render shared between workers (a Ray cluster, or any executor): the frames are cut
into chunks, one per item, each starting a few frames early (a lead-in) so that it is already
steady where its own frames begin; the overlap is cross-faded from one chunk into the next, so
no jump shows at a border. The driver keeps finished chunks in the render's frame folder (the
same one a render on this computer uses), so a stopped render continues with the chunks still
missing, and writes the video with the clip's sound once every frame is there.

    for event in render_chunks(VideoJob(settings), RayExecutor("auto"), stop):
        ...   # Progress (frames done), Preview (a chunk's last frame), Note; then `Finished`
"""
from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nst_core import NONE, Note, Preview, PreviewPolicy, Progress
from nst_core.base.events import Timer
from nst_core.media.frame_cache import frame_path, lead_path
from nst_core.media.files import write_atomic
from nst_core.media.images import png_bytes, rgb_from_png
from nst_core.kinds.video import VideoJob, VideoResult, VideoRun
from nst_core.kinds.video_chunk import VideoChunkJob

from .executors import ItemEvent, ItemFinished, ItemRequeued
from .runs import Finished

#: Frames each chunk repaints before the frames it is kept for (cross-faded with the chunk
#: before it).
LEAD = 4


@dataclass(frozen=True)
class Chunk:
    first: int  # the first frame repainted (the lead-in's first)
    start: int  # the first frame kept from this chunk
    end: int

    @property
    def lead(self) -> int:
        return self.start - self.first


def plan_chunks(frames: int, chunks: int, lead: int = LEAD) -> list[Chunk]:
    """`frames` shared into `chunks` runs of nearly equal length, none shorter than the
    lead-in; every one but the first begins `lead` frames early (not before frame 0)."""
    chunks = max(1, min(chunks, frames // max(1, lead)))
    bounds = [round(k * frames / chunks) for k in range(chunks + 1)]
    return [Chunk(max(0, a - lead) if k else a, a, b)
            for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def render_chunks(job: VideoJob, executor, stop: threading.Event,
                  previews: PreviewPolicy | None = None, chunks: int = 0,
                  lead: int = LEAD) -> Iterator[Any]:
    """Render `job` as chunks on `executor` (`chunks`: how many; 0: four per worker, so a
    slow chunk holds little back). Yields Progress per finished chunk, the chunks' Previews,
    Notes, then `Finished` with a `VideoResult`. Bad input raises NSTError before any work."""
    run = VideoRun(job, NONE, stop)  # checks everything and finds the frames kept before
    n, timer = len(run.times), Timer()
    workers = getattr(executor, "workers", None) or 2
    plan = plan_chunks(n, chunks or 4 * workers, lead)

    def core(i: int):
        return frame_path(run.cache, i)

    def lead_file(i: int):
        return lead_path(run.cache, i)

    def complete(c: Chunk) -> bool:
        return all(core(i).is_file() for i in range(c.start, c.end)) and \
            all(lead_file(i).is_file() for i in range(c.first, c.start))

    run.open_cache()
    todo = [c for c in plan if not complete(c)]
    if len(todo) < len(plan):
        yield Note(f"Continuing: {len(plan) - len(todo)} of {len(plan)} chunks are kept in "
                   f"{run.cache.name}")
    items = [(f"frames-{c.first}-{c.end}", VideoChunkJob(job.settings, c.first, c.end,
                                                         job.tuning)) for c in todo]
    by_id = dict(zip((i for i, _ in items), todo))
    done = sum(c.end - c.start for c in plan) - sum(c.end - c.start for c in todo)
    failures: list[str] = []
    seconds: list[float] = []
    for event in executor.run(items, stop, previews or NONE):
        if isinstance(event, ItemEvent) and isinstance(event.event, Preview):
            yield event.event
        elif isinstance(event, ItemRequeued):
            yield Note(f"A worker died; frames {event.item_id[7:]} start again elsewhere")
        elif isinstance(event, ItemFinished):
            c, result = by_id[event.item_id], event.result
            if event.error or result is None or result.status != "done":
                failures.append(event.error or (result.reason if result else "failed"))
                continue
            for k, data in enumerate(result.frames):
                i = c.first + k
                write_atomic(lead_file(i) if i < c.start else core(i), data)
            done += c.end - c.start
            seconds.append(result.seconds_per_frame)
            left = (n - done) * float(np.mean(seconds)) / max(1, workers)
            yield Progress(iteration=done, total=n, scale=done - 1, scales=n, size=run.size,
                           losses={}, elapsed=timer(), eta=left)
            if result.frames:
                yield Preview(rgb_from_png(result.frames[-1]), done)
    finished = sum(complete(c) for c in plan)
    spf = float(np.mean(seconds)) if seconds else 0.0
    if finished < len(plan):
        kept = sum(c.end - c.start for c in plan if complete(c))
        status = "failed" if failures and not stop.is_set() else "stopped"
        why = (f"{len(plan) - finished} of {len(plan)} chunks are missing"
               + (f" ({failures[0]})" if failures else "")
               + "; the finished ones are kept: run the same render again to continue")
        result = VideoResult("", kept, n, status, why, str(run.cache), spf)
        yield Finished(result, status, why if status == "failed" else "")
        return
    for c in plan:  # cross-fade each lead-in into the end of the chunk before it
        for j, i in enumerate(range(c.first, c.start)):
            w = (j + 1) / (c.lead + 1)
            before = rgb_from_png(core(i).read_bytes())
            after = rgb_from_png(lead_file(i).read_bytes())
            mixed = (1 - w) * before.astype(np.float32) + w * after.astype(np.float32)
            write_atomic(core(i), png_bytes(np.clip(mixed + 0.5, 0, 255).astype(np.uint8)))
            lead_file(i).unlink()
    try:
        written = run.write_output(n)
    except (OSError, ValueError) as e:
        why = (f"Cannot write {run.output} ({e}); the frames are kept in {run.cache}: free some "
               "space or choose another place, and run it again.")
        yield Finished(VideoResult("", n, n, "failed", why, str(run.cache), spf), "failed",
                       why)
        return
    shutil.rmtree(run.cache, ignore_errors=True)
    why = f"repainted {n} frames into {written.name} in {len(plan)} chunks"
    yield Finished(VideoResult(str(written), n, n, "done", why, "", spf), "done")

