"""The options of a picture's settings, shared by the verbs that paint one (render, batch,
video): one per `TransferSettings` field, and the paintings as `--style PATH`, each optionally
followed by `--mask FILE`, its region."""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from nst_core import TransferSettings

from .command import absolute, dataclass_options

# settings field -> option name, for the options whose names differ from the field's
_RENAMED = {"style_blend": "blend", "iterations": "iters", "learning_rate": "lr"}


class _Style(argparse.Action):
    """--style PATH: one more painting, for now without a region."""

    def __call__(self, parser, namespace, value, option_string=None):
        setattr(namespace, "styles", [*getattr(namespace, "styles", []), value])
        setattr(namespace, "masks", [*getattr(namespace, "masks", []), ""])


class _Mask(argparse.Action):
    """--mask FILE: the region of the painting named just before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        masks = getattr(namespace, "masks", [])
        if not masks:
            parser.error("--mask FILE gives the region of the --style just before it; "
                         "put it after that --style")
        if masks[-1]:
            parser.error(f"--style {getattr(namespace, 'styles')[-1]} has two masks; give "
                         "one --mask after each --style")
        setattr(namespace, "masks", [*masks[:-1], value])


def add_settings_options(p: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One option per `TransferSettings` field, with its help, range and default."""
    dataclass_options(p, TransferSettings, skip=(*skip, "styles", "masks"), renamed=_RENAMED,
                      extra_help={"content": " (default: the bundled Tübingen photo)"})
    if "styles" not in skip:
        help_ = TransferSettings.__dataclass_fields__["styles"].metadata["help"]
        p.add_argument("--style", dest="styles", action=_Style, metavar="PATH",
                       default=argparse.SUPPRESS,
                       help=help_ + " Repeat for several (default: the bundled Starry Night).")
        p.add_argument("--mask", dest="masks", action=_Mask, metavar="FILE",
                       default=argparse.SUPPRESS,
                       help="Where the --style just before it goes: a greyscale image (white = "
                            "this painting, black = not, grey = partly), scaled to the photo. "
                            "Where no painting's mask reaches, the picture keeps the photo.")


def paintings_given(changes: dict[str, Any]) -> None:
    """The paintings (and their regions) given as --style/--mask, as absolute paths in
    `changes`; paintings given without any mask clear the masks of the settings they replace."""
    if "styles" in changes:
        changes["styles"] = tuple(absolute(s) for s in changes["styles"])
        masks = changes.get("masks", ())
        changes["masks"] = tuple(absolute(m) if m else "" for m in masks) if any(masks) else ()
