"""Typed errors of the engine. Each message says what was wrong and what to do; front ends show
`str(error)` as it is. The engine never prints or exits."""
from __future__ import annotations


class NSTError(Exception):
    """Base class of every error the engine raises on purpose."""


class SettingsError(NSTError, ValueError):
    """A setting is out of range or of the wrong kind. `field` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        # A name read from a file may hold a line break or other control characters: quoted,
        # so that the message stays one line.
        shown = field if str(field).isprintable() else repr(field)
        super().__init__(f"{shown}: {message}")


class ImageError(NSTError):
    """An input image cannot be used (missing, unreadable, truncated, too large or too small)."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputExistsError(NSTError, FileExistsError):
    """Saving would overwrite an existing file and overwriting was not asked for."""


class OtherRenderKeptError(OutputExistsError):
    """The folder beside a video's output keeps the frames of an unfinished render with other
    settings: finishing that render, or allowing overwriting, are the ways on."""


class WeightsError(NSTError):
    """The VGG19 weights cannot be found or do not fit the network."""


class DeviceError(NSTError):
    """The requested compute device is not available on this machine."""


class RunFailedError(NSTError):
    """The optimization went wrong (for example a NaN loss). `result` holds the last good image
    as a `StillResult`, or None when none was produced yet."""

    def __init__(self, message: str, result=None):
        self.result = result
        super().__init__(message)


class OutOfMemoryError(RunFailedError, MemoryError):
    """The run needs more memory than the device has. `result` as for `RunFailedError`;
    `fits`: the largest output size (px) that fits, when it was worked out, else None."""

    def __init__(self, message: str, result=None, fits: int | None = None):
        super().__init__(message, result)
        self.fits = fits


class ModelError(NSTError):
    """An instant-style model file cannot be used (missing, corrupt, truncated or not ours)."""
