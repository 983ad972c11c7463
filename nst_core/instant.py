"""Instant styles (Johnson, Alahi & Fei-Fei 2016): train a feed-forward network once per painting
with the optimization's own objective, then repaint any photo with one forward pass.

Three kinds of job, all in the job contract (nst_core.jobs):

* `TrainJob(TrainSettings)`: trains (or resumes) a model file. Progress every step (losses,
  samples per second, time left); a strip of held-out photos repainted as the preview. The model
  file is the checkpoint: written atomically every `checkpoint_seconds`, at a stop and at the
  end; running the same job again resumes from it. A NaN loss stops training and keeps the last
  good weights.
* `ApplyJob`: one photo through a model (tiles with shared statistics when it would not fit).
* `CameraJob`: a camera (or a video file standing in for one) repainted frame by frame.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from . import color
from .devices import configure, is_oom, resolve_device
from .errors import (
    DeviceError,
    ImageError,
    ModelError,
    OutOfMemoryError,
    RunFailedError,
    SettingsError,
)
from .events import Event, Preview, PreviewPolicy, Progress, Timer
from .images import fit_long_side, load_image, resize
from .jobs import Ended, Job, Run, register
from .memory import released_after
from .model_file import InstantModel, load_model, save_model, thumbnail_of
from .objective import Objective
from .settings import TransferSettings, _check_field, _coerce, _meta
from .tensors import to_tensor, to_uint8
from .transformer import NetShape, TransformerNet
from .vgg import shared_features
from .video import is_video, sample_frames

log = logging.getLogger(__name__)

Status = Literal["done", "stopped", "failed"]
ColorChoice = Literal["style", "keep"]

_LOSS_DEFAULTS = TransferSettings()
#: Frames taken from each training video.
FRAMES_PER_VIDEO = 120
#: Training photos are kept in memory at this long side at most.
PHOTO_SIDE = 512


@dataclass(frozen=True)
class TrainSettings:
    """What an instant style is trained from and how."""

    style: str = field(default="", metadata=_meta(
        "The painting whose style the network learns.", label="Painting"))
    photos: tuple[str, ...] = field(default=(), metadata=_meta(
        "Training photos (image files, or videos whose frames are used). More and more varied "
        "photos give a model that works on more kinds of picture.", label="Training photos"))
    held_out: tuple[str, ...] = field(default=(), metadata=_meta(
        "Photos never trained on, repainted as the live preview (empty: taken from the "
        "training photos when there are five or more).", label="Preview photos"))
    output: str = field(default="", metadata=_meta(
        "The model file to write (and to resume from).", label="Model file"))
    steps: int = field(default=1600, metadata=_meta(
        "Training steps in all (a resumed training counts the steps already done).",
        range=(1, 1_000_000), label="Steps"))
    batch: int = field(default=4, metadata=_meta(
        "Photos per step.", range=(1, 64), label="Batch size"))
    crop: int = field(default=128, metadata=_meta(
        "Side of the square crops the network trains on.", range=(32, 1024), label="Crop size"))
    style_size: int = field(default=256, metadata=_meta(
        "Long side of the painting when its style is measured: larger gives larger strokes.",
        range=(64, 2048), label="Style size"))
    width: int = field(default=8, metadata=_meta(
        "Base width of the network (Johnson's is 32): wider is slower and a little better.",
        range=(4, 128), label="Network width"))
    blocks: int = field(default=5, metadata=_meta(
        "Residual blocks (Johnson's is 5).", range=(0, 16), label="Residual blocks"))
    learning_rate: float = field(default=1e-3, metadata=_meta(
        "Adam's step size.", range=(1e-6, 1.0), log=True, label="Learning rate"))
    content_weight: float = field(default=20.0, metadata=_meta(
        "How strongly pictures keep the photo's shapes (higher than the optimization's 5: a "
        "network that starts from nothing, unlike a picture that starts from the photo, "
        "otherwise keeps too little of it).", range=(0.0, 1e6), log=True,
        label="Content weight"))
    style_weight: float = field(default=_LOSS_DEFAULTS.style_weight, metadata=_meta(
        "How strongly the painting's textures take over.", range=(0.0, 1e8), log=True,
        label="Style strength"))
    tv_weight: float = field(default=_LOSS_DEFAULTS.tv_weight, metadata=_meta(
        "Smoothing.", range=(0.0, 10.0), log=True, label="Smoothing (TV)"))
    checkpoint_seconds: float = field(default=60.0, metadata=_meta(
        "The model file is written at least this often while training.", range=(1.0, 3600.0),
        label="Checkpoint every (s)"))
    preview_every: int = field(default=25, metadata=_meta(
        "Steps between previews of the held-out photos.", range=(1, 100_000),
        label="Preview every"))
    seed: int = field(default=0, metadata=_meta(
        "Seed of the crops and the network's start.", range=(0, 2**31 - 1), label="Seed"))
    device: str = field(default="auto", metadata=_meta(
        "Where to compute.", choices=("auto", "cpu", "cuda", "mps"), label="Device"))
    restart: bool = field(default=False, metadata=_meta(
        "Start afresh even when the model file holds a training of this painting.",
        label="Restart"))

    @property
    def shape(self) -> NetShape:
        return NetShape(self.width, self.blocks)

    def loss_settings(self) -> TransferSettings:
        """The objective's settings: the optimization's layers, with these weights."""
        return _LOSS_DEFAULTS.replace(content_weight=self.content_weight,
                                      style_weight=self.style_weight, tv_weight=self.tv_weight,
                                      styles=(self.style,))

    def replace(self, **changes: Any) -> TrainSettings:
        import dataclasses

        return dataclasses.replace(self, **changes)

    def validate(self) -> TrainSettings:
        for f in fields(self):
            _check_field(f, getattr(self, f.name))
        if not self.style:
            raise SettingsError("style", "choose the painting to learn")
        if not self.photos:
            raise SettingsError("photos", "choose at least one training photo (or a video)")
        if not self.output:
            raise SettingsError("output", "choose the model file to write")
        if self.content_weight == 0 and self.style_weight == 0:
            raise SettingsError("style_weight", "content and style weights are both 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        if not isinstance(data, dict):
            raise SettingsError("settings", "expected a JSON object")
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in data.items():
            if key not in known:
                raise SettingsError(key, "unknown training setting")
            kwargs[key] = _coerce(known[key], value)
        return cls(**kwargs)


def file_digest(path: str | os.PathLike) -> str:
    """A short fingerprint of a file's bytes: a model remembers which painting it learned."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# ---- applying a network ----------------------------------------------------------------------
