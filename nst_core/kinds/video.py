"""The video job: a clip repainted frame by frame, held steady along the optical flow (Ruder,
Dosovitskiy & Brox 2016), its sound kept.

    run = VideoJob(VideoSettings(content="clip.mp4", output="out.mp4", picture=...)).prepare()
    for event in run.events(): ...   # Progress per iteration (scale = frame), Preview per frame
    run.result                       # VideoResult: the file written, or how far it got

The frames are painted by `nst_core.painting.frames.FramePainter` (optimized with a temporal
term, or by an instant style blended along the flow); this kind reads the clip, keeps the
finished frames and writes the output.

Resumable: each finished frame is written to a folder beside the output (`<output>.frames`,
nst_core.media.frame_cache) with a manifest of the job; a stop loses at most the frame in
progress, and the same job continues. The output appears only when complete, then the folder is
removed.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nst_core.base.errors import ImageError, OutOfMemoryError, RunFailedError, SettingsError
from nst_core.base.events import Event, Note, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.job import Job, Run
from nst_core.media.frame_cache import FrameCache, FrameWriter
from nst_core.media.files import os_reason
from nst_core.media.tensors import to_uint8
from nst_core.media.video import even_size, probe, read_frames, read_selected
from nst_core.media.video_out import check_render_output, write_video
from nst_core.objective.perceptual import Objective
from nst_core.painting.frames import FramePainter
from nst_core.painting.optimize import NonFiniteLoss
from nst_core.painting.pace import known_cost
from nst_core.runtime.devices import configure, is_oom, resolve_device
from nst_core.runtime.memory import released_after
from nst_core.settings.tuning import Tuning
from nst_core.settings.video import VideoSettings

log = logging.getLogger(__name__)


@dataclass
class VideoResult(Ended):
    output: str  # the video (or folder of frames) written; "" when not (yet) written
    frames: int  # frames repainted (kept in the cache when stopped)
    planned: int  # frames the render has in all
    status: Status = "done"
    reason: str = ""
    cache: str = ""  # the folder of finished frames (removed once the output is written)
    seconds_per_frame: float = 0.0  # repainting only, averaged over the frames done here
    iterations: list[int] = field(default_factory=list)  # per frame repainted in this run
    last: np.ndarray | None = None  # the last repainted frame

    @property
    def picture(self) -> np.ndarray | None:
        return self.last


@dataclass(frozen=True)
class VideoJob(Job):
    settings: VideoSettings
    tuning: Tuning = Tuning()
    kind = "video"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> VideoRun:
        return VideoRun(self, previews or PreviewPolicy(), stop)

    def payload(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "tuning": self.tuning.to_dict()}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> VideoJob:
        unknown = set(data) - {"settings", "tuning"}
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of a video job")
        return cls(VideoSettings.from_dict(data.get("settings", {})),
                   Tuning.from_dict(data.get("tuning", {})))

    @property
    def title(self) -> str:
        s = self.settings
        what = Path(s.model).stem if s.method == "instant" else \
            "+".join(Path(p).stem for p in s.picture.styles)
        return f"{Path(s.content).stem} × {what} (video)"

    def validate(self) -> VideoJob:
        self.settings.validate()
        self.tuning.validate()
        return self

    def input_files(self) -> list[str]:
        s = self.settings
        if s.method != "optimize":
            return [s.content, s.model]
        return [s.content, *s.picture.styles, *(m for m in s.picture.masks if m)]

    def with_input_files(self, mapping: dict[str, str]) -> VideoJob:
        s = self.settings
        picture = s.picture.replace(styles=tuple(mapping.get(p, p) for p in s.picture.styles),
                                    masks=tuple(mapping.get(m, m) for m in s.picture.masks))
        return dataclasses.replace(self, settings=s.replace(
            content=mapping.get(s.content, s.content), model=mapping.get(s.model, s.model),
            picture=picture))


class VideoRun(Run):
    """A prepared video render: the settings are checked, the clip probed, the output and the
    frames kept from an earlier run of the same job found, and the network or model loaded."""

    def __init__(self, job: VideoJob, previews: PreviewPolicy,
                 stop: threading.Event | None = None, window: tuple[int, int] | None = None):
        """`window` (first, end): only those of the selected frames (a chunk of a render
        shared between workers, see `VideoChunkJob`)."""
        super().__init__(stop)
        self.job = job
        self.window = window
        self.settings = s = job.settings.validate()
        self.tuning = job.tuning.validate()
        self.previews = previews
        self.info = probe(s.content)
        self.times = self.info.frame_times(s.start, s.end, s.max_fps)
        if not self.times:
            raise SettingsError("start", f"no frames between {s.start:g} s and "
                                f"{s.end or self.info.duration:g} s (the clip is "
                                f"{self.info.duration:.2f} s long)")
        if window is not None:
            first, end = window
            if not 0 <= first < end <= len(self.times):
                raise SettingsError("frames", f"frames {first} to {end} are not among the "
                                    f"{len(self.times)} frames of the render")
            self.times = self.times[first:end]
        self.size = even_size(*self.info.size, s.picture.size)
        self.output = Path(s.output).expanduser()
        self.frames = FrameCache(self.output, self.size, self._identity())
        self.cache = self.frames.folder
        check_render_output(self.output, s.to_folder, s.overwrite)
        self.device = resolve_device(s.picture.device)
        self.done = self.frames.kept(len(self.times), s.overwrite)
        self.painter = FramePainter(s, self.tuning, self.device, self.size)

    # ---- preparing ---------------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        """What the kept frames depend on: the job without `overwrite`, and the clip's bytes
        (its size and modification time)."""
        d = self.job.to_dict()
        d["settings"] = {k: v for k, v in d["settings"].items() if k != "overwrite"}
        st = Path(self.settings.content).stat()
        return {**d, "clip": [st.st_size, st.st_mtime_ns], "frame_size": list(self.size),
                "window": list(self.window) if self.window else None}

    def open_cache(self) -> None:
        """Make the folder of finished frames (with the job's manifest) before the first one."""
        self.frames.open()

    def _later_frame_seconds(self, state: dict, per_iteration: float | None = None) -> float:
        """Seconds a frame after the first is expected to take: the latest such frames'
        mean, or before one is done, their planned iterations at the measured pace of this
        frame (or the machine's cost model). A first frame painted as a still takes many
        times longer than those that start from the frame before, so it is left out."""
        later = state["later_seconds"][-5:]
        if later:
            return float(np.mean(later))
        if per_iteration is None:
            per_iteration = known_cost(self.device.type, self.painter.precision)(
                self.size[0] * self.size[1])
        return self._later * per_iteration

    @property
    def _later(self) -> int:
        """Iterations each frame after the first is planned to take (1 for the instant method)."""
        return 1 if self.settings.method == "instant" else self.painter.steps(has_earlier=True)

    # ---- the run -----------------------------------------------------------------------------
    @released_after
    def events(self) -> Iterator[Event]:
        s, timer = self.settings, Timer()
        configure(self.device, self.tuning)
        torch.manual_seed(s.picture.seed)
        n = len(self.times)
        keep = self.painter.keep
        inputs: deque[np.ndarray] = deque(maxlen=keep)  # the latest input frames
        outputs: deque[np.ndarray] = deque(maxlen=keep)  # and their repainted frames
        iterations: list[int] = []
        frame_seconds: list[float] = []
        last: np.ndarray | None = None
        state = {"iteration": 0, "last_preview": (0, 0.0), "later_seconds": []}
        if self.done:
            yield Note(f"Continuing from frame {self.done + 1} of {n} (frames kept in "
                       f"{self.cache.name})")
        objective: Objective | None = None
        read = 0
        if self.frames.damaged is not None:
            yield Note(f"Frame {self.frames.damaged + 1} kept from before does not read back "
                       "whole; it is painted again, with the frames after it")
        self.open_cache()
        writer = FrameWriter(self._save_frame)
        try:
            for frame in self._read():
                read = frame.index + 1
                if frame.index >= n:
                    break
                if objective is None and s.method == "optimize":
                    # colours matched to the first frame
                    objective = self.painter.objective(frame.rgb)
                if frame.index < self.done:
                    if frame.index >= self.done - keep:
                        inputs.append(frame.rgb)
                        outputs.append(self._load_frame(frame.index))
                    continue
                t0 = time.perf_counter()
                if s.method == "instant":
                    out = self.painter.instant(frame.rgb, inputs, outputs)
                    state["iteration"] = frame.index + 1
                    its = 1
                else:
                    out, its = yield from self._optimize(frame.index, frame.rgb, inputs, outputs,
                                                         objective, state, timer)
                    if out is None:  # stopped in the middle of the frame
                        break
                writer.submit(frame.index, out)
                frame_seconds.append(time.perf_counter() - t0)
                # frames alike are timed together: those that start from the frame before, or
                # every frame when each is painted as a still (no temporal weight)
                if not state.pop("as_still", False) or s.temporal_weight == 0:
                    state["later_seconds"].append(frame_seconds[-1])
                iterations.append(its)
                inputs.append(frame.rgb)
                outputs.append(out)
                last = out
                left = n - frame.index - 1
                total = state["iteration"] + self._later * left
                yield Progress(iteration=state["iteration"], total=total,
                               scale=frame.index, scales=n, size=self.size, losses={},
                               elapsed=timer(), eta=left * self._later_frame_seconds(state),
                               rate=len(frame_seconds) / max(sum(frame_seconds), 1e-9))
                yield Preview(out, frame.index + 1)
                if self._stop.is_set():
                    break
            writer.flush()
        except RunFailedError as e:  # a frame painted as a still picture (NaN, memory)
            why = (f"Frame {len(iterations) + self.done + 1}: {e} The frames before it are kept "
                   f"in {self.cache}.")
            raise type(e)(why, result=self._result("failed", why, iterations, frame_seconds,
                                                   last)) from None
        except NonFiniteLoss as e:
            why = (f"The loss became {e.value} on frame {len(iterations) + self.done + 1}; the "
                   f"frames before it are kept in {self.cache}. Lower the temporal weight or "
                   "the learning rate and run it again.")
            raise RunFailedError(why, result=self._result("failed", why, iterations,
                                                          frame_seconds, last)) from None
        except OSError as e:
            why = (f"Cannot write the frames to {self.cache} ({os_reason(e)}); the finished "
                   "frames are kept: free some space and run the same render again.")
            raise RunFailedError(why, result=self._result("failed", why, iterations,
                                                          frame_seconds, last)) from None
        except Exception as e:
            if is_oom(e):
                w, h = self.size
                why = (f"Not enough memory to repaint {w}x{h} frames on {self.device.type}; "
                       "choose a smaller size. The finished frames are kept.")
                raise OutOfMemoryError(why, result=self._result(
                    "failed", why, iterations, frame_seconds, last)) from None
            raise
        finally:
            writer.close()  # the frames still being written are finished first
        finished = self.done + len(iterations)
        if self._stop.is_set() and finished < n:
            why = (f"stopped after {finished} of {n} frames; run the same render again to "
                   "continue")
            self.result = self._result("stopped", why, iterations, frame_seconds, last)
            return
        if finished < n:
            if finished == 0:
                raise ImageError(s.content, "no frame of the clip could be decoded (damaged)")
            yield Note(f"The clip ended at frame {read} of {n} (damaged or shorter than it "
                       "says); the video has the frames before it.")
        try:
            written = self.write_output(finished)
        except (OSError, ValueError) as e:
            reason = os_reason(e) if isinstance(e, OSError) else str(e)
            why = (f"Cannot write {self.output} ({reason}); the frames are kept in "
                   f"{self.cache}: free some space or choose another place, and run it again.")
            raise RunFailedError(why, result=self._result("failed", why, iterations,
                                                          frame_seconds, last)) from None
        self.frames.remove()
        why = f"repainted {finished} frames into {written.name}"
        self.result = self._result("done", why, iterations, frame_seconds, last, str(written))

    def _result(self, status: Status, why: str, iterations: list[int],
                frame_seconds: list[float], last: np.ndarray | None,
                output: str = "") -> VideoResult:
        done = self.done + len(iterations)
        spf = float(np.mean(frame_seconds)) if frame_seconds else 0.0
        return VideoResult(output, done, len(self.times), status, why,
                           "" if status == "done" else str(self.cache), spf, list(iterations),
                           last)

    # ---- frames --------------------------------------------------------------------------------
    def _optimize(self, index: int, rgb: np.ndarray, inputs: deque, outputs: deque,
                  objective: Objective, state: dict, timer: Timer):
        """Optimize one frame (a generator yielding Progress and Previews); returns (frame,
        iterations), or (None, its) when stopped before the frame was finished."""
        p, n = self.settings.picture, len(self.times)
        state["as_still"] = not self.painter.holds(inputs) and p.multiscale
        if state["as_still"]:
            return (yield from self._still(index, rgb, state, timer))
        steps = self.painter.steps(bool(inputs))
        t0 = time.perf_counter()
        frame = self.painter.optimize(index, rgb, inputs, outputs, objective, self._stop)
        while True:
            try:
                it = next(frame)
            except StopIteration as end:
                return end.value
            state["iteration"] += 1
            per_it = (time.perf_counter() - t0) / it.step
            left = ((steps - it.step) * per_it
                    + (n - index - 1) * self._later_frame_seconds(state, per_it))
            total = state["iteration"] + steps - it.step + self._later * (n - index - 1)
            yield Progress(iteration=state["iteration"], total=total, scale=index, scales=n,
                           size=self.size, losses=dict(it.losses), elapsed=timer(), eta=left)
            if self.previews.due(state["iteration"], *state["last_preview"], stage_end=False):
                yield Preview(to_uint8(it.image), state["iteration"])
                state["last_preview"] = (state["iteration"], time.perf_counter())

    def _still(self, index: int, rgb: np.ndarray, state: dict, timer: Timer):
        """A frame with nothing before it to hold to (the first, or every frame when the
        temporal weight is 0), painted as a still picture; returns (frame, iterations) as
        `_optimize`."""
        n, base = len(self.times), state["iteration"]
        picture = self.painter.picture(rgb, index)
        painting = picture.paint(self.previews, self._stop)
        while True:
            try:
                ev = next(painting)
            except StopIteration as end:
                r = end.value
                break
            if isinstance(ev, Progress):
                state["iteration"] = base + ev.iteration
                per_frame = self._later_frame_seconds(state)
                yield Progress(iteration=state["iteration"], total=base + ev.total + self._later
                               * (n - index - 1), scale=index, scales=n, size=self.size,
                               losses=dict(ev.losses), elapsed=timer(),
                               eta=ev.eta + (n - index - 1) * per_frame)
            elif isinstance(ev, Preview):
                yield Preview(ev.image, base + ev.iteration)
                state["last_preview"] = (base + ev.iteration, time.perf_counter())
            else:
                yield ev
        if r is None or r.stopped:
            return None, r.iterations if r is not None else 0
        return r.image, r.iterations

    def _load_frame(self, i: int) -> np.ndarray:
        return self.frames.load(i)

    def _save_frame(self, i: int, rgb: np.ndarray) -> None:
        self.frames.save(i, rgb)

    def _read(self) -> Iterator:
        """The frames of this render (of its window), numbered from 0."""
        s = self.settings
        if self.window is None:
            return read_frames(s.content, s.start, s.end, s.max_fps, self.size)
        return read_selected(s.content, self.times, s.end, self.size)

    def _frames(self, count: int) -> Iterator[tuple[float, np.ndarray]]:
        """The kept frames in order with their times, decoded a few ahead in background
        threads while the encoder takes the one before."""
        start = self.times[0]
        for i, rgb in enumerate(self.frames.read_back(count)):
            yield self.times[i] - start, rgb

    def write_output(self, count: int) -> Path:
        """The first `count` kept frames as the output: the video with the clip's sound, or a
        folder of PNG frames; written beside the target and put in place when complete (also
        what a render shared in chunks ends with, nst_app.video_cluster)."""
        s = self.settings
        if not s.to_folder:
            return write_video(self.output, self._frames(count), self.info.fps,
                               audio_from=s.content, start=self.times[0],
                               end=s.end if s.end else 0.0, crf=s.quality,
                               overwrite=s.overwrite)
        return self.frames.write_folder(self.output, count, s.overwrite)


