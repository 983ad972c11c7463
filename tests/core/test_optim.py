"""The engine's optimizer: preconditioned L-BFGS in a box (nst_core.optim)."""
from __future__ import annotations

import math

import pytest
import torch

from nst_core.optim import BoxLBFGS, Preconditioner


def test_preconditioner_is_identity_plus_gaussian_blurs():
    P = Preconditioner((1, 1, 41, 41), [(3.0, 2.0), (5.0, 4.0)])
    delta = torch.zeros(1, 1, 41, 41)
    delta[0, 0, 20, 20] = 1.0
    out = P(delta)[0, 0]
    # At the centre: 1 + sum c / (2 pi sigma^2), the peak of a unit-mass 2-D Gaussian.
    centre = 1 + 2.0 / (2 * math.pi * 9) + 4.0 / (2 * math.pi * 25)
    assert float(out[20, 20]) == pytest.approx(centre, rel=2e-3)
    # Three pixels away along a row: only the Gaussians, each exp(-9 / (2 sigma^2)) lower.
    off = 2.0 / (2 * math.pi * 9) * math.exp(-9 / 18) + 4.0 / (2 * math.pi * 25) * math.exp(-9 / 50)
    assert float(out[20, 23]) == pytest.approx(off, rel=2e-3)
    assert float(out.sum()) == pytest.approx(1 + 2.0 + 4.0, rel=2e-3)  # each blur keeps mass


def test_preconditioner_is_symmetric_positive_definite_and_does_not_wrap():
    P = Preconditioner((1, 3, 30, 50), [(2.0, 3.0), (8.0, 8.0)])
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(1, 3, 30, 50, generator=g), torch.randn(1, 3, 30, 50, generator=g)
    assert float((P(u) * v).sum()) == pytest.approx(float((u * P(v)).sum()), rel=1e-4)
    assert float((P(v) * v).sum()) >= float((v * v).sum())  # spectrum >= 1
    edge = torch.zeros(1, 1, 30, 50)
    edge[0, 0, 15, 0] = 1.0
    out = P(edge)[0, 0]
    assert float(out[15, 1]) > 0.05 and abs(float(out[15, -1])) < 1e-5  # zero-padded, no wrap


def _quadratic(target: torch.Tensor, smooth: float = 0.0):
    """f(x) = sum (x - t)^2 + smooth * |horizontal and vertical differences of (x - t)|^2."""
    def f(x):
        e = x - target
        val = (e * e).sum()
        if smooth:
            dx, dy = e[..., :, 1:] - e[..., :, :-1], e[..., 1:, :] - e[..., :-1, :]
            val = 0.01 * val + smooth * ((dx * dx).sum() + (dy * dy).sum())
        return val
    return f


def _run(opt: BoxLBFGS, x: torch.Tensor, f, steps: int, seen: list | None = None) -> float:
    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
        if seen is not None:
            seen.append(x.detach().clone())
    with torch.no_grad():
        return float(f(x))


def test_converges_to_the_box_projection_of_the_unconstrained_minimum():
    target = torch.linspace(-0.5, 1.5, 60).view(1, 1, 6, 10)  # a third of it outside [0, 1]
    x = torch.full_like(target, 0.5).requires_grad_(True)
    seen: list[torch.Tensor] = []
    _run(BoxLBFGS([x], history_size=10), x, _quadratic(target), 30, seen)
    assert torch.allclose(x.detach(), target.clamp(0, 1), atol=1e-5)
    assert all(float(s.min()) >= 0.0 and float(s.max()) <= 1.0 for s in seen)


def test_curvature_pairs_record_the_step_actually_taken():
    target = torch.tensor([[[[2.0, -1.0, 0.25, 0.75]]]])
    x = torch.full_like(target, 0.5).requires_grad_(True)
    opt = BoxLBFGS([x], history_size=5)
    seen: list[torch.Tensor] = [x.detach().clone()]
    _run(opt, x, _quadratic(target), 3, seen)
    s, y, rho = opt.pairs[-1]
    assert torch.allclose(s, (seen[2] - seen[1]).view(-1))  # after the clamp, not before
    assert float(rho) == pytest.approx(1.0 / float(s.dot(y)))


def test_preconditioner_speeds_up_a_problem_with_weak_smooth_directions():
    """A loss that punishes neighbour differences hard and smooth errors weakly, as the
    network's does: the blurs lengthen the smooth steps, so 15 steps get much further."""
    g = torch.Generator().manual_seed(1)
    target = (0.5 + 0.3 * torch.randn(1, 3, 32, 32, generator=g)).clamp(0, 1)
    f = _quadratic(target, smooth=1.0)
    results = {}
    for name, P in (("plain", None), ("preconditioned", Preconditioner((1, 3, 32, 32),
                                                                       [(1.0, 3.0), (4.0, 8.0)]))):
        x = torch.full_like(target, 0.5).requires_grad_(True)
        results[name] = _run(BoxLBFGS([x], history_size=10, preconditioner=P), x, f, 15)
    assert results["preconditioned"] < 0.5 * results["plain"]


