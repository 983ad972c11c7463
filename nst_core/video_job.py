"""The video job: a clip repainted frame by frame, held steady along the optical flow (Ruder,
Dosovitskiy & Brox 2016), its sound kept.

    run = VideoJob(VideoSettings(content="clip.mp4", output="out.mp4", picture=...)).prepare()
    for event in run.events(): ...   # Progress per iteration (scale = frame), Preview per frame
    run.result                       # VideoResult: the file written, or how far it got

Two methods:

* optimize (quality): every frame is optimized like a still picture on the same objective, plus
  a temporal term that holds it to the previous repainted frame warped along the flow wherever
  the flow is reliable (nst_core.flow). Later frames start from that warp and need fewer
  iterations. With `long_term`, frames further back hold it too, each where the nearer ones do
  not. `temporal_weight=0` repaints every frame on its own (for comparison).
* instant (fast): an instant-style model repaints each frame, and the result is blended toward
  the warped previous output where the flow is reliable.

Resumable: each finished frame is written to a folder beside the output (`<output>.frames`)
with a manifest of the job; a stop loses at most the frame in progress, and the same job
continues. The output appears only when complete, then the folder is removed.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from . import color, flow
from .devices import autocast_dtype, configure, is_oom, precision_name, resolve_device
from .errors import (
    ImageError,
    OutOfMemoryError,
    OutputExistsError,
    RunFailedError,
    SettingsError,
)
from .events import Event, Note, Preview, PreviewPolicy, Progress, Timer
from .images import (
    _umask,
    fit_long_side,
    load_image,
    os_reason,
    png_bytes,
    probe_writable,
    resize,
    write_atomic,
)
from .jobs import Ended, Job, Run, register
from .memory import released_after
from .objective import Objective
from .optimize import NonFiniteLoss, make_optimizer, minimize
from .pace import known_cost
from .settings import TransferSettings, _check_field, _coerce, _meta
from .tensors import to_tensor, to_uint8
from .tuning import Tuning
from .video import (
    MAX_SECONDS,
    VIDEO_OUTPUTS,
    Frame,
    _check_video_output,
    even_size,
    probe,
    read_frames,
    write_video,
)

log = logging.getLogger(__name__)

Status = Literal["done", "stopped", "failed"]
Method = Literal["optimize", "instant"]

#: Earlier frames that hold a frame with `long_term` (1: the previous frame).
LONG_TERM = (1, 4, 8)
#: The picture settings a video starts from: smaller than a still's (a clip has many frames).
VIDEO_PICTURE = TransferSettings(size=384, iterations=200)
#: The instant method measures motion on frames shrunk to this long side (`flow.trusted_flow`):
#: at 1080p that keeps 89% of the steadying (Lai's warping error) for 61% of its time on a CPU,
#: where the repainting itself takes 0.02 s on a GPU (benchmarks/RESULTS.md).
INSTANT_FLOW_SIDE = 960
CACHE_SUFFIX = ".frames"
MANIFEST = "job.json"


@dataclass(frozen=True)
class VideoSettings:
    """What a video render depends on beyond the picture settings (`picture`: the paintings,
    output size as the long side, weights, iterations of the first frame, optimizer, device)."""

    content: str = field(default="", metadata=_meta(
        "The clip to repaint (MP4, MOV, MKV, WebM ...).", label="Clip"))
    output: str = field(default="", metadata=_meta(
        "The video to write (.mp4, .mov or .mkv; H.264 with the clip's sound), or a folder "
        "for PNG frames.", label="Output"))
    method: Method = field(default="optimize", metadata=_meta(
        "optimize: every frame optimized (best pictures, slow); instant: an instant-style "
        "model repaints each frame (fast).", choices=("optimize", "instant"), label="Method"))
    model: str = field(default="", metadata=_meta(
        "The instant-style model (method instant).", label="Model"))
    start: float = field(default=0.0, metadata=_meta(
        "Seconds into the clip where the render starts.", range=(0.0, MAX_SECONDS),
        label="Start (s)"))
    end: float = field(default=0.0, metadata=_meta(
        "Seconds into the clip where it ends (0: the clip's end).", range=(0.0, MAX_SECONDS),
        label="End (s)"))
    max_fps: float = field(default=0.0, metadata=_meta(
        "Frames per second at most (0: every frame of the clip).", range=(0.0, 240.0),
        label="Frame-rate limit"))
    temporal_weight: float = field(default=500.0, metadata=_meta(
        "How strongly each frame holds to the previous one along the motion (0: every frame "
        "on its own, which flickers).", range=(0.0, 1e6), log=True, label="Temporal weight"))
    long_term: bool = field(default=False, metadata=_meta(
        "Also hold each frame to frames 4 and 8 back, where nearer frames do not see it "
        "(steadier where something passes in front; slower).", label="Long-term consistency"))
    frame_iterations: int = field(default=0, metadata=_meta(
        "Iterations of each frame after the first, which starts from the previous frame "
        "(0: a third of the first frame's).", range=(0, 100_000), label="Later frames' "
        "iterations"))
    stability: float = field(default=0.4, metadata=_meta(
        "Instant method: how far each frame is pulled toward the previous one where the "
        "motion is reliable (0: not at all).", range=(0.0, 1.0), label="Stability"))
    strength: float = field(default=1.0, metadata=_meta(
        "Instant method: 0 keeps the clip, 1 is the full style.", range=(0.0, 1.0),
        label="Strength"))
    keep_colors: bool = field(default=False, metadata=_meta(
        "Instant method: keep the clip's own colours.", label="Keep colours"))
    quality: int = field(default=18, metadata=_meta(
        "H.264 quality (CRF): lower is better and larger; 18 looks like the source.",
        range=(0, 51), label="Video quality"))
    overwrite: bool = field(default=False, metadata=_meta(
        "Replace an existing output (and frames kept from another render).",
        label="Overwrite"))
    picture: TransferSettings = field(default=VIDEO_PICTURE, metadata=_meta(
        "The picture settings of every frame.", label="Picture"))

    def replace(self, **changes: Any) -> VideoSettings:
        return dataclasses.replace(self, **changes)

    @property
    def later_iterations(self) -> int:
        return self.frame_iterations or max(1, self.picture.iterations // 3)

    @property
    def to_folder(self) -> bool:
        """PNG frames into a folder (an output without an extension, or a folder)."""
        p = Path(self.output)
        return not p.suffix or p.is_dir()

    def validate(self) -> VideoSettings:
        for f in fields(self):
            if f.name != "picture":
                _check_field(f, getattr(self, f.name))
        if not self.content:
            raise SettingsError("content", "choose the clip to repaint")
        if not self.output:
            raise SettingsError("output", "choose where to write the video")
        suffix = Path(self.output).suffix
        if not self.to_folder and suffix.lower() not in VIDEO_OUTPUTS:
            raise SettingsError("output", f"cannot write a video as {suffix}; use .mp4, .mov "
                                          "or .mkv, or a folder for PNG frames")
        if self.end and self.end <= self.start:
            raise SettingsError("end", f"must be after the start ({self.start:g} s), or 0 for "
                                       "the clip's end")
        if self.method == "instant":
            if not self.model:
                raise SettingsError("model", "choose an instant-style model")
        else:
            self.picture.replace(content=self.content).validate()
            if self.picture.color == "luminance":
                raise SettingsError("color", "luminance colour is not available for video; "
                                             "use none or histogram")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "picture"}
        return {**d, "picture": self.picture.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoSettings:
        if not isinstance(data, dict):
            raise SettingsError("settings", "expected a JSON object")
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise SettingsError(key, "unknown video setting")
            kwargs[key] = TransferSettings.from_dict(value) if key == "picture" \
                else _coerce(known[key], value)
        return cls(**kwargs)


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


@register
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

    def input_files(self) -> list[str]:
        s = self.settings
        return [s.content, *(s.picture.styles if s.method == "optimize" else (s.model,))]


def cache_dir(output: str | os.PathLike) -> Path:
    """The folder of finished frames beside an output."""
    p = Path(output)
    return p.with_name(p.name + CACHE_SUFFIX)


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
        self.cache = cache_dir(self.output)
        self._check_output()
        self.device = resolve_device(s.picture.device)
        self.done = self._resume()
        if s.method == "instant":
            from .instant import cached_model

            self.model = cached_model(s.model)
        else:
            self._load_styles()

    # ---- preparing ---------------------------------------------------------------------------
    def _check_output(self) -> None:
        s, out = self.settings, self.output
        if s.to_folder:
            if not out.parent.is_dir():
                raise SettingsError("output", f"the folder {out.parent} does not exist")
            if out.exists() and not (out.is_dir() and not any(out.iterdir())) \
                    and not s.overwrite:
                raise OutputExistsError(f"{out} already exists; choose another name or allow "
                                        "overwriting")
        else:
            _check_video_output(out, s.overwrite)
        probe_writable(out)

    def _identity(self) -> dict[str, Any]:
        """What the kept frames depend on: the job without `overwrite`, and the clip's bytes
        (its size and modification time)."""
        d = self.job.to_dict()
        d["settings"] = {k: v for k, v in d["settings"].items() if k != "overwrite"}
        st = Path(self.settings.content).stat()
        return {**d, "clip": [st.st_size, st.st_mtime_ns], "frame_size": list(self.size),
                "window": list(self.window) if self.window else None}

    def _resume(self) -> int:
        """Frames already finished by an earlier run of this job (kept in the cache). Frames
        of another render there are refused, or with `overwrite` dropped when the work starts
        (`open_cache`): preparing writes nothing."""
        self._stale = False
        if not self.cache.exists():
            return 0
        try:
            same = json.loads((self.cache / MANIFEST).read_text(encoding="utf-8")) \
                == self._identity()
        except (OSError, ValueError):
            same = False
        if not same:
            if not self.settings.overwrite:
                raise OutputExistsError(
                    f"{self.cache} holds the frames of an unfinished render with other "
                    "settings; run that render again to finish it, or allow overwriting to "
                    "start afresh")
            self._stale = True
            return 0
        done = 0
        while done < len(self.times) and self._frame_path(done).is_file():
            done += 1
        return done

    def open_cache(self) -> None:
        """Make the folder of finished frames (with the job's manifest) before the first one."""
        if self._stale:
            shutil.rmtree(self.cache, ignore_errors=True)
            self._stale = False
        try:
            self.cache.mkdir(exist_ok=True)
            manifest = self.cache / MANIFEST
            if not manifest.exists():
                write_atomic(manifest, json.dumps(self._identity()).encode())
        except OSError as e:
            raise RunFailedError(f"Cannot keep the frames in {self.cache} ({os_reason(e)}); "
                                 "choose another folder for the output.") from None

    def _load_styles(self) -> None:
        from .layers import pooling_depth
        from .vgg import shared_features

        p = self.settings.picture
        self.styles = [load_image(path) for path in p.styles]
        deepest = max(pooling_depth(n) for n in p.content_layers + p.style_layers)
        need = 2 ** (deepest + 1)
        if min(self.size) < need:
            raise ImageError(self.settings.content, f"frames of {self.size[0]}x{self.size[1]} "
                             f"are too small for the network; choose an output size with a "
                             f"short side of at least {need} px")
        self.net = shared_features(p.content_layers + p.style_layers, p.weights, p.weights_path,
                                   p.pooling, self.device, self.tuning.winograd)
        self.dtype = autocast_dtype(self.tuning, self.device.type)

    def _later_frame_seconds(self, state: dict, per_iteration: float | None = None) -> float:
        """Seconds a frame after the first is expected to take: the latest such frames'
        mean, or before one is done, their planned iterations at the measured pace of this
        frame (or the machine's cost model). A first frame painted as a still takes many
        times longer than those that start from the frame before, so it is left out."""
        later = state["later_seconds"][-5:]
        if later:
            return float(np.mean(later))
        if per_iteration is None:
            per_iteration = known_cost(self.device.type, precision_name(self.dtype))(
                self.size[0] * self.size[1])
        return self._later * per_iteration

    def _frame_path(self, i: int) -> Path:
        return self.cache / f"{i:06d}.png"

    @property
    def _later(self) -> int:
        """Iterations each frame after the first is planned to take (1 for the instant method)."""
        s = self.settings
        if s.method == "instant":
            return 1
        return s.later_iterations if s.temporal_weight > 0 else s.picture.iterations

    # ---- the run -----------------------------------------------------------------------------
    @released_after
    def events(self) -> Iterator[Event]:
        s, timer = self.settings, Timer()
        configure(self.device, self.tuning)
        torch.manual_seed(s.picture.seed)
        n = len(self.times)
        keep = max(LONG_TERM) if s.long_term else 1
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
        self.open_cache()
        writer = FrameWriter(self._save_frame)
        try:
            for frame in self._read():
                read = frame.index + 1
                if frame.index >= n:
                    break
                if objective is None and s.method == "optimize":
                    objective = self._objective(frame.rgb)  # colours matched to the first frame
                if frame.index < self.done:
                    if frame.index >= self.done - keep:
                        inputs.append(frame.rgb)
                        outputs.append(self._load_frame(frame.index))
                    continue
                t0 = time.perf_counter()
                if s.method == "instant":
                    out = self._instant(frame.rgb, inputs, outputs)
                    state["iteration"] = frame.index + 1
                    its = 1
                else:
                    out, its = yield from self._optimize(frame.index, frame.rgb, inputs, outputs,
                                                         objective, state, timer, frame_seconds)
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
        shutil.rmtree(self.cache, ignore_errors=True)
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
    def _instant(self, rgb: np.ndarray, inputs: deque, outputs: deque) -> np.ndarray:
        from .instant import stylize

        s = self.settings
        out = stylize(self.model.network(), rgb, self.device, s.strength,
                      "keep" if s.keep_colors else "style")
        if not inputs or s.temporal_weight == 0 or s.stability == 0:
            return out
        back, trust = flow.trusted_flow(rgb, inputs[-1], INSTANT_FLOW_SIDE)
        warped = flow.warp(outputs[-1].astype(np.float32), back)
        mixed = flow.steady_blend(out, warped, s.stability * trust)
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)

    def _objective(self, first: np.ndarray) -> Objective:
        """The objective of every frame: the paintings' style at the frames' size (with
        `histogram` colour, matched to the first frame's colours, the same for every frame),
        content targets per frame, and the temporal term."""
        p = self.settings.picture
        side = max(1, round(max(self.size) * p.style_scale))
        styles = [to_tensor(resize(img.rgb, fit_long_side(*img.size, side)), self.device)
                  for img in self.styles]
        if p.color == "histogram":
            content = to_tensor(first, self.device)
            styles = [color.match_color(st, content) for st in styles]
        objective = Objective.for_styles(self._extract, styles, p)
        self._temporal: list[tuple[torch.Tensor, torch.Tensor]] = []  # (weight map, target)
        objective.add_term("temporal", self.settings.temporal_weight, self._temporal_term)
        return objective

    def _temporal_term(self, feats, image: torch.Tensor) -> torch.Tensor:
        """Ruder's temporal loss: the mean of c (x - warp)² over pixels and channels, summed
        over the earlier frames that hold this one."""
        total = image.new_zeros(())
        for weight, target in self._temporal:
            total = total + (weight * (image - target) ** 2).mean()
        return total

    def _extract(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.extract(image, self.dtype)

    def _optimize(self, index: int, rgb: np.ndarray, inputs: deque, outputs: deque,
                  objective: Objective, state: dict, timer: Timer, frame_seconds: list[float]):
        """Optimize one frame (a generator yielding Progress and Previews); returns (frame,
        iterations), or (None, its) when stopped before the frame was finished."""
        s, p = self.settings, self.settings.picture
        dev = self.device
        content = to_tensor(rgb, dev)
        with torch.no_grad():
            feats = self._extract(content)
            targets = {n: feats[n] for n in p.content_layers}
            del feats
        self._temporal.clear()
        start = None
        temporal = s.temporal_weight > 0 and len(inputs) > 0
        state["as_still"] = not temporal and p.multiscale
        if state["as_still"]:
            return (yield from self._still(index, rgb, state, timer, frame_seconds))
        if temporal:
            covered = np.zeros(rgb.shape[:2], np.float32)
            back_steps = LONG_TERM if s.long_term else (1,)
            for j in back_steps:
                if j > len(inputs):
                    break
                prev_in, prev_out = inputs[-j], outputs[-j]
                back, trust = flow.trusted_flow(rgb, prev_in)
                weight = np.clip(trust - covered, 0.0, 1.0)  # where nearer frames do not hold
                covered = np.clip(covered + weight, 0.0, 1.0)
                warped = flow.warp(prev_out.astype(np.float32) / 255.0, back)
                if j == 1:
                    start = warped * trust[..., None] + rgb.astype(np.float32) / 255.0 * \
                        (1 - trust[..., None])
                self._temporal.append((torch.from_numpy(weight)[None, None].to(dev),
                                       torch.from_numpy(warped).permute(2, 0, 1)[None].to(dev)))
        if start is not None:
            x = torch.from_numpy(np.ascontiguousarray(start)).permute(2, 0, 1)[None].to(dev)
        elif p.init == "noise":
            gen = torch.Generator(device="cpu").manual_seed(p.seed + index)
            x = torch.rand((1, 3, *rgb.shape[:2]), generator=gen).to(dev)
        else:
            x = content.clone()
        x = x.clamp(0, 1).contiguous().requires_grad_(True)
        steps = s.later_iterations if temporal else p.iterations
        # a frame that starts from the one before starts from its curvature scale too
        opt = make_optimizer(x, p, self.tuning, precision_name(self.dtype),
                             coarser=state.get("optimizer") if start is not None else None)
        state["optimizer"] = opt
        best, its = x.detach().clone(), 0
        t0 = time.perf_counter()

        def terms(image: torch.Tensor) -> dict[str, torch.Tensor]:
            return objective(self._extract(image), image, targets)

        # the picture rule for a frame that starts from the one before, not from the photo
        # (as in a still: nst_core.still)
        settle = p.settle if start is not None else 0.0
        for it in minimize(x, terms, opt, steps, self._stop, p.early_stop,
                           self.tuning.early_stop_window, settle,
                           self.tuning.settle_window, self.tuning.settle_patience):
            best, its = it.best, it.step
            state["iteration"] += 1
            per_it = (time.perf_counter() - t0) / it.step
            left = ((steps - it.step) * per_it
                    + (len(self.times) - index - 1) * self._later_frame_seconds(state, per_it))
            total = state["iteration"] + steps - it.step + self._later * (
                len(self.times) - index - 1)
            yield Progress(iteration=state["iteration"], total=total, scale=index,
                           scales=len(self.times), size=self.size, losses=dict(it.losses),
                           elapsed=timer(), eta=left)
            if self.previews.due(state["iteration"], *state["last_preview"], stage_end=False):
                yield Preview(to_uint8(it.image), state["iteration"])
                state["last_preview"] = (state["iteration"], time.perf_counter())
        if self._stop.is_set() and its < steps:
            return None, its
        return to_uint8(best), its

    def _still(self, index: int, rgb: np.ndarray, state: dict, timer: Timer,
               frame_seconds: list[float]):
        """A frame with nothing before it to hold to (the first, or every frame when the
        temporal weight is 0) is painted as a still picture, coarse-to-fine with the picture
        rule, as "Preview This Frame" paints it; returns (frame, iterations) as `_optimize`."""
        from .still import StillJob  # the still job imports nothing of the video job

        p, n = self.settings.picture, len(self.times)
        base = state["iteration"]
        with tempfile.TemporaryDirectory(prefix="nst-video-frame-") as folder:
            photo = Path(folder) / f"frame_{index + 1:06d}.png"
            write_atomic(photo, png_bytes(rgb))
            job = StillJob(p.replace(content=str(photo), size=max(self.size)), self.tuning)
            run = job.prepare(self.previews, self._stop)
            for ev in run.events():
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
                elif isinstance(ev, Note):
                    yield ev
        r = run.result
        if r is None or r.stopped:
            return None, r.iterations if r is not None else 0
        return r.image, r.iterations

    def _load_frame(self, i: int) -> np.ndarray:
        img = load_image(self._frame_path(i))
        return img.rgb if (img.rgb.shape[1], img.rgb.shape[0]) == self.size \
            else resize(img.rgb, self.size)

    def _save_frame(self, i: int, rgb: np.ndarray) -> None:
        write_atomic(self._frame_path(i), png_bytes(rgb))

    def _read(self) -> Iterator[Frame]:
        """The frames of this render (of its window), numbered from 0."""
        s = self.settings
        if self.window is None:
            yield from read_frames(s.content, s.start, s.end, s.max_fps, self.size)
            return
        wanted = iter(self.times)
        due = next(wanted)
        n = 0
        for frame in read_frames(s.content, due, s.end, 0.0, self.size):
            if abs(frame.time - due) > 1e-4:
                continue
            yield Frame(n, frame.time, frame.rgb)
            n += 1
            due = next(wanted, None)
            if due is None:
                return

    def _frames(self, count: int) -> Iterator[tuple[float, np.ndarray]]:
        """The kept frames in order with their times, decoded a few ahead in background
        threads while the encoder takes the one before."""
        start = self.times[0]
        frames = _read_ahead(self._load_frame, count, FrameWriter.workers())
        for i, rgb in enumerate(frames):
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
        out = self.output
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:64]}.", dir=out.parent))
        try:
            for i in range(count):
                os.link(self._frame_path(i), tmp / f"frame_{i + 1:06d}.png") \
                    if _same_device(tmp, self.cache) else \
                    shutil.copyfile(self._frame_path(i), tmp / f"frame_{i + 1:06d}.png")
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
            if out.exists():
                if not s.overwrite and not (out.is_dir() and not any(out.iterdir())):
                    raise OutputExistsError(f"{out} already exists; choose another name or "
                                            "allow overwriting")
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.rename(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out


class FrameWriter:
    """Writes the finished frames to the cache in background threads: PNG-encoding and syncing
    a 1080p frame takes longer than repainting it on a GPU (about 0.3 s against 0.02 s,
    benchmarks/RESULTS.md), so the next frame is painted meanwhile. At most twice as many
    frames as threads are outstanding; a write's error (a full disk) is raised by the next
    `submit` or by `flush`, and `close` finishes what was handed over."""

    def __init__(self, save: Callable[[int, np.ndarray], None], workers: int | None = None):
        self._save = save
        self._workers = workers or self.workers()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="nst-frame-writer")
        self._pending: deque[Future] = deque()

    @staticmethod
    def workers() -> int:
        return max(1, min(4, os.cpu_count() or 1))

    def submit(self, index: int, rgb: np.ndarray) -> None:
        self._collect(2 * self._workers - 1)
        self._pending.append(self._pool.submit(self._save, index, rgb))

    def flush(self) -> None:
        """Wait for every frame handed over; raise the first write's error."""
        self._collect(0)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _collect(self, outstanding: int) -> None:
        """Take the finished writes (raising a failed one's error), waiting, oldest first,
        until at most `outstanding` remain."""
        while self._pending and (len(self._pending) > outstanding or self._pending[0].done()):
            self._pending.popleft().result()


