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

from .optim import BoxLBFGS, Preconditioner
from .settings import TransferSettings
from .tuning import Tuning


@dataclass(frozen=True)
class Iterate:
    step: int  # 1-based within this call
    losses: dict[str, float]  # the weighted terms and "total" at the image before the step
    best: torch.Tensor  # the lowest-loss image so far, (1, 3, H, W); do not modify
    converged: bool  # the early stop fired at this step: no more will come


class NonFiniteLoss(ArithmeticError):
    def __init__(self, step: int, value: float):
        self.step, self.value = step, value
        super().__init__(f"the loss became {value} at step {step}")


def make_optimizer(x: torch.Tensor, settings: TransferSettings,
                   tuning: Tuning) -> torch.optim.Optimizer:
    """The optimizer for image `x` (1, 3, H, W), which must require grad."""
    if settings.optimizer == "adam":
        return torch.optim.Adam([x], lr=settings.lr)
    if tuning.lbfgs == "torch":  # the textbook optimizer: unit steps, no line search
        return torch.optim.LBFGS([x], lr=settings.lr, max_iter=1,
                                 history_size=tuning.lbfgs_history, tolerance_grad=-1.0,
                                 tolerance_change=-1.0)
    long_side = max(x.shape[-2:])
    precond = Preconditioner(x.shape, [(f * long_side, c) for f, c in tuning.precondition],
                             x.device) if tuning.precondition else None
    return BoxLBFGS([x], lr=settings.lr, history_size=tuning.lbfgs_history,
                    preconditioner=precond)


def minimize(x: torch.Tensor, loss_terms: Callable[[torch.Tensor], dict[str, torch.Tensor]],
             opt: torch.optim.Optimizer, steps: int, stop: threading.Event,
             early_stop: float = 0.0, window: int = 20, settle: float = 0.0,
             settle_every: int = 10, settle_patience: int = 1) -> Iterator[Iterate]:
    """Take up to `steps` optimizer steps on `x` (in place), yielding after each.

    `loss_terms(x)` returns the weighted terms with "total". Early stop: once more than
    `window` steps are done, stop when the best loss improved by less than `early_stop` (a
    fraction) over the last `window` steps.

    The picture rule (`settle`, a fraction): the picture's movement over each `settle_every`
    steps is the mean absolute difference from the picture `settle_every` steps before. The
    first such window holds the jump away from the start and is ignored; the second is the
    reference. Stop once `settle_patience` windows in a row each move the picture by at most
    `settle` times the reference: it has stopped changing in a way a person would see, while the
    loss may still creep down.
    Relative to the run's own pace, so one threshold serves every size, pair and precision
    (benchmarks/RESULTS.md, "#12"). Raises `NonFiniteLoss` on a NaN or infinite loss; the best
    image is then the one in the last `Iterate`."""
    best_loss = math.inf
    best = x.detach().clone()
    last: dict[str, float] = {}
    bests: list[float] = []
    window = min(window, steps)
    snapshot = x.detach().clone() if settle > 0 else None  # the picture settle_every ago
    reference: float | None = None  # the picture's movement in the second window
    quiet = 0  # windows in a row that moved it by at most settle * reference

    def closure() -> torch.Tensor:
        nonlocal best_loss, best
        opt.zero_grad(set_to_none=True)
        terms = loss_terms(x)
        names = list(terms)
        values = torch.stack([terms[n].detach() for n in names]).tolist()  # one device sync
        last.clear()
        last.update(zip(names, values))
        total = terms["total"]
        if not math.isfinite(last["total"]):
            return total
        if last["total"] < best_loss:  # x is the image this loss belongs to
            best_loss = last["total"]
            best = x.detach().clone()
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
        bests.append(best_loss)
        converged = (early_stop > 0 and i > window and i < steps
                     and bests[-1 - window] - bests[-1] < early_stop * bests[-1 - window])
        if snapshot is not None and i % settle_every == 0 and i < steps:
            with torch.no_grad():
                moved = float((x - snapshot).abs().mean())
                snapshot = x.detach().clone()
            if i == 2 * settle_every:
                reference = moved
            elif reference is not None:
                quiet = quiet + 1 if moved <= settle * reference else 0
                converged = converged or quiet >= settle_patience
        yield Iterate(i, dict(last), best, converged)
        if converged:
            return
