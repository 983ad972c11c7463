"""The engine's optimizer: preconditioned L-BFGS in a box (nst_core.painting.optim)."""
from __future__ import annotations

import math

import pytest
import torch

from nst_core.painting.optim import BoxLBFGS, Preconditioner


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

    from nst_core.painting.optimize import minimize

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
    from nst_core.base.errors import SettingsError

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


# ---- steps that cannot blow up twice (docs/decisions/optimizer.md) -------------------------
def _spiking(opt, x, f, spike_at: int):
    """A closure for `opt` on loss `f` that returns a huge loss once, at call `spike_at`."""
    calls = [0]

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        calls[0] += 1
        return torch.tensor(1e6) if calls[0] == spike_at else loss

    return closure


def test_a_rejected_step_drops_the_pairs_and_bounds_the_next_step():
    g = torch.Generator().manual_seed(3)
    target = (0.5 + 0.2 * torch.randn(1, 3, 8, 8, generator=g)).clamp(0, 1)
    x = torch.full_like(target, 0.5).requires_grad_(True)
    opt = BoxLBFGS([x], history_size=10)
    closure = _spiking(opt, x, _quadratic(target, smooth=1.0), spike_at=6)
    for _ in range(5):
        opt.step(closure)
        assert opt.accepted
    assert len(opt.pairs) >= 3
    before = opt._prev[0].clone()  # the last accepted point
    proposed = x.detach().reshape(-1).clone()
    opt.step(closure)  # evaluates `proposed`: 1e6, rejected
    assert not opt.accepted and opt.rejected == 1
    assert len(opt.pairs) == 0  # the model that proposed the jump is gone
    half = x.detach().reshape(-1).clone()
    assert torch.allclose(half, (before + proposed) / 2)
    opt.step(closure)  # the halfway point is accepted; the next step is no longer than it
    assert opt.accepted
    step = x.detach().reshape(-1) - half
    assert float(step.norm()) <= float((half - before).norm()) * (1 + 1e-5)


def test_a_pair_within_the_gradient_noise_is_not_learnt():
    """s.y = 1e-3 |s|^2 from a first step of |s| = 0.01 on gradients of length ~1: a bf16
    gradient's noise (10%) could put 0.1 * 0.1 * |s| * 2 there, so it is not curvature."""
    from nst_core.painting.optim import NOISE_ALONG_STEP

    def two_steps(noise: float) -> BoxLBFGS:
        x = torch.full((1, 1, 10, 10), 0.5, requires_grad=True)
        opt = BoxLBFGS([x], noise=noise)
        start = {}

        def closure():
            opt.zero_grad()
            g = torch.full_like(x, 0.1)  # |g| = 1
            if "x" in start:  # y = 1e-3 s: almost no curvature along the step
                g = g + 1e-3 * (x.detach() - start["x"])
            start.setdefault("x", x.detach().clone())
            x.grad = g
            return torch.tensor(1.0)

        opt.step(closure)
        opt.step(closure)
        return opt

    assert NOISE_ALONG_STEP * 0.1 * 2 > 1e-3 * 0.01  # the floor, per unit of |s|, is above s.y
    noisy = two_steps(0.1)
    assert len(noisy.pairs) == 0 and noisy.skipped == 1
    exact = two_steps(0.0)  # in float32 the same pair is curvature
    assert len(exact.pairs) == 1 and exact.skipped == 0


def test_a_finer_scale_starts_from_the_coarser_scales_curvature(tiny_settings):
    """The losses are means over pixels, so H0's scale is per pixel: a scale with 4x the
    pixels starts with 4x the coarser gamma, and its first step is a real step, not a probe."""
    from nst_core import Tuning
    from nst_core.painting.optimize import make_optimizer

    coarse = torch.rand(1, 3, 8, 12, requires_grad=True)
    opt = make_optimizer(coarse, tiny_settings, Tuning())
    assert opt.gamma is None
    opt._gamma = torch.tensor(0.25)
    fine = torch.full((1, 3, 16, 24), 0.5, requires_grad=True)
    finer = make_optimizer(fine, tiny_settings, Tuning(), "bfloat16", coarser=opt)
    assert finer.gamma == pytest.approx(1.0) and finer.noise == 0.1
    assert make_optimizer(fine, tiny_settings, Tuning()).noise == 0.0

    def closure():
        finer.zero_grad()
        fine.grad = torch.full_like(fine, 1e-3)
        return torch.tensor(1.0)

    finer.step(closure)  # -gamma P g: 1e-3 * (1 + the blurs' mass) per pixel, not 1/|g|_1
    moved = (0.5 - fine.detach()).mean()
    mass = 1 + sum(c for _, c in Tuning().precondition)
    assert float(moved) == pytest.approx(1e-3 * mass, rel=0.1)


class _WildOnce(torch.optim.SGD):
    """Gradient descent that proposes a wild point once (after step `at`) and rejects it when
    it is evaluated, as BoxLBFGS rejects an overshooting step: `accepted` is false then."""

    def __init__(self, params, lr: float, at: int):
        super().__init__(params, lr=lr)
        self.at, self.n, self.accepted, self.saved = at, 0, True, None

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        x = self.param_groups[0]["params"][0]
        self.n += 1
        if self.saved is not None:  # the wild point was just evaluated: take it back
            x.copy_(self.saved)
            self.saved, self.accepted = None, False
            return loss
        self.accepted = True
        super().step()
        if self.n == self.at:
            self.saved = x.detach().clone()
            x.copy_(1 - x)
        return loss


def test_the_preview_the_losses_and_the_picture_rule_skip_a_rejected_point():
    """As in the picture-rule test above (0.9 per step; 0.25 stops at step 40), with a wild
    point proposed at step 30, a window's end, and rejected at step 31. No iterate shows it,
    and the rule, which compares accepted pictures, still stops at step 40 (the fourth window
    moved the picture 9 steps' worth, 0.9^20 of the reference's); had it compared the wild
    picture at step 30, windows 3 and 4 would each have moved it more than the reference."""
    import threading

    from nst_core.painting.optimize import minimize

    target = torch.rand((1, 3, 16, 16), generator=torch.Generator().manual_seed(0))

    def loss(im):
        return {"total": ((im - target) ** 2).sum()}

    x = (0.5 * target).requires_grad_(True)
    seen = list(minimize(x, loss, _WildOnce([x], lr=0.05, at=30), 400, threading.Event(),
                         settle=0.25, settle_every=10, settle_patience=1))
    wild = seen[30].evaluated  # what step 31 evaluated: 1 - x, far from the target
    assert wild > 2 * seen[0].losses["total"]
    assert [it.step for it in seen if it.rejected] == [31]
    assert seen[30].losses == seen[29].losses and seen[30].image is seen[29].image
    assert all(it.losses["total"] < 0.5 * wild for it in seen)
    assert all(float((it.image - target).abs().max()) <= 0.5 for it in seen)
    assert [it.step for it in seen if it.converged] == [40]
    assert seen[-1].best_losses["total"] == min(it.losses["total"] for it in seen)
