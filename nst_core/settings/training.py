"""What an instant style (Johnson, Alahi & Fei-Fei 2016) is trained from and how."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from nst_core.base.errors import SettingsError
from nst_core.networks.transformer import NetShape
from nst_core.settings.fields import Fields, meta
from nst_core.settings.picture import TransferSettings

_LOSS_DEFAULTS = TransferSettings()


@dataclass(frozen=True)
class TrainSettings(Fields):
    """What an instant style is trained from and how."""

    _what: ClassVar[str] = "training setting"

    style: str = field(default="", metadata=meta(
        "The painting whose style the network learns.", label="Painting"))
    photos: tuple[str, ...] = field(default=(), metadata=meta(
        "Training photos (image files, or videos whose frames are used). More and more varied "
        "photos give a model that works on more kinds of picture.", label="Training photos"))
    held_out: tuple[str, ...] = field(default=(), metadata=meta(
        "Photos never trained on, repainted as the live preview (empty: taken from the "
        "training photos when there are five or more).", label="Preview photos"))
    output: str = field(default="", metadata=meta(
        "The model file to write (and to resume from).", label="Model file"))
    steps: int = field(default=1600, metadata=meta(
        "Training steps in all (a resumed training counts the steps already done).",
        range=(1, 1_000_000), label="Steps"))
    batch: int = field(default=1, metadata=meta(
        "Photos per step.", range=(1, 64), label="Batch size"))
    crop: int = field(default=256, metadata=meta(
        "Side of the square crops the network trains on: larger crops teach the strokes and "
        "shapes a picture has at the size it is used at (one crop of 256 px costs as much as "
        "four of 128 and is much closer to the painting).", range=(32, 1024), label="Crop size"))
    style_size: int = field(default=512, metadata=meta(
        "Long side of the painting when its style is measured: larger gives larger strokes. "
        "The size the pictures are made at keeps the painting's strokes in proportion.",
        range=(64, 2048), label="Style size"))
    width: int = field(default=8, metadata=meta(
        "Base width of the network (Johnson's is 32): wider is slower and a little better.",
        range=(4, 128), label="Network width"))
    blocks: int = field(default=5, metadata=meta(
        "Residual blocks (Johnson's is 5).", range=(0, 16), label="Residual blocks"))
    learning_rate: float = field(default=1e-3, metadata=meta(
        "Adam's step size.", range=(1e-6, 1.0), log=True, label="Learning rate"))
    content_weight: float = field(default=20.0, metadata=meta(
        "How strongly pictures keep the photo's shapes (higher than the optimization's 5: a "
        "network that starts from nothing, unlike a picture that starts from the photo, "
        "otherwise keeps too little of it).", range=(0.0, 1e6), log=True,
        label="Content weight"))
    style_weight: float = field(default=_LOSS_DEFAULTS.style_weight, metadata=meta(
        "How strongly the painting's textures take over.", range=(0.0, 1e8), log=True,
        label="Style strength"))
    tv_weight: float = field(default=_LOSS_DEFAULTS.tv_weight, metadata=meta(
        "Smoothing.", range=(0.0, 10.0), log=True, label="Smoothing (TV)"))
    grid_weight: float = field(default=1000.0, metadata=meta(
        "How strongly the network is kept from painting one motif into every 4x4 cell of the "
        "pixel grid (its strides' hatching).", range=(0.0, 1e8), log=True,
        label="Grid pattern penalty"))
    checkpoint_seconds: float = field(default=60.0, metadata=meta(
        "The model file is written at least this often while training.", range=(1.0, 3600.0),
        label="Checkpoint every (s)"))
    preview_every: int = field(default=25, metadata=meta(
        "Steps between previews of the held-out photos.", range=(1, 100_000),
        label="Preview every"))
    seed: int = field(default=0, metadata=meta(
        "Seed of the crops and the network's start.", range=(0, 2**31 - 1), label="Seed"))
    device: str = field(default="auto", metadata=meta(
        "Where to compute.", choices=("auto", "cpu", "cuda", "mps"), label="Device"))
    restart: bool = field(default=False, metadata=meta(
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

    def validate(self) -> TrainSettings:
        self.check_fields()
        if not self.style:
            raise SettingsError("style", "choose the painting to learn")
        if not self.photos:
            raise SettingsError("photos", "choose at least one training photo (or a video)")
        if not self.output:
            raise SettingsError("output", "choose the model file to write")
        if self.content_weight == 0 and self.style_weight == 0:
            raise SettingsError("style_weight", "content and style weights are both 0")
        return self
