"""The instant-style model file (`.nst`): the transformer's weights and what they are, in one file
that loads without unpickling code.

It is a `torch.save` of plain data read back with `torch.load(weights_only=True)`, which
rebuilds only tensors and plain containers (no class of ours, no arbitrary code):

    {"format": "nst-studio-instant-style", "version": 1,
     "meta": "<JSON: painting name, training settings, steps done, network shape, source>",
     "thumbnail": uint8 tensor (H, W, 3), the painting,
     "state": the network's state dict,
     "optimizer": Adam's state dict, while training goes on (dropped by `strip`)}

The file is the training checkpoint as well: training writes it atomically every few minutes and
at a stop, and resumes from it.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nst_core.base.errors import ModelError
from nst_core.media.files import os_reason, write_atomic
from nst_core.networks.transformer import NetShape, TransformerNet

FORMAT = "nst-studio-instant-style"
VERSION = 1
SUFFIX = ".nst"
#: No model of ours comes near this; a larger file is not one (and would fill memory).
MAX_BYTES = 512 * 2**20


@dataclass
class InstantModel:
    """A loaded model file. `meta` holds at least painting, shape, steps_done, settings."""

    path: str
    meta: dict[str, Any]
    thumbnail: np.ndarray  # (H, W, 3) uint8
    state: dict[str, torch.Tensor]
    optimizer: dict | None = None
    _net: TransformerNet | None = field(default=None, repr=False)

    @property
    def painting(self) -> str:
        return str(self.meta.get("painting", "unknown painting"))

    @property
    def shape(self) -> NetShape:
        s = self.meta.get("shape", {})
        return NetShape(int(s.get("width", 16)), int(s.get("blocks", 3)))

    @property
    def steps_done(self) -> int:
        return int(self.meta.get("steps_done", 0))

    @property
    def steps_planned(self) -> int:
        return int(self.meta.get("settings", {}).get("steps", self.steps_done))

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.steps_planned

    def network(self) -> TransformerNet:
        """The network with these weights, in eval mode (built once per loaded file)."""
        if self._net is None:
            net = TransformerNet(self.shape)
            try:
                net.load_state_dict(self.state)
            except (RuntimeError, KeyError) as e:
                raise ModelError(f"{self.path}: the weights do not fit the network they name "
                                 f"({str(e).splitlines()[0][:120]}); the file is damaged or "
                                 "from another program") from None
            self._net = net.eval().requires_grad_(False)
        return self._net


def thumbnail_of(rgb: np.ndarray, side: int = 128) -> np.ndarray:
    from nst_core.media.images import fit_long_side, resize

    h, w = rgb.shape[:2]
    return resize(rgb, fit_long_side(w, h, side))


def save_model(path: str | os.PathLike, net: TransformerNet, meta: dict[str, Any],
               thumbnail: np.ndarray, optimizer: dict | None = None) -> Path:
    """Write the model file atomically (a temporary file beside it, then a rename): a crash or
    a full disk never leaves half a file in place of a good one. Raises ModelError."""
    p = Path(path)
    data = {"format": FORMAT, "version": VERSION,
            "meta": json.dumps({**meta, "shape": {"width": net.shape.width,
                                                  "blocks": net.shape.blocks}}),
            "thumbnail": torch.from_numpy(np.array(thumbnail, dtype=np.uint8, copy=True)),
            "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
    if optimizer is not None:
        data["optimizer"] = optimizer
    buf = io.BytesIO()
    torch.save(data, buf)  # a few MB: the file is written in one step from memory
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(p, buf.getvalue())
    except OSError as e:
        raise ModelError(f"cannot write the model file {p} ({os_reason(e)}); choose another "
                         "folder or free some space") from None
    return p


def _refuse(p: Path, why: str) -> ModelError:
    return ModelError(f"{p}: {why}")


def load_model(path: str | os.PathLike) -> InstantModel:
    """Read and check a model file, or raise ModelError in one line saying why not."""
    p = Path(path) if str(path) else None
    if p is None:
        raise ModelError("no model file was chosen")
    try:
        if not p.exists():
            raise _refuse(p, "file not found; check the path")
        if p.is_dir():
            raise _refuse(p, "is a folder, not a model file")
        size = p.stat().st_size
    except OSError as e:
        raise _refuse(p, f"cannot be opened ({os_reason(e)})") from None
    if size == 0:
        raise _refuse(p, "the file is empty (0 bytes)")
    if size > MAX_BYTES:
        raise _refuse(p, f"is {size / 2**20:.0f} MB, far larger than any instant style: not a "
                         "model file of NST Studio")
    try:
        with open(p, "rb") as f:
            data = torch.load(f, map_location="cpu", weights_only=True)
    except MemoryError:
        raise _refuse(p, "too large to read") from None
    except OSError as e:
        raise _refuse(p, f"cannot be read ({os_reason(e)})") from None
    except Exception:  # torch's message about unsafe loading is no help to the person
        raise _refuse(p, "not an instant-style model of NST Studio (it is damaged, truncated "
                         "or another kind of file); train the style again or import another "
                         "file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _refuse(p, "not an instant-style model of NST Studio (another kind of file)")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise _refuse(p, f"made by a newer NST Studio (format {version!r}; this one reads "
                         f"{VERSION}); update the app")
    try:
        meta = json.loads(data["meta"])
        thumb = data["thumbnail"]
        state = data["state"]
        if not isinstance(meta, dict) or not isinstance(state, dict):
            raise TypeError
        if not (isinstance(thumb, torch.Tensor) and thumb.dtype == torch.uint8
                and thumb.dim() == 3 and thumb.shape[2] == 3):
            raise TypeError
        if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
            raise TypeError
        NetShape(int(meta["shape"]["width"]), int(meta["shape"]["blocks"])).validate()
    except Exception:
        raise _refuse(p, "the model file is damaged (its description or weights are missing "
                         "or malformed); train the style again or import another file") from None
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise _refuse(p, "the weights hold NaN or infinite values; train the style again")
    optimizer = data.get("optimizer")
    model = InstantModel(str(p), meta, thumb.numpy().copy(), state,
                         optimizer if isinstance(optimizer, dict) else None)
    model.network()  # the weights must fit the shape they name
    return model


def damaged_own(path: str | os.PathLike) -> bool:
    """Whether an unreadable model file is one of this app's own, damaged (a .nst file whose
    container, a zip archive, was written but is cut short or spoilt), rather than another
    kind of file that merely took the name: only the first may be trained again over."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return p.suffix.lower() == SUFFIX and head == b"PK\x03\x04"


def strip(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a model without its training state (a third of the size): for export and shipping."""
    m = load_model(src)
    return save_model(dst, m.network(), m.meta, m.thumbnail)
