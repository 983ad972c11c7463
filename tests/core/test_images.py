"""Every image edge case, with files the tests generate."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from nst_core import ImageError, OutputExistsError, SettingsError
from nst_core.media.files import unique_path
from nst_core.media.images import (MIN_SIDE, fit_long_side, load_image, read_settings_json,
                                   resize, save_image)
from tests.conftest import make_photo, read_rgb

RGB = make_photo(40, 32)


@pytest.mark.parametrize("ext, fmt", [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"),
                                      ("bmp", "BMP"), ("tif", "TIFF"), ("gif", "GIF")])
def test_reads_common_formats(tmp_path, ext, fmt):
    p = tmp_path / f"img.{ext}"
    Image.fromarray(RGB).save(p, fmt)
    img = load_image(p)
    assert img.rgb.shape == (32, 40, 3) and img.rgb.dtype == np.uint8
    assert img.alpha is None
    # lossless formats exactly; JPEG and WebP within their compression; GIF within its
    # 256-colour palette, and exactly what its palette holds
    tolerance = {"PNG": 0.0, "BMP": 0.0, "TIFF": 0.0, "GIF": 12.0}.get(fmt, 6.0)
    assert np.abs(img.rgb.astype(int) - RGB).mean() <= tolerance
    if fmt == "GIF":
        assert np.array_equal(img.rgb, read_rgb(p))


def test_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = load_image(p)
    assert tuple(img.rgb[10, 10]) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    p = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(RGB).save(p, exif=exif.tobytes(), quality=95)
    img = load_image(p)
    assert img.rgb.shape == (40, 32, 3)  # width and height swapped


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK"])
def test_other_modes_become_rgb(tmp_path, mode):
    p = tmp_path / f"img_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    Image.fromarray(RGB).convert(mode).save(p)
    img = load_image(p)
    assert img.rgb.shape == (32, 40, 3)
    if mode == "L":
        assert (img.rgb[..., 0] == img.rgb[..., 1]).all()


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    a = np.linspace(0, 65535, 32 * 40).reshape(32, 40).astype(np.uint16)
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    img = load_image(p)
    assert img.rgb[0, 0, 0] == 0 and img.rgb[-1, -1, 0] == 255
    assert 120 <= img.rgb[16, 20, 0] <= 135  # mid-grey stays mid-grey


def test_transparency_is_composited_over_white_and_kept(tmp_path):
    rgba = np.zeros((32, 40, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish
    rgba[:, :20, 3] = 255  # left half opaque, right half fully transparent
    p = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(p)
    img = load_image(p)
    assert tuple(img.rgb[5, 5]) == (200, 0, 0)
    assert tuple(img.rgb[5, 30]) == (255, 255, 255)
    assert img.alpha is not None and img.alpha[5, 5] == 255 and img.alpha[5, 30] == 0


def test_palette_transparency_and_la(tmp_path):
    p = tmp_path / "pal.png"
    im = Image.new("P", (20, 20), 0)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.paste(1, (0, 0, 10, 20))
    im.info["transparency"] = 0
    im.save(p, transparency=0)
    img = load_image(p)
    assert tuple(img.rgb[5, 15]) == (255, 255, 255)  # transparent index -> white
    assert tuple(img.rgb[5, 5]) == (10, 200, 30)
    la = tmp_path / "la.png"
    Image.fromarray(np.dstack([np.full((20, 20), 50, np.uint8), np.full((20, 20), 0, np.uint8)]),
                    "LA").save(la)
    assert tuple(load_image(la).rgb[0, 0]) == (255, 255, 255)


def _swapped_srgb_profile() -> bytes:
    """sRGB's profile with its red and blue primaries swapped: pixels tagged with it have
    their red and blue meaning exchanged, so a correct conversion to sRGB swaps them back."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    entries = {}
    for i in range(count):
        off = 132 + 12 * i
        sig = bytes(data[off:off + 4])
        entries[sig] = off
    r, b = entries[b"rXYZ"], entries[b"bXYZ"]
    data[r + 4:r + 12], data[b + 4:b + 12] = data[b + 4:b + 12], data[r + 4:r + 12]
    return bytes(data)


