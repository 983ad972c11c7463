"""The optimization loop: move an image downhill on an objective, one step at a time.

`minimize` is a generator: it yields an `Iterate` after every step and ends when the steps are
done, the loss has stopped improving (early stop) or a stop was requested. All its state lives
in its locals; the best image so far travels in each `Iterate`, so a caller that stops reading
keeps the best picture it was shown. The image stays in [0, 1] after every step: what is saved
is what was optimized.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from nst_core.painting.optim import BoxLBFGS, Preconditioner
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning


@dataclass(frozen=True)
class Iterate:
    """The run after one step, as a person may see it: only accepted points (an optimizer may
    evaluate a point and reject it, nst_core.painting.optim)."""

    step: int  # 1-based within this call
    losses: dict[str, float]  # the weighted terms and "total" of `image`
    image: torch.Tensor  # the newest accepted image, (1, 3, H, W); do not modify
    best: torch.Tensor  # the lowest-loss image so far, (1, 3, H, W); do not modify
    best_losses: dict[str, float]  # the terms of `best`
    converged: bool  # the early stop fired at this step: no more will come
    rejected: bool = False  # the point this step evaluated was rejected
    evaluated: float = math.nan  # the total loss of the point this step evaluated
    #: the step at which the picture rule is expected to end the run (None: not yet known)
    expected_steps: int | None = None


class NonFiniteLoss(ArithmeticError):
    def __init__(self, step: int, value: float):
        self.step, self.value = step, value
        super().__init__(f"the loss became {value} at step {step}")


#: The relative error of the network's gradient in each precision, which a curvature pair must
#: stand clear of (nst_core.painting.optim): bfloat16's measured 6-13%
#: (docs/decisions/precision.md),
#: float16's three more mantissa bits an eighth of it.
GRADIENT_NOISE = {"bfloat16": 0.1, "bfloat16-emulated": 0.1, "float16": 0.0125}


def make_optimizer(x: torch.Tensor, settings: TransferSettings, tuning: Tuning,
                   precision: str = "float32",
                   coarser: torch.optim.Optimizer | None = None,
                   gamma: float | None = None) -> torch.optim.Optimizer:
    """The optimizer for image `x` (1, 3, H, W), which must require grad. `precision` names
    the dtype the network's forward runs in; `coarser` is the optimizer of the scale (or
    frame) this image was started from, whose H0 scale the first step takes; `gamma`, an H0
    scale known for this image already (a render continued from its checkpoint)."""
    if settings.optimizer == "adam":
        return torch.optim.Adam([x], lr=settings.lr)
    if tuning.lbfgs == "torch":  # the textbook optimizer: unit steps, no line search
        return torch.optim.LBFGS([x], lr=settings.lr, max_iter=1,
                                 history_size=tuning.lbfgs_history, tolerance_grad=-1.0,
                                 tolerance_change=-1.0)
    long_side = max(x.shape[-2:])
    precond = Preconditioner(x.shape, [(f * long_side, c) for f, c in tuning.precondition],
                             x.device) if tuning.precondition else None
    if gamma is None and isinstance(coarser, BoxLBFGS) and coarser.gamma is not None:
        # the losses are means over pixels, so H0's scale grows with their number
        before = coarser.param_groups[0]["params"][0]
        gamma = coarser.gamma * x[0, 0].numel() / before[0, 0].numel()
    return BoxLBFGS([x], lr=settings.lr, history_size=tuning.lbfgs_history,
                    preconditioner=precond, noise=GRADIENT_NOISE.get(str(precision), 0.0),
                    gamma=gamma)


#: Windows the picture rule's prediction measures the movement's decay over: the latest ones,
#: as the first windows after the reference decay faster than the later (a prediction from the
#: reference on ended scales 20-30% too soon, benchmarks/eta.py).
DECAY_WINDOWS = 3


def _expected_end(step: int, every: int, movements: list[float], settle: float,
                  windows_left: int, steps: int) -> int:
    """The step at which the picture rule should fire, if the picture's movement per window
    (`movements`: the reference window's first, this one's last) keeps decaying at the
    geometric rate of the latest windows."""
    reference, moved = movements[0], movements[-1]
    if moved <= 0 or reference <= 0:
        return step
    k = min(DECAY_WINDOWS, len(movements) - 1)
    if movements[-1 - k] <= 0:
        return step
    rate = (moved / movements[-1 - k]) ** (1.0 / k)
    if rate >= 1.0:
        return steps
    below = moved <= settle * reference
    # windows until one moves by at most settle * reference, then the patience's windows
    until = 0 if below else math.ceil(math.log(settle * reference / moved) / math.log(rate))
    more = until + max(windows_left - (0 if below else 1), 0)
    return min(steps, step + every * max(more, 1))


def minimize(x: torch.Tensor, loss_terms: Callable[[torch.Tensor], dict[str, torch.Tensor]],
             opt: torch.optim.Optimizer, steps: int, stop: threading.Event,
             early_stop: float = 0.0, window: int = 20, settle: float = 0.0,
             settle_every: int = 10, settle_patience: int = 1) -> Iterator[Iterate]:
    """Take up to `steps` optimizer steps on `x` (in place), yielding after each.

    `loss_terms(x)` returns the weighted terms with "total". What is yielded is the newest
    accepted point and the best one: a point the optimizer rejects (`opt.accepted` false after
    its step, nst_core.painting.optim) is never shown, counted by the rules below or kept.
    Early stop:
    once more than `window` steps are done, stop when the best loss improved by less than
    `early_stop` (a fraction) over the last `window` steps.

    The picture rule (`settle`, a fraction): the picture's movement over each `settle_every`
    steps is the mean absolute difference from the picture `settle_every` steps before. The
    first such window holds the jump away from the start and is ignored; the second is the
    reference. Stop once `settle_patience` windows in a row each move the picture by at most
    `settle` times the reference: it has stopped changing in a way a person would see, while the
    loss may still creep down. Relative to the run's own pace, so one threshold serves every
    size, pair and precision (docs/decisions/picture-rule.md). Raises `NonFiniteLoss` on a NaN
    or infinite loss; the best image is then the one in the last `Iterate`."""
    best_loss = math.inf
    best = x.detach().clone()
    best_terms: dict[str, float] = {}
    evaluated = best  # the image the newest loss belongs to
    last: dict[str, float] = {}
    shown, shown_terms = best, {}  # the newest accepted image and its terms
    bests: list[float] = []
    window = min(window, steps)
    snapshot = x.detach().clone() if settle > 0 else None  # the picture settle_every ago
    reference: float | None = None  # the picture's movement in the second window
    movements: list[float] = []  # the movement of every window from the reference on
    quiet = 0  # windows in a row that moved it by at most settle * reference
    expected: int | None = None  # when the rule will fire, from the movement's decay

    def closure() -> torch.Tensor:
        nonlocal best_loss, best, best_terms, evaluated
        opt.zero_grad(set_to_none=True)
        terms = loss_terms(x)
        names = list(terms)
        values = torch.stack([terms[n].detach() for n in names]).tolist()  # one device sync
        last.clear()
        last.update(zip(names, values))
        total = terms["total"]
        if not math.isfinite(last["total"]):
            return total
        evaluated = x.detach().clone()
        if last["total"] < best_loss:
            best_loss, best, best_terms = last["total"], evaluated, dict(last)
        total.backward()
        return total

    for i in range(1, steps + 1):
        if stop.is_set():
            return
        opt.step(closure)
        if not math.isfinite(last.get("total", math.nan)):
            raise NonFiniteLoss(i, last.get("total", math.nan))
        with torch.no_grad():
            x.clamp_(0, 1)
        accepted = getattr(opt, "accepted", True)
        if accepted or not shown_terms:
            shown, shown_terms = evaluated, dict(last)
        bests.append(best_loss)
        converged = (early_stop > 0 and i > window and i < steps
                     and bests[-1 - window] - bests[-1] < early_stop * bests[-1 - window])
        if snapshot is not None and i % settle_every == 0 and i < steps:
            with torch.no_grad():
                moved = float((shown - snapshot).abs().mean())
                snapshot = shown
            if i == 2 * settle_every:
                reference = moved
                movements.append(moved)
            elif reference is not None:
                movements.append(moved)
                quiet = quiet + 1 if moved <= settle * reference else 0
                converged = converged or quiet >= settle_patience
                expected = _expected_end(i, settle_every, movements, settle,
                                         settle_patience - quiet, steps)
        yield Iterate(i, dict(shown_terms), shown, best, dict(best_terms), converged,
                      rejected=not accepted, evaluated=last["total"],
                      expected_steps=expected)
        if converged:
            return
