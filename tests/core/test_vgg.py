"""The feature extractor: bundled weights, a torchvision checkpoint, truncation, normalization."""
import pytest
import torch

from nst_core import WeightsError
from nst_core.networks.layers import CONV_INDICES, FEATURE_LAYERS, LAYER_INDEX, LAYER_NAMES
from nst_core.networks.vgg import (Normalize, VGGFeatures, bundled_weights_path, load_conv_state,
                                   vgg19_features)


def test_layer_table_matches_torchvision():
    from torchvision.models.vgg import cfgs, make_layers

    feats = vgg19_features()
    assert repr(feats) == repr(make_layers(cfgs["E"], batch_norm=False))  # module for module
    assert len(LAYER_NAMES) == len(feats) == 37
    assert CONV_INDICES == (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
    for name, module in zip(LAYER_NAMES, feats):
        kind = type(module).__name__
        assert {"conv": "Conv2d", "relu": "ReLU", "pool": "MaxPool2d"}[name[:4]] == kind
    assert len(FEATURE_LAYERS) == 16 and LAYER_INDEX["relu4_2"] == 22


def test_bundled_weights_load_with_expected_shapes():
    state = load_conv_state("bundled")
    assert len(state) == 32
    assert state["0.weight"].shape == (64, 3, 3, 3)
    assert state["34.weight"].shape == (512, 512, 3, 3)
    raw = torch.load(bundled_weights_path(), weights_only=True)
    q, table = raw["block3_conv2_W_q"], raw["block3_conv2_W_table"]
    assert torch.equal(state["12.weight"], table[q.long()])  # dequantized by table lookup
    assert torch.equal(state["12.bias"], raw["block3_conv2_b"])


def test_features_have_expected_shapes_and_stop_at_deepest_layer():
    net = VGGFeatures(["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"])
    assert len(net.features) == LAYER_INDEX["relu5_1"] + 1
    out = net(torch.rand(1, 3, 64, 48))
    assert out["relu1_1"].shape == (1, 64, 64, 48)
    assert out["relu2_1"].shape == (1, 128, 32, 24)
    assert out["relu3_1"].shape == (1, 256, 16, 12)
    assert out["relu4_1"].shape == (1, 512, 8, 6)
    assert out["relu4_2"].shape == (1, 512, 8, 6)
    assert out["relu5_1"].shape == (1, 512, 4, 3)
    assert (out["relu3_1"] >= 0).all()
    shallow = VGGFeatures(["relu2_1"])
    assert len(shallow.features) == LAYER_INDEX["relu2_1"] + 1


def test_network_is_frozen_and_in_eval_mode():
    net = VGGFeatures(["relu3_1"])
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(x)["relu3_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients reach the image only


def test_avg_pooling_replaces_max_pooling():
    net = VGGFeatures(["relu3_1"], pooling="avg")
    kinds = {type(m).__name__ for m in net.features}
    assert "AvgPool2d" in kinds and "MaxPool2d" not in kinds


def test_caffe_normalization_is_bgr_255_minus_mean():
    norm = Normalize("bundled")
    x = torch.zeros(1, 3, 1, 1)
    x[0, 0], x[0, 2] = 1.0, 0.5  # R = 1, B = 0.5
    out = norm(x)[0, :, 0, 0]
    assert torch.allclose(out, torch.tensor([127.5 - 103.939, 0 - 116.779, 255 - 123.68]))


def test_imagenet_normalization_for_torchvision_weights():
    out = Normalize("torchvision")(torch.full((1, 3, 1, 1), 0.485))[0, :, 0, 0]
    assert out[0].item() == pytest.approx(0.0, abs=1e-6)
    assert out[1].item() == pytest.approx((0.485 - 0.456) / 0.224, rel=1e-5)


def _torchvision_checkpoint(path):
    torch.manual_seed(0)
    feats = vgg19_features()
    state = {f"features.{k}": v for k, v in feats.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored, as in the real file
    torch.save(state, path)
    return feats


def test_torchvision_checkpoint_made_here_loads(tmp_path):
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    ref = _torchvision_checkpoint(path).eval()
    net = VGGFeatures(["relu2_1"], source="torchvision", path=path)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = ref[: LAYER_INDEX["relu2_1"] + 1](Normalize("torchvision")(x))
    assert torch.allclose(net(x)["relu2_1"], expected, atol=1e-5)


def test_torchvision_checkpoint_found_in_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsError, match="No torchvision VGG19 checkpoint"):
        VGGFeatures(["relu1_1"], source="torchvision")
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    _torchvision_checkpoint(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth")
    assert VGGFeatures(["relu1_1"], source="torchvision")(torch.rand(1, 3, 16, 16))["relu1_1"] \
        .shape == (1, 64, 16, 16)


def test_wrong_files_give_weights_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_conv_state("bundled", tmp_path / "missing.bin")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_conv_state("torchvision", junk)
    other = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(WeightsError, match="not a torchvision VGG19"):
        load_conv_state("torchvision", other)