def test_icc_profile_is_converted_to_srgb(tmp_path):
    p = tmp_path / "tagged.png"
    Image.new("RGB", (20, 20), (220, 30, 30)).save(p, icc_profile=_swapped_srgb_profile())
    r, g, b = (int(v) for v in load_image(p).rgb[10, 10])
    assert b > 150 and r < 80  # red in that profile's space is blue in sRGB


def test_broken_icc_profile_is_ignored(tmp_path):
    p = tmp_path / "badicc.png"
    Image.fromarray(RGB).save(p, icc_profile=b"not a profile at all")
    assert np.array_equal(load_image(p).rgb, RGB)


@pytest.mark.parametrize("case, words", [
    ("missing", "not found"),
    ("folder", "folder"),
    ("empty", "empty"),
    ("text", "not an image"),
    ("truncated", "damaged or truncated"),
    ("tiny", f"at least {MIN_SIDE}"),
    ("none", "no image"),
])
def test_unusable_files_raise_one_line_reason(tmp_path, case, words):
    p = tmp_path / "x.png"
    if case == "folder":
        p.mkdir()
    elif case == "empty":
        p.write_bytes(b"")
    elif case == "text":
        p.write_text("hello, I am not a picture")
    elif case == "truncated":
        buf = io.BytesIO()
        Image.fromarray(make_photo(200, 150)).save(buf, "PNG")
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif case == "tiny":
        Image.new("RGB", (8, 8)).save(p)
    elif case == "none":
        p = ""
    with pytest.raises(ImageError) as info:
        load_image(p)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_jpeg_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(make_photo(300, 200)).save(buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[:1500])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(p)


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims to be w x h but carries almost no data (a decompression-bomb shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(40000, 40000))
    with pytest.raises(ImageError, match="megapixel limit"):
        load_image(p)


def test_pixel_limit_is_adjustable(tmp_path):
    p = tmp_path / "ok.png"
    Image.fromarray(RGB).save(p)
    with pytest.raises(ImageError, match="megapixel"):
        load_image(p, max_pixels=100)


def test_fit_long_side_and_resize():
    assert fit_long_side(400, 300, 200) == (200, 150)
    assert fit_long_side(300, 400, 200) == (150, 200)
    out = resize(RGB, (20, 16))
    assert out.shape == (16, 20, 3)


