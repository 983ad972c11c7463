"""Settings validation and the JSON round trip."""
import json

import pytest

import dataclasses

from nst_app.samples import default_content, default_settings, default_style
from nst_core import SettingsError, TransferSettings


def test_the_engine_names_no_images_and_the_app_fills_in_the_samples():
    with pytest.raises(SettingsError, match="choose a content image"):
        TransferSettings().validate()
    s = default_settings().validate()
    assert s.content == str(default_content()) and default_content().is_file()
    assert s.styles == (str(default_style()),) and default_style().is_file()
    assert s.content_layers == ("relu4_2",)
    assert s.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@pytest.mark.parametrize("field, value, words", [
    ("size", 8, "between 32 and 8192"),
    ("size", 100000, "between 32 and 8192"),
    ("size", 12.5, "whole number"),
    ("iterations", 0, "between 1 and"),
    ("style_weight", -1.0, "between 0"),
    ("content_weight", float("nan"), "finite"),
    ("tv_weight", float("inf"), "finite"),
    ("learning_rate", 0.0, "between"),
    ("style_scale", 10.0, "between 0.1 and 4"),
    ("scales", 1, "between 2 and 6"),
    ("seed", -3, "between 0"),
    ("optimizer", "sgd", "one of lbfgs, adam"),
    ("init", "random", "one of content, noise, style, image"),
    ("color", "sepia", "one of none, luminance, histogram"),
    ("pooling", "min", "one of max, avg"),
    ("device", "tpu", "one of auto, cpu, cuda, mps"),
    ("weights", "imagenet", "one of bundled, torchvision"),
    ("style_layers", ("relu9_9",), "unknown layer"),
    ("content_layers", (), "at least one layer"),
    ("style_layers", ("relu1_1", "relu1_1"), "listed twice"),
    ("styles", (), "at least one style"),
    ("content", "", "choose a content image"),
    ("style_blend", (1.0, 2.0), "one weight per style"),
    ("style_blend", (0.0,), "at least one weight"),
    ("style_layer_weights", (1.0,), "one weight per style layer"),
    ("multiscale", "yes", "true or false"),
])
def test_bad_values_name_the_field_and_range(field, value, words):
    with pytest.raises(SettingsError) as info:
        default_settings().replace(**{field: value}).validate()
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert words in str(info.value)


def test_image_init_needs_an_image():
    with pytest.raises(SettingsError, match="init_image"):
        default_settings().replace(init="image").validate()


def test_all_weights_zero_is_refused():
    with pytest.raises(SettingsError, match="nothing to optimize"):
        default_settings().replace(content_weight=0, style_weight=0, tv_weight=0).validate()


def test_blend_and_layer_weights_are_normalized():
    s = TransferSettings(styles=("a", "b", "c"), style_blend=(2.0, 1.0, 1.0))
    assert s.blend() == (0.5, 0.25, 0.25)
    assert TransferSettings(styles=("a", "b")).blend() == (0.5, 0.5)
    assert TransferSettings().layer_weights() == (1.0,) * 5


def test_learning_rate_default_depends_on_optimizer():
    assert TransferSettings(optimizer="lbfgs").lr == 1.0
    assert TransferSettings(optimizer="adam").lr == 0.02
    assert TransferSettings(optimizer="adam", learning_rate=0.5).lr == 0.5


def test_json_round_trip_keeps_every_field():
    s = TransferSettings(content="/x/photo.jpg", styles=("/a.jpg", "/b.jpg"), style_blend=(0.7, 0.3),
                         size=300, content_weight=2.5, style_weight=1e4, tv_weight=0.0,
                         style_layers=("relu1_1", "relu3_1"), style_layer_weights=(1.0, 0.5),
                         init="noise", optimizer="adam", learning_rate=0.05, iterations=77,
                         multiscale=False, scales=4, style_scale=0.5, color="luminance",
                         pooling="avg", seed=1234, device="cpu")
    text = s.to_json()
    assert json.loads(text)["nst_studio_settings"] == 1
    back = TransferSettings.from_json(text)
    assert back == s
    assert isinstance(back.styles, tuple) and isinstance(back.style_blend, tuple)


def test_json_missing_fields_take_defaults():
    assert TransferSettings.from_json('{"size": 256}') == TransferSettings(size=256)


@pytest.mark.parametrize("text, field", [
    ('{"size": "big"}', "size"),
    ('{"size": true}', "size"),
    ('{"styles": "one.jpg"}', "styles"),
    ('{"colour": "none"}', "colour"),
    ('{"nst_studio_settings": 99}', "nst_studio_settings"),
    ('[1, 2]', "settings"),
    ('{not json', "settings"),
])
def test_bad_json_raises_settings_error(text, field):
    with pytest.raises(SettingsError) as info:
        TransferSettings.from_json(text)
    assert info.value.field == field


def test_settings_are_frozen():
    s = TransferSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.size = 3
    assert s.size == 512


def test_bundled_presets_load_and_apply():
    from nst_app.presets import load_presets

    presets = {p.name: p for p in load_presets()}
    assert list(presets) == ["Quick preview", "Balanced", "High quality"]
    base = default_settings().replace(content="/photo.jpg", seed=9)
    quick = presets["Quick preview"].apply(base)
    assert quick.size == 256 and quick.content == "/photo.jpg" and quick.seed == 9
    assert presets["High quality"].apply(base).size == 1024
    balanced = presets["Balanced"].apply(base)
    # the Balanced preset is the default, the picture rule included (#12)
    for name in ("size", "iterations", "scales", "settle", "early_stop"):
        assert getattr(balanced, name) == getattr(TransferSettings(), name), name
    # a quick look stops sooner, a thorough one later
    assert quick.settle > balanced.settle > presets["High quality"].apply(base).settle > 0