def test_a_step_that_overshoots_is_taken_back_by_half():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    losses = iter([1.0, 10.0, 0.5])  # the second point is 10x worse than the first

    def closure():
        opt.zero_grad()
        x.sum().backward()  # gradient 1 everywhere
        return torch.tensor(next(losses))

    opt = BoxLBFGS([x], lr=1.0, max_increase=1.5)
    x.data.fill_(0.8)
    opt.step(closure)  # from 0.8 a small step down the gradient
    first = x.detach().clone()
    assert float(first.max()) < 0.8
    opt.step(closure)  # loss 10 > 1.5 x 1: back to halfway between 0.8 and `first`
    assert opt.rejected == 1 and len(opt.pairs) == 0
    assert torch.allclose(x.detach(), (0.8 + first) / 2)
    opt.step(closure)  # 0.5 < 1: accepted, learns a pair from 0.8 to the halfway point
    assert opt.rejected == 1


def test_a_non_finite_loss_leaves_the_image_alone():
    x = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)

    def closure():
        opt.zero_grad()
        return torch.tensor(float("nan"))  # no backward: no gradient

    opt = BoxLBFGS([x])
    opt.step(closure)
    assert torch.equal(x.detach(), torch.full((1, 1, 2, 2), 0.5))


def test_only_one_tensor():
    with pytest.raises(ValueError, match="one tensor"):
        BoxLBFGS([torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)])


def test_the_picture_rule_ends_a_scale_once_the_picture_stops_moving():
    """Gradient descent on sum((x - t)^2) with step 0.05 shrinks the error by 0.9 per step, so
    each 10-step window moves the picture 0.9^10 = 0.349 times the window before it. Against
    the second window (the first holds the start's jump and is ignored): window 3 moves 0.349
    of it, window 4 0.9^20 = 0.122. A threshold of 0.25 therefore stops at step 40, 0.4 at
    step 30, 0.1 at step 50 (0.9^30 = 0.042 < 0.1 < 0.9^20 = 0.122); without it all 400 steps
    run. With a patience of two windows (the engine's) each stop comes one window later:
    the first quiet window is confirmed by the next."""
    import threading

    import torch

    from nst_core.optimize import minimize

    target = torch.rand((1, 3, 16, 16), generator=torch.Generator().manual_seed(0))

    def run(settle: float, patience: int = 1):
        x = torch.zeros_like(target).requires_grad_(True)
        opt = torch.optim.SGD([x], lr=0.05)
        seen = []
        for it in minimize(x, lambda im: {"total": ((im - target) ** 2).sum()}, opt, 400,
                           threading.Event(), settle=settle, settle_every=10,
                           settle_patience=patience):
            seen.append((it.step, it.converged, it.best.clone()))
        return seen

    free = run(0.0)
    assert len(free) == 400 and not any(c for _, c, _ in free)
    for settle, stop in ((0.25, 40), (0.4, 30), (0.1, 50)):
        for patience in (1, 2, 3):
            ruled = run(settle, patience)
            end = stop + 10 * (patience - 1)
            assert [s for s, c, _ in ruled if c] == [end] and ruled[-1][0] == end
    # the movement the rule saw, from the pictures themselves: window 4 against window 2
    ruled = run(0.25)
    moved = [(ruled[k + 9][2] - (ruled[k - 1][2] if k else torch.zeros_like(target)))
             .abs().mean().item() for k in (0, 10, 20, 30)]
    assert moved[3] / moved[1] == pytest.approx(0.9 ** 20, rel=0.05)
    assert moved[2] / moved[1] == pytest.approx(0.9 ** 10, rel=0.05)


def test_the_picture_rule_is_a_checked_setting(photo_path, painting_path):
    from nst_core import TransferSettings
    from nst_core.errors import SettingsError

    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(SettingsError, match="settle"):
            s.replace(settle=bad).validate()
    assert TransferSettings.from_dict({**s.to_dict(), "settle": 0.3}).settle == 0.3
    assert TransferSettings.from_json(s.replace(settle=0.0).to_json()).settle == 0.0
    # jobs saved before the threshold became a setting (a batch queue) still load
    from nst_core import Tuning

    assert Tuning.from_dict({"settle_levels": 2.0, "settle_window": 5}).settle_window == 5
    assert Tuning().settle_patience == 2
    assert Tuning.from_dict({"settle_patience": 3}).settle_patience == 3
    for bad in (0, 101):
        with pytest.raises(SettingsError, match="settle_patience"):
            Tuning(settle_patience=bad).validate()
