"""The training job of an instant style (Johnson, Alahi & Fei-Fei 2016): a feed-forward network
learns one painting with the optimization's own objective.

`TrainJob(TrainSettings)` trains (or resumes) a model file. Progress every step (losses,
samples per second, time left); a strip of held-out photos repainted as the preview. The model
file is the checkpoint: written atomically every `checkpoint_seconds`, at a stop and at the end;
running the same job again resumes from it. A NaN loss stops training and keeps the last good
weights.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nst_core.base.errors import (
    ImageError,
    ModelError,
    OutOfMemoryError,
    RunFailedError,
    SettingsError,
)
from nst_core.base.events import Event, Note, Preview, PreviewPolicy, Progress, Timer
from nst_core.base.results import Ended, Status
from nst_core.job import Job, Run
from nst_core.media.images import fit_long_side, load_image, resize
from nst_core.media.tensors import to_tensor
from nst_core.media.video import is_video, sample_frames
from nst_core.networks.model_file import damaged_own, load_model, save_model, thumbnail_of
from nst_core.networks.stylize import stylize
from nst_core.networks.transformer import DIVISOR, TransformerNet
from nst_core.networks.vgg import shared_features
from nst_core.objective.losses import grid_pattern
from nst_core.objective.perceptual import Objective
from nst_core.painting import pace
from nst_core.runtime.devices import configure, is_oom, resolve_device
from nst_core.runtime.memory import released_after
from nst_core.settings.training import TrainSettings

log = logging.getLogger(__name__)

#: A training step against an optimization iteration over as many pixels (the step's batch of
#: crops): the loss network runs on the photos and on the network's pictures, and the transformer
#: forward and back. Measured 1.44 on a 2-core AMD EPYC (AVX2, float32), benchmarks/RESULTS.md.
TRAIN_STEP_COST = 1.45

#: Steps after which a default training's previews show the painting's colours and strokes,
#: and the photo's shapes under them (seen on the shipped styles' trainings,
#: docs/decisions/instant-network.md); before, a preview is a blotch of the painting's colours.
TAKES_SHAPE_STEPS = (150, 300)

#: Frames taken from each training video.
FRAMES_PER_VIDEO = 120
#: Training photos are kept in memory at this long side at most.
PHOTO_SIDE = 512


def file_digest(path: str | os.PathLike) -> str:
    """A short fingerprint of a file's bytes: a model remembers which painting it learned."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@dataclass
class TrainResult(Ended):
    path: str  # the model file
    steps_done: int
    status: Status = "done"
    reason: str = ""
    losses: list[dict[str, float]] = field(default_factory=list)  # one per step of this run
    timings: dict[str, float] = field(default_factory=dict)
    preview: np.ndarray | None = None  # the last strip of held-out pictures

    @property
    def picture(self) -> np.ndarray | None:
        return self.preview


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

    def validate(self) -> TrainJob:
        self.settings.validate()
        return self

    def input_files(self) -> list[str]:
        s = self.settings
        return [s.style, *s.photos, *s.held_out]


def estimated_seconds(settings: TrainSettings, steps_done: int = 0) -> float:
    """Seconds the training's steps still to come are expected to take on this machine (the
    engine's cost model, calibrated where this process has timed it; see
    `nst_core.painting.picture.calibrate_pace`). Loads nothing and never measures."""
    device = resolve_device(settings.device)
    cost = pace.known_cost(device.type)
    step = TRAIN_STEP_COST * cost(settings.batch * settings.crop * settings.crop)
    return max(0, settings.steps - steps_done) * step


def takes_shape(settings: TrainSettings, steps_done: int = 0) -> list[tuple[int, float]]:
    """(step, seconds from now) at which the previews are expected to show the painting's
    strokes, then the photo's shapes: those still ahead and within the training."""
    step = estimated_seconds(settings.replace(steps=1))  # one step's seconds
    return [(n, (n - steps_done) * step) for n in TAKES_SHAPE_STEPS
            if steps_done < n <= settings.steps]


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
        #: why the model file there is not resumed but trained again (it is damaged), or ""
        self.redone = ""
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
            if not damaged_own(p):  # another kind of file: never trained over
                raise SettingsError("output", f"{e}; choose another model file, or restart "
                                              "to replace it") from None
            # this app's checkpoint, damaged: nothing in it to keep, so it is trained again
            self.redone = f"{e.args[0].split(';')[0]}; training starts again from the first " \
                          "step and replaces it"
            log.warning("%s", self.redone)
            return
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
        if self.redone:
            yield Note(self.redone)
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
        if s.grid_weight:
            objective.add_term("grid", s.grid_weight, lambda _, image: grid_pattern(image, DIVISOR))
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
                    "network": "nst_core.networks.transformer.TransformerNet (Johnson et al. 2016)",
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


