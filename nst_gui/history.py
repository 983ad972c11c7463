"""The run history: every finished or stopped result, written to the app's data folder the
moment it exists, so nothing is lost if the app or the machine dies.

Each entry is a PNG with the settings embedded (written atomically by the engine's saver) and a
small JSON sidecar with when it was made and how the run went.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nst_core import TransferSettings
from nst_core.errors import NSTError
from nst_core.images import read_settings_json, save_image

log = logging.getLogger(__name__)


@dataclass
class HistoryEntry:
    image_path: str
    created: float  # time.time()
    iterations: int
    seconds: float
    stopped: bool
    note: str = ""  # e.g. why a run ended early

    @property
    def settings(self) -> TransferSettings | None:
        try:
            text = read_settings_json(self.image_path)
            return TransferSettings.from_json(text) if text else None
        except NSTError as e:
            log.warning("history entry %s: %s", self.image_path, e)
            return None

    def label(self) -> str:
        s = self.settings
        when = time.strftime("%d %b %H:%M", time.localtime(self.created))
        if s is None:
            return when
        style = ", ".join(Path(p).stem for p in s.styles)
        state = " (stopped)" if self.stopped else ""
        return f"{when}{state}\n{Path(s.content).stem} × {style}\n{s.size}px · {self.iterations} it"


class HistoryStore:
    """Entries in a folder, newest last."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def add(self, rgb: np.ndarray, settings: TransferSettings, iterations: int, seconds: float,
            stopped: bool, note: str = "") -> HistoryEntry:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = self.folder / f"run-{stamp}"
        n = 1
        while base.with_suffix(".png").exists():
            n += 1
            base = self.folder / f"run-{stamp}-{n}"
        png = save_image(base.with_suffix(".png"), rgb, settings.to_json())
        entry = HistoryEntry(str(png), time.time(), iterations, seconds, stopped, note)
        tmp = base.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(entry)), encoding="utf-8")
        tmp.replace(base.with_suffix(".json"))
        return entry

    def entries(self) -> list[HistoryEntry]:
        out = []
        if not self.folder.is_dir():
            return out
        for meta in sorted(self.folder.glob("run-*.json")):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                entry = HistoryEntry(**data)
            except (OSError, ValueError, TypeError) as e:
                log.warning("skipping unreadable history entry %s: %s", meta.name, e)
                continue
            if Path(entry.image_path).is_file():
                out.append(entry)
        out.sort(key=lambda e: e.created)
        return out