#: Pictures above this many pixels go through the network in tiles (the whole-picture
#: statistics are measured on a copy of this size first). About 1.4 GB of activations at the
#: default width; a 4K frame (8.3 MP) still goes in one piece.
TILE_PIXELS = 12_000_000
TILE_OVERLAP = 64


def _ramp(n: int, overlap: int, start: bool, end: bool) -> torch.Tensor:
    """Blend weights along one side of a tile: rising over `overlap` pixels where another tile
    overlaps it, flat at the picture's border."""
    w = torch.ones(n)
    r = min(overlap, n // 2)
    if r > 0:
        up = (torch.arange(r, dtype=torch.float32) + 0.5) / r
        if start:
            w[:r] = up
        if end:
            w[n - r:] = up.flip(0)
    return w


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    out = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(out))


def forward_tiled(net: TransformerNet, x: torch.Tensor, tile: int,
                  overlap: int = TILE_OVERLAP, stats_pixels: int = TILE_PIXELS) -> torch.Tensor:
    """The network's output for a picture too large to go through at once: instance-norm
    statistics are measured on the whole picture (downscaled to `stats_pixels`), then tiles of
    `tile` px, overlapping by `overlap`, go through with those statistics and are blended with
    linear ramps, so no seam shows."""
    _, _, h, w = x.shape
    scale = min(1.0, math.sqrt(stats_pixels / (h * w)))
    small = x if scale >= 1 else F.interpolate(
        x, size=(max(8, round(h * scale)), max(8, round(w * scale))), mode="area")
    out = torch.zeros_like(x)
    weight = torch.zeros((1, 1, h, w), dtype=x.dtype, device=x.device)
    try:
        with net.norm_mode("record"):
            net(small)
        del small
        with net.norm_mode("fixed"):
            ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
            for y0 in ys:
                for x0 in xs:
                    y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
                    piece = net(x[..., y0:y1, x0:x1])
                    wy = _ramp(y1 - y0, overlap, y0 > 0, y1 < h).to(x)
                    wx = _ramp(x1 - x0, overlap, x0 > 0, x1 < w).to(x)
                    m = wy.view(1, 1, -1, 1) * wx.view(1, 1, 1, -1)
                    out[..., y0:y1, x0:x1] += piece * m
                    weight[..., y0:y1, x0:x1] += m
    finally:
        net.clear_stats()
    return out / weight


