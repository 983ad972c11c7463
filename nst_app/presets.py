"""Named presets: partial settings stored as JSON in resources/presets/."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from nst_core import SettingsError, TransferSettings

from .samples import default_settings, resources_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    changes: dict[str, Any]

    def apply(self, settings: TransferSettings) -> TransferSettings:
        """`settings` with this preset's fields changed (inputs and other fields kept)."""
        merged = {**settings.to_dict(), **self.changes}
        return TransferSettings.from_dict(merged).validate()


def load_presets() -> list[Preset]:
    """The bundled presets in file-name order. A broken file is skipped with a warning."""
    out = []
    for path in sorted((resources_dir() / "presets").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            preset = Preset(str(data["name"]), str(data.get("description", "")),
                            dict(data["settings"]))
            preset.apply(default_settings())  # its values must be valid
        except (OSError, ValueError, KeyError, TypeError, SettingsError) as e:
            log.warning("skipping preset %s: %s", path.name, e)
            continue
        out.append(preset)
    return out
