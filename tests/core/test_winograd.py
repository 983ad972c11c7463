"""Winograd's F(4x4, 3x3) convolutions (nst_core.networks.winograd) against torch's direct ones."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nst_core import Tuning
from nst_core.runtime.devices import estimate_memory
from nst_core.base.errors import SettingsError
from nst_core.settings.picture import TransferSettings
from nst_core.networks.vgg import VGGFeatures
from nst_core.networks.winograd import (WinogradConv2d, conv3x3, kernel_bytes, suits_channels,
                               transform_kernels)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().abs().max() / b.detach().abs().max())


@pytest.mark.parametrize("shape", [(1, 5, 8, 12), (1, 7, 13, 10), (3, 6, 9, 5), (2, 4, 1, 1)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv3x3_is_the_direct_convolution(shape, with_bias):
    torch.manual_seed(0)
    x = torch.randn(shape)
    w = torch.randn(9, shape[1], 3, 3)
    b = torch.randn(9) if with_bias else None
    direct = F.conv2d(x, w, b, padding=1)
    y = conv3x3(x, transform_kernels(w), b)
    assert y.shape == direct.shape
    assert _relative(y, direct) < 1e-5


def test_one_output_by_hand():
    # A 1-channel 4x4 picture of ones and a kernel of ones: each output counts the in-picture
    # pixels of its 3x3 neighbourhood (4 at a corner, 6 on an edge, 9 inside), plus the bias.
    x = torch.ones(1, 1, 4, 4)
    y = conv3x3(x, transform_kernels(torch.ones(1, 1, 3, 3)), torch.tensor([0.5]))
    expected = torch.tensor([[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]) + 0.5
    assert torch.allclose(y[0, 0], expected.float(), atol=1e-5)


def _pair(cin=6, cout=5):
    torch.manual_seed(1)
    direct = nn.Conv2d(cin, cout, 3, padding=1)
    direct.requires_grad_(False)
    return direct, WinogradConv2d.from_conv(direct)


def test_gradient_to_the_input_matches():
    direct, wino = _pair()
    x = torch.randn(2, 6, 11, 9)
    g = torch.randn(2, 5, 11, 9)
    grads = []
    for conv in (direct, wino):
        xi = x.clone().requires_grad_()
        conv(xi).backward(g)
        grads.append(xi.grad)
    assert _relative(grads[1], grads[0]) < 1e-5
    assert wino.weight.grad is None  # frozen: no weight gradient is made


def test_direct_where_winograd_does_not_apply():
    direct, wino = _pair()
    x = torch.randn(1, 6, 16, 16)  # 16 blocks of 4x4: the smallest map Winograd takes
    fast = wino(x)
    assert not torch.equal(fast, direct(x)) and _relative(fast, direct(x)) < 1e-5
    small = torch.randn(1, 6, 12, 16)  # 12 blocks: too few, direct
    assert torch.equal(wino(small), direct(small))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # CPUs with native bf16 autocast
        assert torch.equal(wino(x), direct(x))
    assert torch.equal(copy.deepcopy(wino).double()(x.double()),
                       copy.deepcopy(direct).double()(x.double()))
    wino.bias.requires_grad_(True)  # a trained bias needs its gradient: torch's path
    assert torch.equal(wino(x), direct(x))
    wino.requires_grad_(True)  # a network being trained needs weight gradients: torch's path
    assert torch.equal(wino(x), direct(x))


def test_new_weights_make_new_transforms():
    direct, wino = _pair()
    x = torch.randn(1, 6, 16, 16)
    before = wino(x)
    with torch.no_grad():
        direct.weight.mul_(2.0)
        wino.weight.mul_(2.0)
    after = wino(x)
    assert not torch.equal(after, direct(x))  # by Winograd, with the new weights' transforms
    assert _relative(after, direct(x)) < 1e-5
    assert _relative(after - wino.bias.view(1, -1, 1, 1),
                     2 * (before - wino.bias.view(1, -1, 1, 1))) < 1e-5


def test_which_layers_run_by_winograd():
    # C*O/(C+O) >= 80: conv2_2 (128 -> 128) gives 64, conv3_1 (128 -> 256) 85.3.
    assert not suits_channels(64, 128) and not suits_channels(128, 128)
    assert suits_channels(128, 256) and suits_channels(256, 256) and suits_channels(512, 512)
    net = VGGFeatures(["relu5_1"])
    kinds = [type(m).__name__ for m in net.features if isinstance(m, nn.Conv2d)]
    # conv1_1, conv1_2, conv2_1, conv2_2 direct; conv3_1 ... conv5_1 by Winograd
    assert kinds == ["Conv2d"] * 4 + ["WinogradConv2d"] * 9
    assert all(type(m) is nn.Conv2d for m in VGGFeatures(["relu5_1"], winograd=False).features
               if isinstance(m, nn.Conv2d))


def test_vgg_features_agree_with_the_direct_network():
    layers = ["relu3_1", "relu4_2", "relu5_1"]
    fast, direct = VGGFeatures(layers), VGGFeatures(layers, winograd=False)
    torch.manual_seed(2)
    # relu5_1 at 16x16: every layer from conv3_1 on has at least MIN_TILES blocks
    image = torch.rand(1, 3, 256, 256, requires_grad=True)
    a, b = fast(image), direct(image)
    for name in layers:
        assert _relative(a[name], b[name]) < 1e-4, name
    grads = [torch.autograd.grad(sum(f.pow(2).sum() for f in feats.values()), image)[0]
             for feats in (a, b)]
    assert _relative(grads[0], grads[1]) < 1e-4


def test_tuning_switch_round_trips_and_is_checked():
    assert Tuning().winograd is True
    off = Tuning(winograd=False)
    assert Tuning.from_dict(off.to_dict()) == off
    with pytest.raises(SettingsError):
        Tuning.from_dict({"winograd": "yes"})


def test_memory_estimate_counts_the_kernels():
    s = TransferSettings(content="a.png", styles=("b.png",))
    f32 = Tuning().with_precision("cpu", "float32")
    on = estimate_memory(s, (512, 384), "cpu", f32)
    off = estimate_memory(s, (512, 384), "cpu", f32.replace(winograd=False))
    # conv3_1 (128 -> 256), conv3_2..3_4 (256 -> 256), conv4_1 (256 -> 512), conv4_2..4_4 and
    # conv5_1 (512 -> 512): 36 floats per channel pair, both directions
    kernels = 2 * 36 * 4 * (128 * 256 + 3 * 256 * 256 + 256 * 512 + 4 * 512 * 512)
    assert kernels == sum(kernel_bytes(c, o) for c, o in
                          [(128, 256)] + [(256, 256)] * 3 + [(256, 512)] + [(512, 512)] * 4)
    # and the largest layer's tiles: conv3_2 at 128x96, 32x24 tiles of 36 floats, 256 in and
    # 256 out
    tiles = 4 * 36 * (256 + 256) * 32 * 24
    assert on - off == kernels + tiles
    bf16 = Tuning().with_precision("cpu", "bfloat16")  # autocast: direct convolutions
    assert estimate_memory(s, (512, 384), "cpu", bf16) == \
        estimate_memory(s, (512, 384), "cpu", bf16.replace(winograd=False))