def stylize(net: TransformerNet, rgb: np.ndarray, device: torch.device | str = "cpu",
            strength: float = 1.0, colors: str = "style",
            tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """One picture through a model: (H, W, 3) uint8 in, the same size out.

    `strength` blends the painting over the photo (0: the photo, 1: the model's picture);
    `colors="keep"` keeps the photo's colours (the picture's luminance on the photo's
    chroma, as the optimization's luminance mode does)."""
    device = torch.device(device)
    net = net.to(device)
    if device.type in ("cpu", "cuda"):
        net = net.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        x = to_tensor(rgb, device)
        if device.type in ("cpu", "cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        h, w = x.shape[-2:]
        if h * w > tile_pixels:
            y = forward_tiled(net, x, tile=max(256, int(math.sqrt(tile_pixels))),
                              stats_pixels=tile_pixels)
        else:
            y = net(x)
        if colors == "keep":
            y = color.combine_luminance(y, x)
        if strength < 1.0:
            y = torch.lerp(x, y, float(strength))
        return to_uint8(y)


# ---- training --------------------------------------------------------------------------------
@dataclass
class TrainResult(Ended):
    path: str  # the model file
    steps_done: int
    status: Status = "done"
    reason: str = ""
    losses: list[dict[str, float]] = field(default_factory=list)  # one per step of this run
    timings: dict[str, float] = field(default_factory=dict)
    preview: np.ndarray | None = None  # the last strip of held-out pictures


@register
@dataclass(frozen=True)
class TrainJob(Job):
    settings: TrainSettings
    kind = "train"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> TrainRun:
        return TrainRun(self, previews or PreviewPolicy(), stop)

    def payload(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict()}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> TrainJob:
        unknown = set(data) - {"settings"}
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of a training job")
        return cls(TrainSettings.from_dict(data.get("settings", {})))

    @property
    def title(self) -> str:
        return f"instant style of {Path(self.settings.style).stem}"

    def input_files(self) -> list[str]:
        s = self.settings
        return [s.style, *s.photos, *s.held_out]


def _load_photos(paths: tuple[str, ...]) -> list[np.ndarray]:
    """Training pictures in memory at PHOTO_SIDE at most: images, and frames of videos."""
    out: list[np.ndarray] = []
    for p in paths:
        pictures = sample_frames(p, FRAMES_PER_VIDEO) if is_video(p) else [load_image(p).rgb]
        for rgb in pictures:
            h, w = rgb.shape[:2]
            if max(h, w) > PHOTO_SIDE:
                rgb = resize(rgb, fit_long_side(w, h, PHOTO_SIDE))
            out.append(rgb)
    return out


class TrainRun(Run):
    """A prepared training. Construction validates, loads the painting, the photos and the loss
    network, and reads the model file when it resumes; it raises the engine's typed errors
    before any work starts."""

    def __init__(self, job: TrainJob, previews: PreviewPolicy,
                 stop: threading.Event | None = None):
        super().__init__(stop)
        self.settings = s = job.settings.validate()
        self.previews = previews
        self.device = resolve_device(s.device)
        self.style = load_image(s.style)
        self.style_digest = file_digest(s.style)
        photos = _load_photos(s.photos)
        small = [p for p, rgb in zip(s.photos, photos) if min(rgb.shape[:2]) < s.crop // 2]
        if small:
            raise ImageError(small[0], f"too small to train on at crop size {s.crop} "
                                       f"(its short side is under {s.crop // 2} px)")
        held = _load_photos(s.held_out) if s.held_out else []
        if not held and len(photos) >= 5:  # keep one in five out of training, at most three
            k = min(3, len(photos) // 5)
            held, photos = photos[-k:], photos[:-k]
        self.photos, self.held_out_unseen = photos, bool(held)
        self.held = [resize(r, fit_long_side(r.shape[1], r.shape[0], 192))
                     for r in (held or photos[:3])]
        self.net = TransformerNet(s.shape)
        self.opt_state: dict | None = None
        self.start_step = 0
        self._resume()
        ls = s.loss_settings()
        self.loss_net = shared_features(ls.content_layers + ls.style_layers,
                                        device=self.device)

    def _resume(self) -> None:
        s = self.settings
        p = Path(s.output)
        try:
            exists = p.exists()
        except OSError:
            exists = False
        if not exists or s.restart:
            return
        try:
            model = load_model(p)
        except ModelError as e:
            raise SettingsError("output", f"{e}; choose another model file, or restart to "
                                          "replace it") from None
        if model.meta.get("style_digest") != self.style_digest:
            raise SettingsError("output", f"{p} holds an instant style of "
                                f"{model.painting!r}, not of this painting; choose another "
                                "model file, or restart to replace it")
        if model.shape != s.shape:
            raise SettingsError("output", f"{p} holds a network of width {model.shape.width} "
                                f"with {model.shape.blocks} blocks, not {s.width} and "
                                f"{s.blocks}; use those, or restart to replace it")
        self.net.load_state_dict(model.state)
        self.opt_state = model.optimizer
        self.start_step = model.steps_done
        log.info("resuming %s at step %d", p, self.start_step)

    @property
    def resumed(self) -> bool:
        return self.start_step > 0

    # ---- the run ---------------------------------------------------------------------------
    @released_after
    def events(self) -> Iterator[Event]:
        s, timer = self.settings, Timer()
        configure(self.device)
        dev = self.device
        torch.manual_seed(s.seed + self.start_step)
        rng = random.Random(s.seed * 1_000_003 + self.start_step)
        net = self.net.to(dev).train()
        opt = torch.optim.Adam(net.parameters(), lr=s.learning_rate)
        if self.opt_state:
            try:
                opt.load_state_dict(self.opt_state)
            except (ValueError, KeyError, RuntimeError):
                log.warning("the optimizer state in %s does not fit; Adam starts afresh",
                            s.output)
        style = to_tensor(resize(self.style.rgb, fit_long_side(*self.style.size, s.style_size)),
                          dev)
        objective = Objective.for_styles(self.loss_net.extract, [style], s.loss_settings())
        thumb = thumbnail_of(self.style.rgb)
        step = self.start_step
        good = (copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict()))
        history: list[dict[str, float]] = []
        last_save = time.perf_counter()
        last_preview: tuple[int, float] = (0, 0.0)
        preview: np.ndarray | None = None
        timings = {"setup": timer()}
        t0 = time.perf_counter()

        def save(optimizer: dict | None) -> None:
            meta = {"painting": Path(s.style).stem, "painting_file": Path(s.style).name,
                    "style_digest": self.style_digest, "steps_done": step,
                    "settings": s.to_dict(), "photos": len(self.photos),
                    "network": "nst_core.transformer.TransformerNet (Johnson et al. 2016)",
                    "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
            save_model(s.output, self.net, meta, thumb, optimizer)

        def result(status: Status, why: str) -> TrainResult:
            timings["total"] = timer()
            return TrainResult(s.output, step, status, why, history, dict(timings), preview)

        if step >= s.steps:
            self.result = result("done", f"already trained for {step} steps; ask for more "
                                          "steps to train further")
            return
        try:
            while step < s.steps and not self._stop.is_set():
                x = self._batch(rng).to(dev)
                with torch.no_grad():
                    target = self.loss_net.extract(x)
                y = net(x)
                terms = objective(self.loss_net.extract(y), y,
                                  content={n: target[n] for n in objective.content})
                loss = terms["total"]
                if not torch.isfinite(loss):
                    why = (f"The loss became {loss.detach().item()} at step {step + 1}; the last "
                           f"good weights (step {step}) were kept. Lower the learning rate or the "
                           "style strength, and train again to resume.")
                    net.load_state_dict(good[0])
                    save(good[1])
                    raise RunFailedError(why, result=result("failed", why))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                good = ({k: v.detach().clone() for k, v in net.state_dict().items()},
                        copy.deepcopy(opt.state_dict()))
                losses = {k: float(v.detach()) for k, v in terms.items()}
                history.append(losses)
                done_here = step - self.start_step
                spent = time.perf_counter() - t0
                per = spent / done_here
                yield Progress(iteration=step, total=s.steps, scale=0, scales=1,
                               size=(s.crop, s.crop), losses=losses, elapsed=timer(),
                               eta=per * (s.steps - step), rate=s.batch / per)
                end = step >= s.steps
                if self._preview_due(step, last_preview, end):
                    preview = self._preview(net)
                    last_preview = (step, time.perf_counter())
                    yield Preview(preview, step)
                if time.perf_counter() - last_save >= s.checkpoint_seconds and not end:
                    save(opt.state_dict())
                    last_save = time.perf_counter()
        except RunFailedError:
            raise
        except Exception as e:
            if is_oom(e):
                net.load_state_dict(good[0])
                save(good[1])
                why = (f"Not enough memory to train on {s.batch} crops of {s.crop} px on "
                       f"{dev.type}; lower the batch or the crop size and train again (it "
                       f"resumes at step {step}).")
                raise OutOfMemoryError(why, result=result("failed", why)) from None
            raise
        save(opt.state_dict())
        timings["train"] = timer() - timings["setup"]
        if step < s.steps:
            self.result = result("stopped", f"stopped at step {step} of {s.steps}; the same "
                                            "training resumes from here")
        else:
            self.result = result("done", f"trained {step} steps")

    def _preview_due(self, step: int, last: tuple[int, float], end: bool) -> bool:
        if step == self.start_step + 1 or end:
            return True
        if self.previews.every <= 0:
            return False
        every = max(self.previews.every, self.settings.preview_every)
        return step - last[0] >= every and time.perf_counter() - last[1] >= self.previews.seconds

    def _batch(self, rng: random.Random) -> torch.Tensor:
        """Random crops of random photos: a random scale (the crop covers from its own size up
        to the photo's short side), a random place, a random mirror."""
        s = self.settings
        out = []
        for _ in range(s.batch):
            rgb = self.photos[rng.randrange(len(self.photos))]
            h, w = rgb.shape[:2]
            side = min(h, w)
            lo = min(s.crop, side)
            r = int(round(math.exp(rng.uniform(math.log(lo), math.log(side)))))
            y0, x0 = rng.randint(0, h - r), rng.randint(0, w - r)
            piece = rgb[y0:y0 + r, x0:x0 + r]
            if rng.random() < 0.5:
                piece = piece[:, ::-1]
            t = to_tensor(np.ascontiguousarray(piece))
            if r != s.crop:
                t = F.interpolate(t, size=(s.crop, s.crop), mode="bilinear", antialias=True,
                                  align_corners=False).clamp(0, 1)
            out.append(t)
        return torch.cat(out)

    def _preview(self, net: TransformerNet) -> np.ndarray:
        """The held-out photos repainted, side by side on one strip."""
        net.eval()
        try:
            pics = [stylize(net, rgb, self.device) for rgb in self.held]
        finally:
            net.train()
            net.to(memory_format=torch.contiguous_format)
        h = max(p.shape[0] for p in pics)
        gap = np.full((h, 4, 3), 255, np.uint8)
        row = []
        for p in pics:
            pad = np.full((h - p.shape[0], p.shape[1], 3), 255, np.uint8)
            row += [np.concatenate([p, pad]), gap]
        return np.concatenate(row[:-1], axis=1)


# ---- applying --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float, size: int) -> InstantModel:
    return load_model(path)


def cached_model(path: str | os.PathLike) -> InstantModel:
    """A model file loaded once per process (again when the file changes)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return load_model(p)  # says why in one line
    return _cached_model(str(p.resolve()), st.st_mtime, st.st_size)


def _check_strength(strength: float) -> None:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0.0 <= strength <= 1.0:
        raise SettingsError("strength", f"must be between 0 and 1 (got {strength!r})")


def _check_colors(colors: str) -> None:
    if colors not in ("style", "keep"):
        raise SettingsError("color", f"must be style or keep (got {colors!r})")


@dataclass
class ApplyResult:
    image: np.ndarray  # (H, W, 3) uint8
    model: str  # the model file
    painting: str
    status: Status = "done"
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    alpha: np.ndarray | None = None


@register
@dataclass(frozen=True)
class ApplyJob(Job):
    """One photo repainted by a model. `size`: long side of the output (0: the photo's own)."""

    model: str
    content: str
    size: int = 0
    strength: float = 1.0
    color: ColorChoice = "style"
    device: str = "auto"
    kind = "apply"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> ApplyRun:
        return ApplyRun(self, stop)

    def payload(self) -> dict[str, Any]:
        return {"model": self.model, "content": self.content, "size": self.size,
                "strength": self.strength, "color": self.color, "device": self.device}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ApplyJob:
        known = {"model", "content", "size", "strength", "color", "device"}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field of an apply job")
        try:
            return cls(str(data.get("model", "")), str(data.get("content", "")),
                       int(data.get("size", 0)), float(data.get("strength", 1.0)),
                       str(data.get("color", "style")), str(data.get("device", "auto")))
        except (TypeError, ValueError) as e:
            raise SettingsError("apply", f"a field has the wrong kind of value ({e})") from None

    @property
    def title(self) -> str:
        return f"{Path(self.content).stem} × {Path(self.model).stem} (instant)"

    def input_files(self) -> list[str]:
        return [self.model, self.content]

    def with_input_files(self, mapping: dict[str, str]) -> ApplyJob:
        import dataclasses

        return dataclasses.replace(self, model=mapping.get(self.model, self.model),
                                   content=mapping.get(self.content, self.content))


class ApplyRun(Run):
    def __init__(self, job: ApplyJob, stop: threading.Event | None = None):
        super().__init__(stop)
        _check_strength(job.strength)
        _check_colors(job.color)
        if isinstance(job.size, bool) or not (job.size == 0 or 16 <= job.size <= 16384):
            raise SettingsError("size", f"must be 0 (the photo's own size) or from 16 to 16384 "
                                        f"(got {job.size!r})")
        self.job = job
        self.device = resolve_device(job.device)
        self.model = cached_model(job.model)
        self.content = load_image(job.content)

    def events(self) -> Iterator[Event]:
        job, timer = self.job, Timer()
        rgb, alpha = self.content.rgb, self.content.alpha
        if job.size:
            size = fit_long_side(*self.content.size, job.size)
            rgb = resize(rgb, size)
            alpha = resize(alpha, size) if alpha is not None else None
        try:
            out = stylize(self.model.network(), rgb, self.device, job.strength, job.color)
        except Exception as e:
            if is_oom(e):
                h, w = rgb.shape[:2]
                raise OutOfMemoryError(f"Not enough memory to repaint a {w}x{h} picture on "
                                       f"{self.device.type}; choose a smaller size.") from None
            raise
        t = timer()
        yield Progress(iteration=1, total=1, scale=0, scales=1, size=(out.shape[1], out.shape[0]),
                       losses={}, elapsed=t, eta=0.0)
        yield Preview(out, 1)
        self.result = ApplyResult(out, job.model, self.model.painting, "done",
                                  f"repainted in {t:.2f} s", {"total": t}, alpha)


# ---- camera ----------------------------------------------------------------------------------
@dataclass
class CameraResult:
    frames: int
    fps: float
    status: Status = "done"
    reason: str = ""
    last: np.ndarray | None = None


@register
@dataclass(frozen=True)
class CameraJob(Job):
    """A camera feed (or a video file standing in for one) repainted as fast as the model
    runs. `source`: a camera number ("0") or a video file. Runs until stopped, until the
    source ends, or for `max_frames` frames (0: no limit)."""

    model: str
    source: str = "0"
    size: int = 512
    strength: float = 1.0
    color: ColorChoice = "style"
    device: str = "auto"
    max_frames: int = 0
    kind = "camera"

    def prepare(self, previews: PreviewPolicy | None = None,
                stop: threading.Event | None = None) -> CameraRun:
        return CameraRun(self, stop)

    def payload(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "size": self.size,
                "strength": self.strength, "color": self.color, "device": self.device,
                "max_frames": self.max_frames}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CameraJob:
        try:
            return cls(**{k: data[k] for k in data})
        except TypeError as e:
            raise SettingsError("camera", f"unknown or missing field ({e})") from None


class CameraRun(Run):
    def __init__(self, job: CameraJob, stop: threading.Event | None = None):
        super().__init__(stop)
        import cv2

        _check_strength(job.strength)
        _check_colors(job.color)
        self.job = job
        self.device = resolve_device(job.device)
        self.model = cached_model(job.model)
        src = job.source.strip()
        if src.isdigit():
            self.cap = cv2.VideoCapture(int(src))
            if not self.cap.isOpened():
                raise DeviceError(f"No camera number {src} answers on this machine; connect "
                                  "one, or name a video file to stand in for it.")
        else:
            if not Path(src).is_file():
                raise ImageError(src, "file not found; check the path")
            self.cap = cv2.VideoCapture(src)
            if not self.cap.isOpened():
                raise ImageError(src, "not a video this app can read")

    def events(self) -> Iterator[Event]:
        import cv2

        job, timer = self.job, Timer()
        net = self.model.network()
        n, last = 0, None
        try:
            while not self._stop.is_set() and (job.max_frames <= 0 or n < job.max_frames):
                ok, frame = self.cap.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                h, w = rgb.shape[:2]
                if job.size and max(h, w) != job.size:
                    rgb = resize(rgb, fit_long_side(w, h, job.size))
                last = stylize(net, rgb, self.device, job.strength, job.color)
                n += 1
                t = timer()
                yield Progress(iteration=n, total=max(n, job.max_frames), scale=0, scales=1,
                               size=(last.shape[1], last.shape[0]), losses={}, elapsed=t,
                               eta=None, rate=n / t)
                yield Preview(last, n)
        finally:
            self.cap.release()
        t = timer()
        status: Status = "stopped" if self._stop.is_set() else "done"
        self.result = CameraResult(n, n / t if t > 0 else 0.0, status,
                                   f"{n} frames at {n / max(t, 1e-9):.1f} frames per second",
                                   last)
