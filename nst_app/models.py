"""The instant-style library: the models the app ships (resources/models) and the ones the
person trained or imported (the data folder's `models/`), listed with their paintings.

Also the training photos a front end offers: a folder the person picks (images and videos in
it), or the bundled sample photos.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from nst_core.base.errors import ModelError, SettingsError
from nst_core.media.files import os_reason, unique_path
from nst_core.networks.model_file import SUFFIX, InstantModel, load_model
from nst_core.media.video import VIDEO_SUFFIXES

from . import paths
from .samples import resources_dir, sample_contents, sample_styles

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def user_models_dir(base: Path | None = None) -> Path:
    return paths.data_dir() / "models" if base is None else base / "models"


@dataclass
class LibraryEntry:
    path: Path
    model: InstantModel | None  # None: the file is damaged (`problem` says why)
    bundled: bool
    problem: str = ""

    @property
    def name(self) -> str:
        return self.model.painting if self.model else self.path.stem

    @property
    def label(self) -> str:
        """Two short lines for a list: the painting, then how far it is trained."""
        if self.model is None:
            return f"{self.path.name}\nunusable (damaged)"
        m = self.model
        title = m.painting.replace("_", " ").replace("-", " ")
        title = title[:1].upper() + title[1:]
        state = f"{m.steps_done} steps" if m.finished else \
            f"training: {m.steps_done} of {m.steps_planned} steps"
        return f"{title}\n{state}" + (" · ships with the app" if self.bundled else "")


def library(base: Path | None = None) -> list[LibraryEntry]:
    """Every model the app knows: shipped ones first, then the person's, by name. A damaged
    file is listed with the reason, not skipped in silence."""
    out: list[LibraryEntry] = []
    for folder, bundled in ((bundled_models_dir(), True), (user_models_dir(base), False)):
        try:
            files = sorted(folder.glob(f"*{SUFFIX}"))
        except OSError:
            continue
        for f in files:
            try:
                out.append(LibraryEntry(f, load_model(f), bundled))
            except ModelError as e:
                out.append(LibraryEntry(f, None, bundled, str(e)))
    return out


def painting_of(model: InstantModel) -> str:
    """The painting file a model learned, where it is on this machine: the path it was trained
    from, else a bundled painting of the same file name; "" if neither is here."""
    path = str(model.meta.get("settings", {}).get("style", ""))
    if path and Path(path).is_file():
        return path
    name = str(model.meta.get("painting_file", Path(path).name))
    for sample in sample_styles():
        if name and sample.name == name:
            return str(sample)
    return ""


def new_model_path(painting: str | Path, base: Path | None = None) -> Path:
    """A fresh file name in the person's library for a model of this painting."""
    folder = user_models_dir(base)
    folder.mkdir(parents=True, exist_ok=True)
    return unique_path(folder / f"{Path(painting).stem}{SUFFIX}")


def import_model(src: str | Path, base: Path | None = None) -> Path:
    """Copy a model file into the library after checking it (a foreign or damaged file is
    refused with ModelError and nothing is copied)."""
    model = load_model(src)
    dst = unique_path(user_models_dir(base) / f"{Path(src).stem or model.painting}{SUFFIX}")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    except OSError as e:
        raise ModelError(f"cannot copy {src} into the library ({os_reason(e)})") from None
    return dst


def export_model(src: str | Path, dst: str | Path) -> Path:
    """Write a model for sharing: the weights and description, without the training state."""
    from nst_core.networks.model_file import strip

    return strip(src, dst)


def photos_in(folder: str | Path) -> tuple[str, ...]:
    """The images and videos in a folder (not its subfolders), by name."""
    p = Path(folder)
    try:
        if not p.is_dir():
            raise SettingsError("photos", f"{p} is not a folder")
        files = sorted(f for f in p.iterdir()
                       if f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and f.is_file())
    except OSError as e:
        raise SettingsError("photos", f"cannot read the folder {p} ({os_reason(e)})") from None
    if not files:
        raise SettingsError("photos", f"{p} holds no images or videos to train on")
    return tuple(str(f) for f in files)


def training_photos(sources: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Folders expanded into their images and videos, files kept; none: the bundled photos."""
    if not sources:
        return tuple(str(p) for p in sample_contents())
    out: list[str] = []
    for src in sources:
        p = Path(src).expanduser()
        out.extend(photos_in(p) if p.is_dir() else [str(p.absolute())])
    return tuple(out)