# ---- saving ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_save_by_extension_with_settings(tmp_path, ext):
    p = tmp_path / f"out.{ext}"
    save_image(p, RGB, settings_json='{"size": 64}')
    with Image.open(p) as im:
        assert im.format == {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[ext]
        assert im.size == (40, 32)
    assert read_settings_json(p) == '{"size": 64}'
    assert [f.name for f in tmp_path.iterdir()] == [p.name]  # no temporary file left


def test_png_is_lossless(tmp_path):
    p = save_image(tmp_path / "exact.png", RGB)
    assert np.array_equal(read_rgb(p), RGB)
    assert read_settings_json(p) is None


def test_never_overwrites_silently(tmp_path):
    p = tmp_path / "out.png"
    p.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        save_image(p, RGB)
    assert p.read_bytes() == b"precious"
    save_image(p, RGB, overwrite=True)
    assert np.array_equal(read_rgb(p), RGB)


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_image(tmp_path / "out.png", RGB)
    assert list(tmp_path.iterdir()) == []


def test_bad_extension_and_missing_folder(tmp_path):
    with pytest.raises(SettingsError, match="use .png, .jpg, .webp or .tiff"):
        save_image(tmp_path / "out.gif", RGB)
    with pytest.raises(SettingsError, match="does not exist"):
        save_image(tmp_path / "nope" / "out.png", RGB)


def test_unique_path(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a-2.png").write_bytes(b"")
    assert unique_path(tmp_path / "a.png") == tmp_path / "a-3.png"
    assert unique_path(tmp_path / "b.png") == tmp_path / "b.png"


def test_atomic_writes_follow_the_umask_keep_a_replaced_files_mode_and_leave_nothing(tmp_path):
    """The video frames, the queue, the history and the model file go through write_atomic:
    mkstemp's 0600 must not reach the person's folder, and a failed write leaves no stray."""
    import os

    from nst_core.media.files import write_atomic

    old = os.umask(0o022)
    try:
        p = tmp_path / "frame.png"
        write_atomic(p, b"one")
        assert p.read_bytes() == b"one" and p.stat().st_mode & 0o777 == 0o644
        os.chmod(p, 0o640)
        write_atomic(p, b"two")
        assert p.read_bytes() == b"two" and p.stat().st_mode & 0o777 == 0o640
        with pytest.raises(TypeError):
            write_atomic(p, "not bytes")  # fails inside the write
        assert p.read_bytes() == b"two"
        assert sorted(x.name for x in tmp_path.iterdir()) == ["frame.png"]
    finally:
        os.umask(old)


# ---- print formats: transparency given back, sRGB profile, 16-bit TIFF -----------------------
def _picture(w=40, h=30):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    alpha = np.full((h, w), 255, np.uint8)
    alpha[:, : w // 2] = 0
    alpha[:, w // 2] = 128
    return rgb, alpha


@pytest.mark.parametrize("ext", [".png", ".webp", ".tiff"])
def test_transparency_is_given_back_where_the_format_keeps_it(tmp_path, ext):
    from nst_core.media.formats import SRGB_ICC

    rgb, alpha = _picture()
    p = save_image(tmp_path / f"out{ext}", rgb, '{"a": 1}', alpha=alpha)
    with Image.open(p) as im:
        assert im.mode == "RGBA"
        assert im.info.get("icc_profile") == SRGB_ICC
        back = np.asarray(im.convert("RGBA"))
    assert (back[..., 3][:, :20] == 0).all() and (back[..., 3][:, 21:] == 255).all()
    if ext != ".webp":  # lossless: the picture's pixels come back where it is opaque
        assert (back[:, 21:, :3] == rgb[:, 21:]).all()
    assert load_image(p).alpha is not None


def test_jpeg_lays_a_transparent_picture_over_white_with_the_profile(tmp_path):
    from nst_core.media.formats import SRGB_ICC

    rgb, alpha = _picture()
    p = save_image(tmp_path / "out.jpg", rgb, alpha=alpha)
    with Image.open(p) as im:
        assert im.mode == "RGB" and im.info.get("icc_profile") == SRGB_ICC
        back = np.asarray(im).astype(int)
    assert back[:, :15].mean() > 250  # the transparent half is white


def test_tiff_is_16_bit_with_profile_settings_and_the_deep_picture(tmp_path):
    import tifffile

    from nst_core.media.formats import SRGB_ICC

    rgb, _ = _picture()
    deep = rgb.astype(np.uint16) * 257 + 100  # finer than 8 bits can say
    p = save_image(tmp_path / "print.tif", rgb, '{"nst_studio_settings": 1}', deep=deep)
    with tifffile.TiffFile(p) as t:
        page = t.pages[0]
        assert page.bitspersample == 16 and page.samplesperpixel == 3
        assert page.iccprofile == SRGB_ICC
        assert (page.asarray() == deep).all()
    assert read_settings_json(p) == '{"nst_studio_settings": 1}'
    assert load_image(p).rgb.shape == (30, 40, 3)  # the app reads its own print file back
    # without the deep picture, the 8-bit one widened exactly
    q = save_image(tmp_path / "plain.tiff", rgb)
    assert (tifffile.imread(q) == rgb.astype(np.uint16) * 257).all()


def test_a_16_bit_photo_is_also_kept_at_16_bits(tmp_path):
    import cv2

    ramp = np.linspace(0, 65535, 20 * 24 * 3).reshape(20, 24, 3).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), ramp[..., ::-1])
    img = load_image(tmp_path / "deep.png")
    assert img.deep is not None and (img.deep == ramp).all()
    assert (np.abs(img.rgb.astype(int) - ramp.astype(int) // 257) <= 1).all()
    with_alpha = np.dstack([ramp, np.full((20, 24), 32768, np.uint16)])
    cv2.imwrite(str(tmp_path / "half.png"), with_alpha[..., [2, 1, 0, 3]])
    half = load_image(tmp_path / "half.png")  # half transparent: over white, as the 8 bits
    assert np.abs(half.deep.astype(int) // 257 - half.rgb.astype(int)).max() <= 1
    assert load_image(tmp_path / "deep.png").deep.dtype == np.uint16
    Image.fromarray(make_photo()).save(tmp_path / "plain.png")
    assert load_image(tmp_path / "plain.png").deep is None  # 8 bits: nothing more to keep
