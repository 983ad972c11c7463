"""NST Studio's engine: neural style transfer (Gatys, Ecker & Bethge 2016) with no Qt, no Ray
and no app folders in it.

The public surface: `TransferSettings` (what a picture depends on) and `Tuning` (how the engine
works), jobs (`StillJob`; `job_from_dict` for any registered kind) whose runs yield plain
events (`Progress`, `Preview`, `Note`) and end in a result, the image helpers and the typed
errors. The contract is in docs/jobs.md. Heavy modules (torch) load only when one of their
names is used.
"""
from __future__ import annotations

import importlib

from .errors import (DeviceError, ImageError, NSTError, OutOfMemoryError, OutputExistsError,
                     RunFailedError, SettingsError, WeightsError)
from .events import LIVE, NONE, SPARSE, Note, PreviewPolicy, Preview, Progress
from .settings import TransferSettings
from .tuning import Tuning

_LAZY = {
    "StillJob": "still", "StillRun": "still", "StillResult": "still",
    "memory_needed": "still", "largest_size_that_fits": "still",
    "Job": "jobs", "Run": "jobs", "job_from_dict": "jobs", "job_from_json": "jobs",
    "available_devices": "devices", "resolve_device": "devices",
    "available_memory": "devices",
    "load_image": "images", "save_image": "images", "read_settings_json": "images",
}

__all__ = ["TransferSettings", "Tuning", "NSTError", "SettingsError", "ImageError",
           "OutputExistsError", "WeightsError", "DeviceError", "OutOfMemoryError",
           "RunFailedError", "Progress", "Preview", "Note", "PreviewPolicy", "LIVE", "SPARSE",
           "NONE", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
