"""Images in and out: loading every common format safely, resizing, and saving atomically
(through `nst_core.media.files`).

Loading turns whatever the person picked into an sRGB, 8-bit, HxWx3 array: EXIF orientation is
applied, an embedded ICC profile is converted to sRGB, grayscale / palette / CMYK / 16-bit images
become RGB, transparency is composited over white (the alpha is kept on the side) and an animation
gives its first frame. A 16-bit RGB photo (PNG, TIFF) in sRGB is also kept at 16 bits, for a
picture painted from it and saved at 16 bits. What cannot be used raises an `ImageError` with a
one-line reason.
"""
from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from nst_core.base.errors import ImageError, OutputExistsError, SettingsError
from nst_core.media import formats
from nst_core.media.files import os_reason, probe_writable, replacing
from nst_core.media.formats import EXIF_DESCRIPTION, JOB_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

#: Refuse images above this many pixels before decoding them (decompression bombs). 120 MP is
#: above any camera an artist is likely to own and well below what fills memory.
MAX_PIXELS = 120_000_000
#: Refuse inputs smaller than this on either side: nothing useful can be taken from them.
MIN_SIDE = 16
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
                ".tif": "TIFF", ".tiff": "TIFF"}
#: The formats that keep transparency; JPEG's picture is laid over white instead.
ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_SRGB = ImageCms.createProfile("sRGB")


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (H, W, 3) uint8, sRGB
    alpha: np.ndarray | None  # (H, W) uint8 when the file had transparency
    path: str
    #: (H, W, 3) uint16, sRGB, over white like `rgb`: the photo at 16 bits, when it had them
    deep: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read an image file into sRGB uint8, or raise `ImageError` saying why it cannot be used."""
    p = Path(path) if str(path) else None
    if p is None:
        raise ImageError("(none)", "no image was chosen")
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as e:  # a name too long for the file system, a path through a file
        raise ImageError(p, f"cannot be opened ({os_reason(e)})") from None
    if not exists:
        raise ImageError(p, "file not found; check the path")
    if is_dir:
        raise ImageError(p, "is a folder, not an image file")
    try:
        if p.stat().st_size == 0:
            raise ImageError(p, "the file is empty (0 bytes)")
        with warnings.catch_warnings(record=True) as caught:
            # Pillow's warnings about damaged metadata go to the log, not to the person; the
            # pixel count is checked below against our own limit.
            warnings.simplefilter("always")
            with Image.open(p) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(p, f"the image is {w}x{h} ({w * h / 1e6:.0f} megapixels), "
                                        f"more than the {max_pixels / 1e6:.0f} megapixel limit; "
                                        "scale it down first")
                im.seek(0)  # first frame of an animation
                sixteen = any(";16" in str(t.args) for t in getattr(im, "tile", None) or ())
                im.load()
                rgb, alpha = _to_srgb(im, p)
                deep = _deep(p, im, rgb.shape) if sixteen else None
        for w in caught:
            if not issubclass(w.category, Image.DecompressionBombWarning):
                log.info("%s: %s", p, w.message)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(p, "not an image file this app can read "
                            "(use JPEG, PNG, WebP, BMP, TIFF or GIF)") from None
    except Image.DecompressionBombError:
        raise ImageError(p, f"the image is larger than the {max_pixels / 1e6:.0f} megapixel "
                            "limit, too large to decode safely; scale it down first") from None
    except PermissionError:
        raise ImageError(p, "permission denied; check that you may read this file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        # Pillow says "image file is truncated", "broken data stream", ... for damaged files.
        raise ImageError(p, f"the file is damaged or truncated ({e}); re-export it") from None
    except MemoryError:
        raise ImageError(p, "not enough memory to decode this image; scale it down first") from None
    ih, iw = rgb.shape[:2]
    if min(iw, ih) < MIN_SIDE:
        raise ImageError(p, f"the image is only {iw}x{ih} pixels; use one at least "
                            f"{MIN_SIDE} pixels on each side")
    return LoadedImage(rgb=rgb, alpha=alpha, path=str(p), deep=deep)


def _deep(p: Path, im: Image.Image, shape: tuple[int, ...]) -> np.ndarray | None:
    """The 16-bit RGB photo at `p` as (H, W, 3) uint16 over white, or None where it cannot be
    had as the 8-bit one is (a rotation to apply, a profile other than sRGB to convert): the
    8-bit photo serves then. OpenCV reads the 16 bits Pillow rounds away."""
    import cv2

    if im.getexif().get(0x0112, 1) != 1:
        return None
    icc = im.info.get("icc_profile")
    if icc:
        try:
            name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
        except Exception:
            return None
        if "srgb" not in name.lower():
            return None
    data = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16 or data.ndim != 3 or data.shape[2] not in (3, 4) \
            or data.shape[:2] != tuple(shape[:2]):
        return None
    rgb = data[..., 2::-1].astype(np.float64)
    if data.shape[2] == 4:  # over white, as the 8-bit photo is
        a = data[..., 3:4].astype(np.float64) / 65535.0
        rgb = rgb * a + 65535.0 * (1.0 - a)
    return np.clip(rgb + 0.5, 0, 65535).astype(np.uint16)


def _to_srgb(im: Image.Image, p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        im = ImageOps.exif_transpose(im)
    except Exception as e:  # a damaged EXIF block should not make the picture unusable
        log.warning("%s: ignoring unreadable EXIF orientation (%s)", p, e)
    icc = im.info.get("icc_profile")

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if (im.mode.startswith("I;16") or a.max() > 255) else 255.0
        im = Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info)
    alpha = None
    if has_alpha:
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3].copy()
        color = rgba.convert("RGB") if im.mode not in ("LA", "La") else im.convert("L")
    else:
        color = im
    if color.mode == "P":
        color = color.convert("RGB")
    if color.mode == "1":
        color = color.convert("L")
    if icc and color.mode in ("RGB", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            color = ImageCms.profileToProfile(color, src, _SRGB, outputMode="RGB")
        except Exception as e:  # a broken profile: fall back to the plain conversion
            log.warning("%s: ignoring unusable ICC profile (%s)", p, e)
    color = color.convert("RGB")
    rgb = np.asarray(color, dtype=np.uint8).copy()
    if alpha is not None:
        a = alpha.astype(np.float32)[..., None] / 255.0
        rgb = (rgb.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
        if alpha.min() == 255:
            alpha = None  # fully opaque: nothing to remember
    return rgb, alpha


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is `long_side`, keeping the aspect ratio."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, C) uint8 array to (w, h) = size with a Lanczos filter."""
    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb
    mode = "L" if rgb.ndim == 2 else "RGB"
    return np.asarray(Image.fromarray(rgb, mode).resize(size, Image.Resampling.LANCZOS))


