"""How a picture is written in each format: PNG, JPEG and WebP by Pillow, 16-bit TIFF by
tifffile (Pillow writes 16 bits for one channel only); every one with the sRGB profile, the
settings where the format has a place for them, and the transparency where it keeps one."""
from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin

#: Key of the settings JSON in a PNG's text chunks; JPEG and WebP carry it in EXIF
#: ImageDescription, a TIFF in its own ImageDescription.
SETTINGS_KEY = "nst-studio-settings"
#: A PNG text chunk saying which run made the picture, when it is no still picture (an
#: instant picture's job): a rerun tells its own finished pictures from anyone else's.
JOB_KEY = "nst-studio-job"
EXIF_DESCRIPTION = 0x010E
#: The sRGB profile every saved picture carries, so that print drivers and editors take its
#: numbers as sRGB instead of guessing.
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def write(f: BinaryIO, fmt: str, rgb: np.ndarray, alpha: np.ndarray | None,
          deep: np.ndarray | None, settings_json: str | None, made_by: str | None,
          quality: int) -> None:
    """Write (H, W, 3) uint8 `rgb` (with `alpha`, (H, W) uint8, where given; `deep`, the
    same picture as uint16, for a TIFF) to the open file `f` in `fmt` (a SAVE_FORMATS value)."""
    if fmt == "TIFF":
        _write_tiff(f, rgb, alpha, deep, settings_json)
    else:
        _pillow_image(rgb, alpha).save(f, fmt, **_pillow_options(fmt, settings_json, made_by,
                                                                 quality))


def _pillow_image(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        return Image.fromarray(rgb, "RGB")
    return Image.fromarray(np.dstack([rgb, alpha.astype(np.uint8)]), "RGBA")


def _pillow_options(fmt: str, settings_json: str | None, made_by: str | None,
                    quality: int) -> dict:
    kwargs: dict = {"icc_profile": SRGB_ICC}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "NST Studio")
        if settings_json:
            info.add_itxt(SETTINGS_KEY, settings_json)
        if made_by:
            info.add_itxt(JOB_KEY, made_by)
        kwargs["pnginfo"] = info
    else:
        kwargs["quality"] = quality
        if settings_json:
            exif = Image.Exif()
            exif[EXIF_DESCRIPTION] = settings_json
            kwargs["exif"] = exif.tobytes()
    return kwargs


def _write_tiff(f, rgb: np.ndarray, alpha: np.ndarray | None, deep: np.ndarray | None,
                settings_json: str | None) -> None:
    """A 16-bit RGB(A) TIFF, deflate-compressed, with the sRGB profile (tifffile: Pillow writes
    16 bits for one channel only)."""
    import tifffile

    data = deep if deep is not None else rgb.astype(np.uint16) * 257
    extra = None
    if alpha is not None:
        data = np.dstack([data, alpha.astype(np.uint16) * 257])
        extra = ["unassalpha"]
    tifffile.imwrite(f, np.ascontiguousarray(data, dtype=np.uint16), photometric="rgb",
                     extrasamples=extra, iccprofile=SRGB_ICC, compression="zlib",
                     description=settings_json or None, metadata=None, software="NST Studio")
