"""Reading settings a person hands the app: a .json file from any editor, or a PNG this app
saved. Whatever the file holds, the outcome is settings or one `SettingsError` line."""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from nst_core import NSTError, SettingsError, TransferSettings
from nst_core.media.files import os_reason
from nst_core.media.images import read_settings_json
from nst_core.settings.picture import parse_json

#: A settings file is a few kilobytes; anything far larger is not one.
MAX_BYTES = 1_000_000

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes) -> str:
    """Text in the encodings editors write: UTF-8 (with or without a byte-order mark), UTF-16
    and UTF-32 (with a mark, or UTF-16 without one, as PowerShell redirection writes it), and
    Windows-1252 / Latin-1 for the rest."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    if len(data) >= 2 and b"\x00" in data[:64]:  # UTF-16 without a mark: ASCII with zeros
        even_zeros = data[0::2].count(0) > len(data) // 4
        try:
            return data.decode("utf-16-be" if even_zeros else "utf-16-le")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_settings_file(path: str | Path) -> TransferSettings:
    """Settings from a .json file, or from a PNG (JPEG, WebP) this app saved."""
    p = Path(path)
    if p.suffix.lower() != ".json":
        try:
            text = read_settings_json(p)
        except NSTError as e:
            raise SettingsError("settings_from", str(e)) from None
        if text is None:
            raise SettingsError("settings_from", f"{p} carries no NST Studio settings "
                                "(only PNGs this app saved do)")
        return TransferSettings.from_json(text)
    data = read_json_file(p, "settings_from")
    try:
        return TransferSettings.from_dict(data)
    except SettingsError as e:
        raise SettingsError("settings_from", f"{p.name}: {e}") from None


def read_json_file(path: str | Path, field: str) -> Any:
    """The JSON value in a file a person wrote, in whatever encoding their editor used, or a
    one-line `SettingsError` naming `field`."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise SettingsError(field, f"{p} is too large to be a settings file")
        data = p.read_bytes()
    except OSError as e:
        raise SettingsError(field, f"cannot read {p} ({os_reason(e)})") from None
    text = decode_text(data)
    if "\x00" in text:
        raise SettingsError(field, f"{p} is not a text file")
    try:
        return parse_json(text)
    except SettingsError as e:
        raise SettingsError(field, f"{p} is not a JSON file ({str(e).split(': ', 1)[-1]})") \
            from None
