"""NST Studio's engine: neural style transfer (Gatys, Ecker & Bethge 2016) with no Qt in it.

The public surface: `TransferSettings` (what a run depends on), `StyleTransfer` / `run_transfer`
(the run, as a stream of `Progress` events ending in a `TransferResult`), the image helpers and
the typed errors. Heavy modules (torch) load only when one of their names is used.
"""
from __future__ import annotations

import importlib

from .errors import (DeviceError, ImageError, NSTError, OutOfMemoryError, OutputExistsError,
                     RunFailedError, SettingsError, WeightsError)
from .settings import TransferSettings

_LAZY = {
    "StyleTransfer": "transfer", "run_transfer": "transfer", "Progress": "transfer",
    "TransferResult": "transfer", "available_devices": "transfer",
    "load_image": "images", "save_image": "images", "read_settings_json": "images",
}

__all__ = ["TransferSettings", "NSTError", "SettingsError", "ImageError", "OutputExistsError",
           "WeightsError", "DeviceError", "OutOfMemoryError", "RunFailedError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
