"""Where the bundled resources (sample images, presets) live, installed or in a checkout."""
from __future__ import annotations

from pathlib import Path


def resources_dir() -> Path:
    try:
        import nst_resources  # installed: the `resources/` folder is the nst_resources package

        return Path(nst_resources.__file__).resolve().parent
    except ImportError:  # running from a checkout without installing
        return Path(__file__).resolve().parent.parent / "resources"


def samples_dir() -> Path:
    return resources_dir() / "samples"


def sample_contents() -> list[Path]:
    return sorted((samples_dir() / "content").glob("*.*"))


def sample_styles() -> list[Path]:
    return sorted((samples_dir() / "style").glob("*.*"))


def default_content() -> Path:
    return samples_dir() / "content" / "tubingen.jpg"


def default_style() -> Path:
    return samples_dir() / "style" / "starry_night.jpg"