# ---- saving --------------------------------------------------------------------------------
_WRITE_DELAY = float(os.environ.get("NST_STUDIO_TEST_WRITE_DELAY", "0") or 0)


def save_image(path: str | os.PathLike, rgb: np.ndarray, settings_json: str | None = None,
               overwrite: bool = False, quality: int = 95, made_by: str | None = None,
               alpha: np.ndarray | None = None, deep: np.ndarray | None = None) -> Path:
    """Save an (H, W, 3) uint8 image as PNG, JPEG, WebP or 16-bit TIFF (by extension), with an
    embedded sRGB profile, atomically: it is written to a temporary file beside the target and
    renamed, so a crash never leaves half a file. An existing file is replaced only with
    `overwrite=True`. The settings JSON, when given, is embedded (PNG text chunk; EXIF
    ImageDescription for JPEG and WebP; the TIFF's ImageDescription); `made_by` (which run made
    it, see `JOB_KEY`) in a PNG only. `alpha` (H, W) uint8: the photo's transparency, given
    back in PNG, WebP and TIFF (JPEG lays the picture over white). `deep` (H, W, 3) uint16: the
    same picture at 16 bits, what a TIFF keeps (else the 8-bit one, widened)."""
    p = Path(path)
    fmt = check_output(p, overwrite, probe=False)  # the write itself tells
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise ValueError(f"alpha of shape {alpha.shape} for a picture of {rgb.shape[:2]}")
    if alpha is not None and fmt not in ALPHA_FORMATS:
        a = alpha.astype(np.float32)[..., None] / 255.0
        rgb = (rgb * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
    with replacing(p, overwrite) as tmp:
        with open(tmp, "wb") as f:
            formats.write(f, fmt, rgb, alpha if fmt in ALPHA_FORMATS else None, deep,
                          settings_json, made_by, quality)
            f.flush()
            os.fsync(f.fileno())
        if _WRITE_DELAY:  # a test hook: widen the window in which a kill finds a half write
            import time

            time.sleep(_WRITE_DELAY)
    return p


def png_bytes(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 as PNG bytes, compressed lightly (frames kept while a video renders)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(
        buf, "PNG", compress_level=1)
    return buf.getvalue()


def rgb_from_png(data: bytes) -> np.ndarray:
    """PNG bytes (as `png_bytes` makes) back to (H, W, 3) uint8."""
    import io

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB")).copy()


def check_output(path: str | os.PathLike, overwrite: bool = False, probe: bool = True) -> str:
    """The format to save `path` in, or the reason it cannot be written: an unknown extension,
    a missing or unwritable folder, a folder in the way, a name too long, or an existing file
    when not overwriting. `probe` makes a real file in the folder to be sure (before a run)."""
    p = Path(path)
    fmt = SAVE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise SettingsError("output", f"cannot save as {p.suffix or 'a file without extension'}; "
                                      f"use .png, .jpg, .webp or .tiff")
    try:
        if not p.parent.is_dir():
            raise SettingsError("output", f"the folder {p.parent} does not exist")
        if p.is_dir():
            raise SettingsError("output", f"{p} is a folder; give a file name")
        # a link to nothing takes the name as much as a file: the save finds it taken too
        dangling = p.is_symlink() and not p.exists()
        exists = p.exists() or dangling
    except OSError as e:
        raise SettingsError("output", f"cannot save as {p} ({os_reason(e)})") from None
    if exists and not overwrite:
        what = "is a link to a missing file" if dangling else "already exists"
        raise OutputExistsError(f"{p} {what}; choose another name or allow overwriting")
    if probe:
        probe_writable(p)
    return fmt


def made_by(path: str | os.PathLike) -> str | None:
    """Which run made the picture at `path` (`save_image(made_by=...)`), or None: not ours, not
    a PNG, unreadable, or no picture there."""
    try:
        with Image.open(path) as im:
            text = im.info.get(JOB_KEY)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return str(text) if text else None


def read_settings_json(path: str | os.PathLike) -> str | None:
    """The settings JSON embedded in an image this app saved, or None if it has none."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:
        raise ImageError(p, f"cannot be opened ({os_reason(e)})") from None
    if not is_file:
        raise ImageError(p, "file not found; check the path")
    try:
        with Image.open(p) as im:
            text = im.info.get(SETTINGS_KEY)
            if text is None:
                desc = im.getexif().get(EXIF_DESCRIPTION)
                if isinstance(desc, str) and desc.lstrip().startswith("{"):
                    text = desc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(p, f"cannot read this file's settings ({e})") from None
    return str(text) if text else None