def _read_ahead(load: Callable[[int], np.ndarray], count: int,
                workers: int) -> Iterator[np.ndarray]:
    """load(0), load(1), ... load(count - 1) in order, each started up to twice `workers`
    items ahead in background threads."""
    with ThreadPoolExecutor(workers, thread_name_prefix="nst-frame-reader") as pool:
        ahead: deque[Future] = deque()
        for i in range(count):
            ahead.append(pool.submit(load, i))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False


# ---- chunks of a render, for workers of a cluster ------------------------------------------
@dataclass
class ChunkResult(Ended):
    """What a chunk made: its frames as PNG bytes, in order (lead-in frames first)."""

    first: int  # the first of the render's frames this chunk repainted (lead-in included)
    frames: list[bytes]
    status: Status = "done"
    reason: str = ""
    seconds_per_frame: float = 0.0


@register
@dataclass(frozen=True)
class VideoChunkJob(Job):
    """Frames `first` to `end` (indices among the render's frames) of a video render, painted
    on their own: the first of them starts afresh, the rest follow it along the flow. A render
    shared between workers gives each a chunk that begins a few frames before the frames it is
    kept for (a lead-in), and cross-fades the overlap (nst_app.video_cluster). The frames come
    back as PNG bytes, so the worker needs no shared folder; no sound, no file."""

    settings: VideoSettings
    first: int
    end: int
    tuning: Tuning = Tuning()
    kind = "video_chunk"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> ChunkRun:
        return ChunkRun(self, previews or PreviewPolicy(), stop)

    def payload(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "first": self.first, "end": self.end,
                "tuning": self.tuning.to_dict()}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> VideoChunkJob:
        unknown = set(data) - {"settings", "first", "end", "tuning"}
        if unknown:
            raise SettingsError(min(unknown), "unknown field of a video chunk")
        try:
            first, end = int(data["first"]), int(data["end"])
        except (KeyError, TypeError, ValueError):
            raise SettingsError("first", "a chunk needs whole numbers first and end") from None
        return cls(VideoSettings.from_dict(data.get("settings", {})), first, end,
                   Tuning.from_dict(data.get("tuning", {})))

    @property
    def title(self) -> str:
        return f"{Path(self.settings.content).stem} frames {self.first + 1}-{self.end}"

    def input_files(self) -> list[str]:
        return VideoJob(self.settings).input_files()

    def with_input_files(self, mapping: dict[str, str]) -> VideoChunkJob:
        s = self.settings
        picture = s.picture.replace(styles=tuple(mapping.get(p, p) for p in s.picture.styles))
        return dataclasses.replace(self, settings=s.replace(
            content=mapping.get(s.content, s.content), model=mapping.get(s.model, s.model),
            picture=picture))


class ChunkRun(Run):
    def __init__(self, job: VideoChunkJob, previews: PreviewPolicy,
                 stop: threading.Event | None = None):
        super().__init__(stop)
        self.job = job
        self.folder = Path(tempfile.mkdtemp(prefix="nst-video-chunk-"))
        settings = job.settings.replace(output=str(self.folder / "frames"), overwrite=True)
        try:
            self.inner = VideoRun(VideoJob(settings, job.tuning), previews, self._stop,
                                  (job.first, job.end))
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def events(self) -> Iterator[Event]:
        try:
            try:
                yield from self.inner.events()
                inner = self.inner.result
            except RunFailedError as e:
                raise RunFailedError(str(e), result=self._result(e.result)) from None
            self.result = self._result(inner)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _result(self, inner: VideoResult | None) -> ChunkResult:
        if inner is None:
            return ChunkResult(self.job.first, [], "failed", "nothing was repainted")
        if inner.output:
            files = sorted(Path(inner.output).glob("frame_*.png"))
        else:  # stopped or failed: the frames finished so far
            files = sorted(self.inner.cache.glob("[0-9]*.png"))
        return ChunkResult(self.job.first, [p.read_bytes() for p in files], inner.status,
                           inner.reason, inner.seconds_per_frame)
