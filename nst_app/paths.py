"""Where the app keeps its data (history, queue, pasted images): one folder per user, the same
for the window and the command line. `NST_STUDIO_DATA` overrides it (tests, portable installs)."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "NST Studio"
ENV_VAR = "NST_STUDIO_DATA"


def data_dir() -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def history_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "history"


def queue_file(base: Path | None = None) -> Path:
    return (base or data_dir()) / "queue.json"


def window_checkpoint(base: Path | None = None) -> Path:
    """Where the window's picture keeps its checkpoint (nst_core.painting.checkpoint), to be
    offered again after a crash or a close."""
    return (base or data_dir()) / "checkpoints" / "picture.ckpt"


def videos_dir() -> Path:
    """Where a repainted video goes when its clip's own folder will not do: the person's
    videos folder, in a folder of the app's."""
    return Path(platformdirs.user_videos_dir()) / APP_NAME
