"""Property-based tests: whatever bytes or JSON the readers are given, the only outcomes are a
result or the project's own error with a one-line message (hypothesis)."""
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst_app.batch import BatchItem, BatchQueue
from nst_app.history import HistoryStore
from nst_app.settings_io import read_settings_file
from nst_core import NSTError, SettingsError, TransferSettings, Tuning
from nst_core.media.images import load_image
from nst_core.catalogue import job_from_dict
from nst_core.networks.vgg import load_conv_state
from tests.conftest import make_photo

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line(e: Exception) -> None:
    text = str(e)
    assert text and "\n" not in text and "Traceback" not in text, text


_FOLDERS = tempfile.TemporaryDirectory(prefix="nst-hyp-")  # every example's files, in one


@pytest.fixture(scope="module", autouse=True)
def _remove_the_examples_files():
    yield
    _FOLDERS.cleanup()


def _folder() -> Path:
    """A fresh folder for one example (hypothesis runs many examples per test, and
    function-scoped fixtures such as tmp_path are shared between them)."""
    return Path(tempfile.mkdtemp(dir=_FOLDERS.name))


def _file(data: bytes, suffix: str) -> Path:
    folder = _folder()
    p = folder / f"input{suffix}"
    p.write_bytes(data)
    return p


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(make_photo(24, 20)).save(buf, fmt)
    return buf.getvalue()


REAL = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


@FAST
@given(st.binary(max_size=3000), st.sampled_from([".png", ".jpg", ".gif", ".bin"]))
def test_the_image_loader_on_any_bytes(data, suffix):
    try:
        img = load_image(_file(data, suffix))
    except NSTError as e:
        _one_line(e)
    else:
        assert img.rgb.dtype == np.uint8 and img.rgb.ndim == 3


@FAST
@given(st.sampled_from(sorted(REAL)), st.data())
def test_the_image_loader_on_damaged_real_files(fmt, data):
    raw = bytearray(REAL[fmt])
    for _ in range(data.draw(st.integers(1, 8))):  # flip a few bytes
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))  # and maybe cut the end off
    try:
        img = load_image(_file(bytes(raw[:cut]), "." + fmt.lower()))
    except NSTError as e:
        _one_line(e)
    else:
        assert img.rgb.shape[2] == 3


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=12)
FIELDS = [name for name in TransferSettings().to_dict()]


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS + ["nst_studio_settings", "other"]), JSON,
                       max_size=6))
def test_the_settings_parser_on_any_json_object(data):
    try:
        s = TransferSettings.from_json(json.dumps(data))
        s.validate()
    except SettingsError as e:
        _one_line(e)


@FAST
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_the_settings_parser_on_any_text(text):
    try:
        TransferSettings.from_json(text)
    except SettingsError as e:
        _one_line(e)


@FAST
@given(st.binary(max_size=500))
def test_a_settings_file_of_any_bytes(data):
    try:
        read_settings_file(_file(data, ".json"))
    except SettingsError as e:
        _one_line(e)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "cp1252", "latin-1"])
def test_settings_files_in_the_encodings_editors_write(tmp_path, encoding):
    s = TransferSettings(content="C:/Photos/Café.jpg", styles=("D:/Kunst/Schrei.jpg",), seed=3)
    p = tmp_path / "s.json"
    p.write_bytes(s.to_json(indent=2).replace("\\u00e9", "é").encode(encoding))
    assert read_settings_file(p) == s


def test_an_absurd_number_is_refused_in_one_line(tmp_path):
    p = tmp_path / "s.json"
    p.write_text('{"size": ' + "9" * 5000 + "}")
    with pytest.raises(SettingsError, match="size: expected a whole number") as info:
        read_settings_file(p)
    _one_line(info.value)
    p.write_text('{"style_weight": 1' + "0" * 5000 + ".5}")
    with pytest.raises(SettingsError, match="style_weight") as info:
        TransferSettings.from_json(p.read_text()).validate()
    _one_line(info.value)


@FAST
@given(st.binary(max_size=400))
def test_the_weights_reader_on_any_bytes(data):
    with pytest.raises(NSTError) as info:
        load_conv_state("torchvision", _file(data, ".pth"))
    _one_line(info.value)


@FAST
@given(JSON)
def test_the_job_reader_on_any_json(data):
    try:
        job_from_dict(data)
    except NSTError as e:
        _one_line(e)
    try:
        Tuning.from_dict(data)
    except NSTError as e:
        _one_line(e)
    try:
        BatchItem.from_dict(data)
    except NSTError as e:
        _one_line(e)


@FAST
@given(st.lists(JSON, max_size=3), st.binary(max_size=200))
def test_history_and_queue_files_of_anything_never_stop_the_listing(entries, junk):
    folder = _folder()
    for i, data in enumerate(entries):
        (folder / f"run-2026{i:04d}.json").write_text(json.dumps(data))
        (folder / f"run-2026{i:04d}.png").write_bytes(junk)
    listed = HistoryStore(folder).entries()
    assert len(listed) <= 2 * len(entries)
    (folder / "queue.json").write_bytes(junk)
    assert BatchQueue.load(folder / "queue.json").items == []
    (folder / "queue.json").write_text(json.dumps({"items": entries}))
    assert len(BatchQueue.load(folder / "queue.json").items) <= len(entries)


@given(st.binary(max_size=2000))
def test_the_model_reader_on_any_bytes(data):
    from nst_core.networks.model_file import load_model

    with pytest.raises(NSTError) as info:
        load_model(_file(data, ".nst"))
    _one_line(info.value)


@FAST
@given(st.data())
def test_the_model_reader_on_damaged_real_files(tiny_model, data):
    """A real model with bytes flipped or cut: loaded and usable, or refused in one line."""
    from nst_core.networks.model_file import load_model

    raw = bytearray(Path(tiny_model).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        model = load_model(_file(bytes(raw[:cut]), ".nst"))
    except NSTError as e:
        _one_line(e)
        return
    import torch

    with torch.no_grad():
        assert model.network()(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)
