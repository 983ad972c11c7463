"""The bundled resources (sample images, presets), installed or in a checkout, and the default
settings a front end opens with: the bundled photo and painting."""
from __future__ import annotations

from pathlib import Path

from nst_core import TransferSettings


def resources_dir() -> Path:
    try:
        import nst_resources  # installed: the `resources/` folder is the nst_resources package

        return Path(nst_resources.__file__).resolve().parent
    except ImportError:  # running from a checkout without installing
        return Path(__file__).resolve().parent.parent / "resources"


def samples_dir() -> Path:
    return resources_dir() / "samples"


def sample_contents() -> list[Path]:
    return sorted(p for p in (samples_dir() / "content").glob("*.*") if p.suffix != ".md")


def sample_styles() -> list[Path]:
    return sorted(p for p in (samples_dir() / "style").glob("*.*") if p.suffix != ".md")


def default_content() -> Path:
    return samples_dir() / "content" / "tubingen.jpg"


def default_style() -> Path:
    return samples_dir() / "style" / "starry_night.jpg"


def default_settings() -> TransferSettings:
    """The engine's defaults with the bundled pair as the images."""
    return TransferSettings(content=str(default_content()), styles=(str(default_style()),))


def default_clip() -> Path:
    """The bundled sample clip (scripts/make_sample_clip.py): Tübingen panned across, a cat
    crossing it, a soft tone."""
    return samples_dir() / "video" / "tubingen_pan.mp4"
