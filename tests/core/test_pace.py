"""Time left (nst_core.painting.pace) and the picture rule's predicted end
(nst_core.painting.optimize)."""
from __future__ import annotations

import threading

import pytest
import torch

from nst_core.painting.pace import RULED_SHARE, IterationCost, StillPace, estimate_seconds


def test_the_picture_rule_predicts_where_it_ends():
    """Gradient descent that shrinks the error by 0.9 a step moves the picture 0.349 of the
    window before per 10-step window. At step 30 the third window moved 0.349 of the reference,
    above 0.25: one more window gets below (0.122), and the patience of two wants one more
    quiet window after it: the rule ends at step 50, as it does."""
    from nst_core.painting.optimize import minimize

    target = torch.rand((1, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    x = torch.zeros_like(target).requires_grad_(True)
    seen = list(minimize(x, lambda im: {"total": ((im - target) ** 2).sum()},
                         torch.optim.SGD([x], lr=0.05), 400, threading.Event(), settle=0.25,
                         settle_every=10, settle_patience=2))
    assert all(it.expected_steps is None for it in seen[:29])
    assert seen[29].expected_steps == 50 and seen[39].expected_steps == 50
    assert seen[-1].step == 50 and seen[-1].converged


def test_the_predicted_end_follows_the_latest_decay():
    """Movements 1, 0.4, 0.2, 0.13, 0.1 of the reference at step 60: the last three windows
    decay by (0.1 / 0.4) ** (1/3) = 0.63 a window, slower than the 0.56 measured from the
    reference. Below 0.012 of the reference takes ceil(ln 0.12 / ln 0.63) = 5 more windows
    (from the reference: ceil(3.7) = 4): the rule fires at step 110, not 100."""
    from nst_core.painting.optimize import _expected_end

    assert _expected_end(60, 10, [1.0, 0.4, 0.2, 0.13, 0.1], 0.012, 1, 400) == 110
    assert _expected_end(60, 10, [1.0, 0.4, 0.2, 0.13, 0.1], 0.012, 1, 105) == 105  # capped
    assert _expected_end(30, 10, [1.0, 1.2], 0.25, 2, 400) == 400  # no decay: all planned


def test_the_still_pace_by_hand():
    """Scales of 10,000 and 40,000 px planned 10 and 30 iterations, the second ruled. The
    model says 0.01 + 1e-6 px s: 0.02 s and 0.05 s. The run measures 0.04 s at the first
    scale (twice the model): the second scale's expected 15 iterations (half of 30) are then
    costed at 2 x 0.05 s, and the ratio carries over into it until measured there."""
    assert RULED_SHARE == 0.5
    cost = IterationCost(0.01, 1e-6)
    sizes, planned, ruled = [(100, 100), (200, 200)], [10, 30], [False, True]
    assert estimate_seconds(sizes, planned, ruled, cost) == pytest.approx(10 * 0.02 + 15 * 0.05)
    pace = StillPace(sizes, planned, ruled, cost)
    t = 0.0
    for step in range(1, 5):  # a scale's first call only starts the clock
        left = pace.step(0, step, 10, None, now=t)
        t += 0.04
    assert left == pytest.approx(6 * 0.04 + 15 * 0.05 * 2)
    # the next scale's first call: no jump, its pace is the model's times the measured ratio
    assert pace.step(1, 1, 30, None, now=t) == pytest.approx(14 * 0.1)
    # the rule predicts the end at step 22: trusted a third after one window
    # (end = 2/3 * 15 + 1/3 * 22), half after two different predictions
    assert pace.step(1, 2, 30, 22, now=t + 0.1) == pytest.approx((2 / 3 * 15 + 22 / 3 - 2) * 0.1)
    assert pace.step(1, 3, 30, 25, now=t + 0.2) == pytest.approx((15 / 2 + 25 / 2 - 3) * 0.1)
