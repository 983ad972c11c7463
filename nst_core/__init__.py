"""NST Studio's engine: neural style transfer (Gatys, Ecker & Bethge 2016) with no Qt, no Ray
and no app folders in it.

The public surface: `TransferSettings` (what a picture depends on) and `Tuning` (how the engine
works), jobs (`StillJob`; `job_from_dict` for any kind the engine ships) whose runs yield plain
events (`Progress`, `Preview`, `Note`) and end in a result, the image helpers and the typed
errors. The contract is in docs/jobs.md. Heavy modules (torch) load only when one of their
names is used.
"""
from __future__ import annotations

import importlib

from nst_core.base.errors import (
    DeviceError,
    ImageError,
    NSTError,
    OutOfMemoryError,
    OutputExistsError,
    RunFailedError,
    SettingsError,
    WeightsError,
)
from nst_core.base.events import LIVE, NONE, SPARSE, Note, Preview, PreviewPolicy, Progress
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning

_LAZY = {
    "StillJob": "kinds.still", "StillRun": "kinds.still", "StillResult": "kinds.still",
    "memory_needed": "painting.sizing", "memory_outlook": "painting.sizing",
    "largest_size_that_fits": "painting.sizing",
    "Job": "job", "Run": "job", "job_from_dict": "catalogue", "job_from_json": "catalogue",
    "available_devices": "runtime.devices", "resolve_device": "runtime.devices",
    "available_memory": "runtime.devices",
    "load_image": "media.images", "save_image": "media.images",
    "read_settings_json": "media.images",
}

__all__ = ["TransferSettings", "Tuning", "NSTError", "SettingsError", "ImageError",
           "OutputExistsError", "WeightsError", "DeviceError", "OutOfMemoryError",
           "RunFailedError", "Progress", "Preview", "Note", "PreviewPolicy", "LIVE", "SPARSE",
           "NONE", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
