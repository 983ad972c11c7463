"""A still picture's checkpoint on disk: where a long render stands, so that after a crash, a
restart or a stop the same render continues from there instead of from the photo.

What is kept: the scale and the steps done there, the scales as they stand (a scale the picture
rule ended early keeps its length), the best picture of that scale, the optimizer's state, the
losses so far and the time spent. Of L-BFGS's curvature pairs only the newest that fit in
`PAIR_BYTES` (at 4096x3072 fifty pairs are 15 GB, one 300 MB); the optimizer learns the others
again in its next steps (docs/decisions/tiles.md).

A checkpoint belongs to one render: its key is the settings (less the memory ones, which do
not change the picture) and the size and time of every input file. One made for anything else,
or one that cannot be read, is not used: the render starts afresh and says why.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nst_core.media.files import replacing
from nst_core.settings.picture import TransferSettings

log = logging.getLogger(__name__)

FORMAT = 1
#: The most bytes of curvature pairs a checkpoint keeps: every pair of a 512 px picture (50 x
#: 4.7 MB), three of a 4096x3072 one.
PAIR_BYTES = 1 << 30
#: Settings that change how a render uses the machine, not its picture.
_NOT_IN_KEY = ("max_memory", "tile", "device")


def render_key(settings: TransferSettings, files: list[str]) -> str:
    """What a checkpoint must match to be continued: the picture's settings and the inputs."""
    data = {k: v for k, v in settings.to_dict().items() if k not in _NOT_IN_KEY}
    stamps = []
    for f in files:
        try:
            st = os.stat(f)
            stamps.append([os.path.abspath(f), st.st_size, st.st_mtime_ns])
        except OSError:
            stamps.append([os.path.abspath(f), None, None])
    return json.dumps({"settings": data, "files": stamps}, sort_keys=True)


@dataclass
class Checkpoint:
    key: str
    scale: int  # the scale in progress (index)
    step: int  # steps done at that scale
    scales: list[tuple[tuple[int, int], int]]  # (size, iterations) of every scale
    image: torch.Tensor  # the scale's best picture so far, (1, 3, H, W) float32 on the CPU
    gamma: float | None  # the optimizer's H0 scale
    losses: list[dict[str, float]] = field(default_factory=list)  # every iteration's
    seconds: float = 0.0  # time spent painting before
    optimizer: dict | None = None  # BoxLBFGS.kept_state, where the optimizer is one
    #: the image the optimizer stands at (its last step's, not yet evaluated), where it differs
    current: torch.Tensor | None = None
    settings: str = ""  # the render's settings as JSON, to offer it again

    @property
    def planned(self) -> int:
        return sum(n for _, n in self.scales)

    @property
    def iterations(self) -> int:
        return len(self.losses)


def save(path: str | os.PathLike, ck: Checkpoint) -> None:
    """Write the checkpoint in one step (a crash while writing leaves the previous one),
    streamed to the file: a print-size picture's is a gigabyte, which a copy in memory would
    take from the render's budget."""
    data = {"format": FORMAT, "key": ck.key, "scale": ck.scale, "step": ck.step,
            "scales": [[list(size), n] for size, n in ck.scales],
            "image": ck.image.detach().to("cpu", torch.float32).contiguous(),
            "gamma": ck.gamma, "losses": ck.losses, "seconds": ck.seconds,
            "settings": ck.settings, "optimizer": ck.optimizer,
            "current": None if ck.current is None
            else ck.current.detach().to("cpu", torch.float32).contiguous()}
    with replacing(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())


def unfinished(path: str | os.PathLike) -> tuple[TransferSettings, Checkpoint] | None:
    """The settings of the render a checkpoint belongs to, and the checkpoint, when it can
    still be continued (its images unchanged); None otherwise."""
    try:
        text = torch.load(path, map_location="cpu", weights_only=True).get("settings", "")
        settings = TransferSettings.from_json(text)
    except Exception:  # missing, damaged, or from another version
        return None
    files = [settings.content, *settings.styles] + \
        ([settings.init_image] if settings.init == "image" else [])
    ck, why = load(path, render_key(settings, files))
    return (settings, ck) if ck is not None else None


def load(path: str | os.PathLike, key: str) -> tuple[Checkpoint | None, str]:
    """The checkpoint at `path` if it belongs to the render of `key`, and, when there is a file
    that cannot be used, why (empty when there is none, or it is used)."""
    p = Path(path)
    if not p.is_file():
        return None, ""
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None, "it was written by another version"
        if data["key"] != key:
            return None, "it belongs to other settings or other images"
        scales = [(tuple(int(v) for v in size), int(n)) for size, n in data["scales"]]
        image = data["image"]
        scale, step = int(data["scale"]), int(data["step"])
        if not (0 <= scale < len(scales) and 0 <= step <= scales[scale][1]):
            return None, "it is damaged"
        w, h = scales[scale][0]
        if not isinstance(image, torch.Tensor) or tuple(image.shape) != (1, 3, h, w) \
                or not bool(torch.isfinite(image).all()):
            return None, "it is damaged"
        gamma, current = data["gamma"], data.get("current")
        if current is not None and (not isinstance(current, torch.Tensor)
                                    or current.shape != image.shape
                                    or not bool(torch.isfinite(current).all())):
            current = None
        return Checkpoint(key, scale, step, scales, image.float().clamp(0, 1),
                          None if gamma is None else float(gamma),
                          [dict(x) for x in data["losses"]], float(data["seconds"]),
                          data.get("optimizer"),
                          None if current is None else current.float().clamp(0, 1),
                          str(data.get("settings", ""))), ""
    except Exception as e:  # truncated, not a torch file, wrong types: start afresh
        log.info("unusable checkpoint %s: %s", p, e)
        return None, "it cannot be read (damaged or incomplete)"


def remove(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("cannot remove the checkpoint %s: %s", path, e)
