"""Each loss term against a hand calculation on a small tensor."""
import pytest
import torch

from nst_core.media import color
from nst_core.objective.losses import (ContentLoss, StyleLoss, gram, grid_pattern, relative_mse,
                                      tv_loss)


def test_gram_matches_hand_calculation():
    # One image, 2 channels, 1x2 positions: F = [[1, 2], [3, 4]]
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    # F F^T = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]], divided by C*H*W = 4
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    assert torch.allclose(gram(f)[0], expected)


def test_gram_is_symmetric_and_batched():
    f = torch.randn(3, 5, 4, 6)
    g = gram(f)
    assert g.shape == (3, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.allclose(g[1], gram(f[1:2])[0])


def test_content_loss_by_hand():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    x = torch.tensor([1.0, 2.0, 3.0, 6.0]).reshape(1, 1, 2, 2)
    # mean((x - t)^2) = 4/4 = 1; mean(t^2) = 30/4 = 7.5 -> 1/7.5
    assert ContentLoss(target)(x).item() == pytest.approx(1 / 7.5, rel=1e-5)
    assert ContentLoss(target)(target).item() == 0.0


def test_relative_mse_is_one_for_zero_input():
    t = torch.randn(2, 3, 4, 4)
    assert relative_mse(torch.zeros_like(t), t).item() == pytest.approx(1.0, rel=1e-5)


def test_style_loss_by_hand():
    f_style = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    f_x = torch.tensor([[1.0, 2.0], [3.0, 2.0]]).reshape(1, 2, 1, 2)
    a = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    g = torch.tensor([[5.0, 7.0], [7.0, 13.0]]) / 4
    # g - a = [[0, -4], [-4, -12]] / 4: squares sum to 176/16; a's squares sum to 892/16
    expected = ((g - a) ** 2).mean() / (a ** 2).mean()
    assert expected.item() == pytest.approx(176 / 892, rel=1e-6)
    assert StyleLoss(gram(f_style))(f_x).item() == pytest.approx(176 / 892, rel=1e-5)


def test_blended_style_target_is_weighted_sum_of_grams():
    f1, f2 = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 5, 2)
    loss = StyleLoss.blended([f1, f2], [0.7, 0.3])
    assert torch.allclose(loss.target, 0.7 * gram(f1) + 0.3 * gram(f2))


def test_tv_loss_by_hand():
    x = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).reshape(1, 1, 2, 2)
    # vertical diffs: 2, 3 -> mean(4, 9) = 6.5; horizontal diffs: 1, 2 -> mean(1, 4) = 2.5
    assert tv_loss(x).item() == pytest.approx(9.0)
    assert tv_loss(torch.full((1, 3, 5, 5), 0.3)).item() == 0.0


def test_grid_pattern_by_hand():
    # 2x2 cells of one channel: the cells [[1, 0], [0, 0]] and [[3, 0], [0, 0]] have the mean
    # cell [[2, 0], [0, 0]], whose four places have mean 0.5 and variance (1.5^2 + 3 * 0.5^2) / 4
    x = torch.tensor([[1.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]]).reshape(1, 1, 2, 4)
    assert grid_pattern(x, 2).item() == pytest.approx(0.75)
    # a trailing row or column that is no whole cell is left out
    assert grid_pattern(torch.cat([x, torch.full((1, 1, 1, 4), 9.0)], 2), 2).item() == \
        pytest.approx(0.75)
    # a pattern that does not repeat with the grid's period averages out: a grating of period
    # 3 over cells of 2, and a flat picture
    grating = torch.tensor([0.0, 0.0, 1.0] * 16).reshape(1, 1, 1, 48).expand(1, 3, 12, 48)
    assert grid_pattern(grating, 2).item() == pytest.approx(0.0, abs=1e-6)
    assert grid_pattern(torch.full((2, 3, 8, 8), 0.7), 4).item() == 0.0
    # the same grating in step with a grid of 3: variance 2/9 per channel, three channels
    assert grid_pattern(grating, 3).item() == pytest.approx(3 * 2 / 9)


def test_yiq_round_trip_and_luminance_recombination():
    img = torch.rand(1, 3, 6, 7)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(img)), img, atol=1e-5)
    gray = color.luminance(img)
    assert torch.allclose(gray[:, 0], gray[:, 2])
    # Recombining an image's own luminance with its own colour gives the image back.
    assert torch.allclose(color.combine_luminance(gray, img), img, atol=1e-4)


def test_match_color_gives_content_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 20, 20, generator=g) * 0.4 + 0.3
    style = torch.rand(1, 3, 20, 20, generator=g) ** 2 * 0.5
    out = color.match_color(style, content)
    c, o = content[0].reshape(3, -1).double(), out[0].reshape(3, -1).double()
    assert torch.allclose(o.mean(1), c.mean(1), atol=1e-4)
    assert torch.allclose(torch.cov(o), torch.cov(c), atol=1e-4)


def test_gram_gradient_is_exact_in_both_memory_layouts():
    f = torch.randn(2, 4, 3, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(gram, (f,))
    cl = torch.randn(1, 4, 3, 5, dtype=torch.double).contiguous(
        memory_format=torch.channels_last).requires_grad_(True)
    assert torch.autograd.gradcheck(gram, (cl,))
    # same values and gradients as the plain formula
    x = torch.randn(1, 6, 7, 8, requires_grad=True)
    t = torch.randn(1, 6, 6)
    ((gram(x) - t) ** 2).sum().backward()
    ref = x.detach().clone().requires_grad_(True)
    r = ref.reshape(1, 6, 56)
    ((r @ r.transpose(1, 2) / 336 - t) ** 2).sum().backward()
    assert torch.allclose(x.grad, ref.grad, atol=1e-5)
    y = x.detach().contiguous(memory_format=torch.channels_last)
    assert torch.allclose(gram(y), gram(x.detach()), atol=1e-6)
