"""Everything a run depends on, in one frozen dataclass.

`TransferSettings` is the single source of defaults, ranges, choices and help texts: the
command line builds its options from it and the window builds its form from it. `validate()`
checks every field up front and raises a `SettingsError` naming the field and the allowed range.
Settings round-trip through JSON (`to_json` / `from_json`) so that a saved PNG carries them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

from nst_core.base.errors import SettingsError
from nst_core.networks.layers import FEATURE_LAYERS
from nst_core.settings.fields import Fields, check_field, coerce, meta, parse_json

Init = Literal["content", "noise", "style", "image"]
Optimizer = Literal["lbfgs", "adam"]
ColorMode = Literal["none", "luminance", "histogram"]
Pooling = Literal["max", "avg"]
Device = Literal["auto", "cpu", "cuda", "mps"]
WeightsSource = Literal["bundled", "torchvision"]

#: Default learning rates when `learning_rate` is None. L-BFGS takes a unit step scaled by its
#: curvature estimate; Adam moves each pixel (0..1 scale) by about this much per step.
DEFAULT_LR: dict[str, float] = {"lbfgs": 1.0, "adam": 0.02}

#: The picture rule's default (nst_core.painting.optimize.minimize), chosen from measurements
#: (docs/decisions/picture-rule.md).
SETTLE = 0.25

SETTINGS_FORMAT = 1  # bump when a field changes meaning
_JSON_KEY = "nst_studio_settings"


#: A picture at least this many times `strokes_at` measures part of its loss at that size
#: (`TransferSettings.strokes_reduction`, nst_core.objective.perceptual): nearer, the strokes
#: differ too little to pay for the extra pass.
STROKES_FROM = 1.5


@dataclass(frozen=True)
class TransferSettings(Fields):
    """What the person chose for one picture. Paths are strings so the value is plain JSON.
    The engine names no default images: front ends fill in their own (nst_app.samples)."""

    content: str = field(default="", metadata=meta(
        "The photograph to repaint.", label="Content image"))
    styles: tuple[str, ...] = field(default=(), metadata=meta(
        "One or more paintings whose style is taken.", label="Style images"))
    style_blend: tuple[float, ...] = field(default=(), metadata=meta(
        "How much each style image counts, one number per style (normalized to sum to 1); "
        "empty means equal.", range=(0.0, 1e6), label="Style blend"))
    masks: tuple[str, ...] = field(default=(), metadata=meta(
        "Where each painting goes: one greyscale mask per style image, in the styles' order "
        "(white = this painting, black = not, grey = partly; scaled to the photo); an empty "
        "entry lets that painting cover the whole picture. Where no painting's mask reaches, "
        "the picture keeps the photo.", label="Regions"))
    soft_edges: float = field(default=1.0, metadata=meta(
        "How soft the regions' borders are: the masks are blurred by this percentage of the "
        "picture's long side (0 keeps them as painted).", range=(0.0, 20.0),
        label="Soft edges"))
    size: int = field(default=512, metadata=meta(
        "Long side of the output in pixels. Time grows with the square of it; beyond what "
        "fits in memory the picture is painted in tiles.",
        range=(32, 8192), label="Output size"))
    content_weight: float = field(default=5.0, metadata=meta(
        "How strongly the picture keeps the photo's shapes (the content weight).",
        range=(0.0, 1e6), log=True,
        label="Photo's shapes"))
    style_weight: float = field(default=100.0, metadata=meta(
        "How strongly the painting's textures and colours take over (the style weight).",
        range=(0.0, 1e8),
        log=True, label="Painting strength"))
    tv_weight: float = field(default=1e-3, metadata=meta(
        "Smoothness: higher values remove speckles but soften brush strokes (the "
        "total-variation weight).", range=(0.0, 10.0),
        log=True, label="Smoothness"))
    content_layers: tuple[str, ...] = field(default=("relu4_2",), metadata=meta(
        "VGG19 layers whose activations the picture must keep from the photo.",
        choices=FEATURE_LAYERS, label="Content layers"))
    style_layers: tuple[str, ...] = field(
        default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), metadata=meta(
            "VGG19 layers whose Gram matrices must match the painting's: shallow layers give "
            "fine texture, deep layers large strokes.", choices=FEATURE_LAYERS,
            label="Style layers"))
    style_layer_weights: tuple[float, ...] = field(default=(), metadata=meta(
        "One weight per style layer; empty means equal.", range=(0.0, 1e6),
        label="Style layer weights"))
    init: Init = field(default="content", metadata=meta(
        "Where the painting starts: the photo, random noise, the (first) painting, or any image.",
        choices=get_args(Init), label="Start from"))
    init_image: str = field(default="", metadata=meta(
        "The image to start from when init is 'image' (for example an earlier result).",
        label="Start image"))
    optimizer: Optimizer = field(default="lbfgs", metadata=meta(
        "L-BFGS converges in fewer steps; Adam takes cheaper, steadier steps.",
        choices=get_args(Optimizer), label="Optimizer"))
    learning_rate: float | None = field(default=None, metadata=meta(
        "Step size; empty means the optimizer's default (L-BFGS 1.0, Adam 0.02).",
        range=(1e-6, 100.0), log=True, label="Learning rate"))
    iterations: int = field(default=300, metadata=meta(
        "Optimizer steps in all, over every scale (iterations): more steps, more finished, "
        "longer.", range=(1, 100000), label="Steps"))
    early_stop: float = field(default=0.001, metadata=meta(
        "Move on when the picture stops changing: a scale ends once the loss improved by less "
        "than this fraction over its last 20 iterations (0 never stops early).",
        range=(0.0, 0.5), label="Early stop"))
    settle: float = field(default=SETTLE, metadata=meta(
        "Finish once the picture has stopped changing visibly: a scale that refines a coarser "
        "picture ends when twice in a row 10 iterations move it by at most this fraction of "
        "what its second 10 iterations moved it (0 runs every iteration; higher ends sooner). "
        "The first scale, which starts from the photo (or noise, or your image), runs all its "
        "iterations.",
        range=(0.0, 1.0),
        label="Stop when still"))
    multiscale: bool = field(default=True, metadata=meta(
        "Paint coarse-to-fine: start small, upscale the result and refine it. Faster, and "
        "gives larger strokes.", label="Coarse to fine"))
    scales: int = field(default=3, metadata=meta(
        "How many sizes the coarse-to-fine schedule uses (each half the next).",
        range=(2, 6), label="Scales"))
    style_scale: float = field(default=1.0, metadata=meta(
        "Size of the painting relative to the output: larger values give larger strokes.",
        range=(0.1, 4.0), label="Stroke size"))
    strokes_at: int = field(default=512, metadata=meta(
        "A picture 1.5 times this size or more keeps the strokes it has at this size, the size "
        "you tune at: half its loss is measured on the picture reduced to this size, so a print "
        "scaled down looks like its preview (0: the network alone sets the strokes, finer "
        "the larger the picture).",
        range=(0, 8192), label="Strokes sized at"))
    color: ColorMode = field(default="none", metadata=meta(
        "Keep the photo's colours: 'luminance' transfers only light and dark; 'histogram' "
        "recolours the painting to the photo's palette before the run.",
        choices=get_args(ColorMode), label="Photo's colours"))
    pooling: Pooling = field(default="max", metadata=meta(
        "Pooling in the network: 'avg' gives softer, more flowing results.",
        choices=get_args(Pooling), label="Pooling"))
    seed: int = field(default=0, metadata=meta(
        "Random seed: the same seed on the same device gives the same picture.",
        range=(0, 2**31 - 1), label="Seed"))
    device: Device = field(default="auto", metadata=meta(
        "Where to compute: auto picks CUDA, then Apple MPS, then the CPU.",
        choices=get_args(Device), label="Device"))
    max_memory: float = field(default=0.0, metadata=meta(
        "Memory the run may use, in GB (0: what is free when it starts). A picture that needs "
        "more is painted in tiles that fit, with the same result.", range=(0.0, 65536.0),
        label="Memory limit"))
    tile: int = field(default=0, metadata=meta(
        "Paint scales larger than this many pixels in tiles of at most this size, even where "
        "the whole picture fits (0: tiles only where it does not fit).", range=(0, 8192),
        label="Tile size"))
    weights: WeightsSource = field(default="bundled", metadata=meta(
        "VGG19 weights: the bundled original Caffe weights, or a torchvision checkpoint file.",
        choices=get_args(WeightsSource), label="Network weights"))
    weights_path: str = field(default="", metadata=meta(
        "Path of a torchvision VGG19 checkpoint (vgg19-dcbb9e9d.pth); empty looks in the "
        "torch hub cache.", label="Weights file"))

    # ---- derived values -------------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.optimizer]

    def blend(self) -> tuple[float, ...]:
        """Style blend weights normalized to sum to 1, one per style."""
        raw = self.style_blend or (1.0,) * len(self.styles)
        total = sum(raw)
        return tuple(w / total for w in raw)

    @property
    def regional(self) -> bool:
        """Whether any painting is limited to a region of the picture."""
        return any(self.masks)

    def layer_weights(self) -> tuple[float, ...]:
        return self.style_layer_weights or (1.0,) * len(self.style_layers)

    def strokes_reduction(self, long_side: int) -> float | None:
        """The factor a picture of `long_side` px is reduced by to be seen at the strokes'
        size (`strokes_at`), or None where it is near enough that size (under
        `STROKES_FROM` times it) or `strokes_at` is 0."""
        if not self.strokes_at or long_side < STROKES_FROM * self.strokes_at:
            return None
        return self.strokes_at / long_side

    # ---- validation -----------------------------------------------------------------------
    def validate(self) -> "TransferSettings":
        """Raise `SettingsError` for the first bad field; return self when all are good."""
        self.check_fields()
        if not self.content:
            raise SettingsError("content", "choose a content image")
        if not self.styles:
            raise SettingsError("styles", "choose at least one style image")
        if self.style_blend:
            if len(self.style_blend) != len(self.styles):
                raise SettingsError("style_blend", f"give one weight per style image: "
                                    f"{len(self.styles)} styles but {len(self.style_blend)} weights")
            if sum(self.style_blend) <= 0:
                raise SettingsError("style_blend", "at least one weight must be above 0")
        if self.masks:
            if len(self.masks) != len(self.styles):
                raise SettingsError("masks", f"give one mask per style image (an empty one for "
                                    f"a painting that covers the whole picture): "
                                    f"{len(self.styles)} styles but {len(self.masks)} masks")
        if not self.content_layers:
            raise SettingsError("content_layers", "choose at least one layer")
        if not self.style_layers:
            raise SettingsError("style_layers", "choose at least one layer")
        for name in ("content_layers", "style_layers"):
            layers = getattr(self, name)
            if len(set(layers)) != len(layers):
                raise SettingsError(name, "a layer is listed twice")
        if self.style_layer_weights and len(self.style_layer_weights) != len(self.style_layers):
            raise SettingsError("style_layer_weights", f"give one weight per style layer: "
                                f"{len(self.style_layers)} layers but "
                                f"{len(self.style_layer_weights)} weights")
        if self.init == "image" and not self.init_image:
            raise SettingsError("init_image", "init is 'image' but no start image was given")
        if self.content_weight == 0 and self.style_weight == 0 and self.tv_weight == 0:
            raise SettingsError("style_weight", "content, style and TV weights are all 0: "
                                "nothing to optimize")
        return self

    # ---- JSON -----------------------------------------------------------------------------
    def to_json(self, indent: int | None = None) -> str:
        return json.dumps({_JSON_KEY: SETTINGS_FORMAT, **self.to_dict()}, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TransferSettings":
        """Build settings from a dict (as `to_dict` makes); missing fields take defaults.
        Unknown fields and values of the wrong type raise `SettingsError`."""
        if not isinstance(data, dict):
            raise SettingsError("settings", "expected a JSON object")
        data = dict(data)
        fmt = data.pop(_JSON_KEY, SETTINGS_FORMAT)
        if fmt != SETTINGS_FORMAT:
            raise SettingsError(_JSON_KEY, f"unsupported settings format {fmt!r} "
                                f"(this version reads {SETTINGS_FORMAT})")
        return super().from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> "TransferSettings":
        return cls.from_dict(parse_json(text))

    @staticmethod
    def meta(name: str) -> dict[str, Any]:
        """Help text, range, choices and label of a field (for the CLI and the form)."""
        return dict(TransferSettings.__dataclass_fields__[name].metadata)


def salvage(data: Any, base: "TransferSettings | None" = None
            ) -> tuple["TransferSettings", list[str]]:
    """Settings from a dict whose fields may be damaged: every field that is of the right kind
    and in range is taken, every other keeps `base`'s value and is reported. Never raises."""
    out = base or TransferSettings()
    problems: list[str] = []
    if not isinstance(data, dict):
        return out, ["the saved settings are not a JSON object"]
    known = {f.name: f for f in fields(TransferSettings)}
    for key, value in data.items():
        if key == _JSON_KEY:
            continue
        f = known.get(key)
        if f is None:
            problems.append(f"{key}: unknown setting")
            continue
        try:
            v = coerce(f, value)
            check_field(f, v)
            out = dataclasses.replace(out, **{key: v})
        except SettingsError as e:
            problems.append(str(e))
    return out, problems
