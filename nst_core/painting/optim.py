"""L-BFGS for an image whose pixels live in a box, [0, 1], one loss evaluation per step.

Three things `torch.optim.LBFGS` (no line search, as Gatys et al. and most implementations run
it) cannot do (docs/decisions/optimizer.md):

- A preconditioner. L-BFGS starts every step from H0 = gamma * I and corrects it with at most
  `history` curvature pairs, a few dozen directions out of a million pixels. Here
  H0 = gamma * P with P = I + sum_l c_l * G_{sigma_l}, zero-padded Gaussian blurs (symmetric,
  and positive definite since the spectrum is 1 + a sum of Gaussians). It lengthens the steps
  in the smooth directions that the network's loss responds to weakly, where plain L-BFGS
  crawls. Applied as one FFT product.
- The box. After each step the image is clamped to [0, 1]; the curvature pair records the step
  actually taken (torch records the unclamped one), and pixels that sit on a bound with the
  gradient pushing outwards are held out of the step.
- Steps that cannot blow up twice. Without a line search a step sometimes lands on a much
  higher loss. A step whose loss is more than `max_increase` times the lowest so far is
  rejected: the image goes back halfway along it (a backtracking line search, one evaluation
  per halving), the curvature pairs that proposed it are dropped, and later steps may be no
  longer than the step that was finally accepted, a limit that doubles with each accepted step
  (a trust region). The cause is a pair whose s.y is wrong: learnt from a tiny step, its 1/s.y
  sends the next step far along it, and kept, it sends every later one there too.
- Gradient noise. In bfloat16 the network's gradient is off by 6-13% of its length (rounding,
  not bias), so a pair from a short step measures the rounding, not the curvature (the first
  step of a scale: its y was 170% noise). A pair is learnt only when s.y stands clear of what
  the noise can put there: `noise` times the two gradients' lengths times |s|, times the share
  of the noise that lies along the step. The first step of a scale that refines a coarser
  picture takes the coarser scale's gamma (per pixel: the losses are means, so gamma grows with
  the pixel count), not a tiny probe.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Callable, Sequence

import torch


class Preconditioner:
    """P v = v + sum_l c_l * (G_{sigma_l} * v): Gaussian blurs with zero padding, applied per
    channel through the FFT. `sigmas` are in pixels."""

    def __init__(self, shape: Sequence[int], blurs: Sequence[tuple[float, float]],
                 device: torch.device | str = "cpu"):
        *_, h, w = shape
        reach = int(math.ceil(4 * max((s for s, _ in blurs), default=0.0)))
        self.h, self.w = h, w
        self.ph, self.pw = h + reach, w + reach  # wrap-around: below 1e-3 of the peak
        fy = torch.fft.fftfreq(self.ph, device=device).view(-1, 1) * (2 * math.pi)
        fx = torch.fft.rfftfreq(self.pw, device=device).view(1, -1) * (2 * math.pi)
        w2 = fy * fy + fx * fx  # squared angular frequency
        spectrum = torch.ones_like(w2)
        for sigma, coef in blurs:
            spectrum += coef * torch.exp(-0.5 * sigma * sigma * w2)
        self.spectrum = spectrum

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """P applied to `v`, a tensor whose last two dimensions are (h, w)."""
        f = torch.fft.rfft2(v, s=(self.ph, self.pw))
        return torch.fft.irfft2(f * self.spectrum, s=(self.ph, self.pw))[..., : self.h, : self.w]


#: The share of a gradient's noise that lies along a step: measured about 0.02 for the first
#: step of a scale in bfloat16 (its s.y was 8x the float32 s.y); five times that is allowed.
NOISE_ALONG_STEP = 0.1


class BoxLBFGS(torch.optim.Optimizer):
    """L-BFGS on one contiguous tensor kept inside [lo, hi]; `step(closure)` evaluates the loss
    once (the closure zeroes the gradient, computes the loss and calls backward) and moves the
    tensor.

    After each step, `accepted` says whether the point just evaluated was kept (a rejected one
    is never the start of a step, and callers show only accepted points). `noise` is the
    relative error of the gradients (0 in float32); `gamma` starts H0's scale where a coarser
    scale measured it."""

    def __init__(self, params, lr: float = 1.0, history_size: int = 50, lo: float = 0.0,
                 hi: float = 1.0, preconditioner: Preconditioner | None = None,
                 max_increase: float = 1.5, noise: float = 0.0, gamma: float | None = None):
        super().__init__(params, dict(lr=lr))
        group = self.param_groups[0]
        if len(self.param_groups) != 1 or len(group["params"]) != 1:
            raise ValueError("BoxLBFGS optimizes exactly one tensor")
        self.lo, self.hi = lo, hi
        self.P = preconditioner
        self.max_increase = max_increase
        self.noise = noise
        Pair = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # s, y, 1 / (s . y)
        self.pairs: deque[Pair] = deque(maxlen=history_size)
        self._prev: tuple[torch.Tensor, torch.Tensor] | None = None  # accepted x and its gradient
        self._gamma: torch.Tensor | None = None  # H0 = gamma P, gamma from the newest pair
        self._start_gamma = gamma  # H0's scale before any pair is learnt
        self.radius = math.inf  # the longest step allowed (a trust region after a rejection)
        self.best = math.inf  # lowest loss accepted so far
        self.steps = 0
        self.rejected = 0  # steps taken back by half
        self.skipped = 0  # pairs not learnt: their s.y was within the gradient's noise
        self.accepted = True  # whether the last evaluated point was kept

    @property
    def gamma(self) -> float | None:
        """H0's scale now (None before any curvature is known)."""
        if self._gamma is not None:
            return float(self._gamma)
        return self._start_gamma

    def kept_state(self, max_bytes: int) -> dict:
        """What a checkpoint keeps of this optimizer: its scalars, the last accepted point and
        its gradient, and the newest curvature pairs that fit in `max_bytes`."""
        pairs = list(self.pairs)
        each = 2 * pairs[0][0].numel() * pairs[0][0].element_size() if pairs else 1
        keep = pairs[len(pairs) - min(len(pairs), max_bytes // each):] if pairs else []
        cpu = lambda t: t.detach().to("cpu")  # noqa: E731
        return {"pairs": [[cpu(s), cpu(y), float(rho)] for s, y, rho in keep],
                "prev": None if self._prev is None else [cpu(t) for t in self._prev],
                "gamma": None if self._gamma is None else float(self._gamma),
                "radius": self.radius, "best": self.best, "steps": self.steps,
                "rejected": self.rejected, "skipped": self.skipped}

    def restore(self, state: dict) -> None:
        """Take back what `kept_state` kept (for the same image's size)."""
        x = self.param_groups[0]["params"][0]
        dev = x.device
        for s, y, rho in state["pairs"]:
            if s.numel() != x.numel() or y.numel() != x.numel():
                raise ValueError("a curvature pair of another size")
            self.pairs.append((s.to(dev), y.to(dev), torch.tensor(rho, device=dev)))
        if state["prev"] is not None:
            self._prev = tuple(t.to(dev).reshape(-1) for t in state["prev"])  # type: ignore
        if state["gamma"] is not None:
            self._gamma = torch.tensor(state["gamma"], device=dev)
        self.radius, self.best = float(state["radius"]), float(state["best"])
        self.steps, self.rejected = int(state["steps"]), int(state["rejected"])
        self.skipped = int(state["skipped"])

    def _precondition(self, v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if self.P is None:
            return v
        return self.P(v.view(like.shape)).reshape(-1)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        with torch.enable_grad():
            loss = closure()
        x = self.param_groups[0]["params"][0]
        lr = self.param_groups[0]["lr"]
        f = float(loss)
        self.accepted = False
        if x.grad is None or not math.isfinite(f):
            return loss  # nothing to learn from; the caller decides what a bad loss means
        flat = x.view(-1)
        g = x.grad.reshape(-1).clone()
        if self._prev is not None:
            px, pg = self._prev
            if f > self.best + (self.max_increase - 1.0) * abs(self.best):  # overshot
                self.rejected += 1  # try half the step instead, with a model that is not
                self.pairs.clear()  # the one that proposed it (H0's scale stays)
                flat.copy_(px + 0.5 * (flat - px))
                self.radius = float((flat - px).norm())
                return loss
            s, y = flat - px, g - pg
            ys = y.dot(s)
            floor = (self.noise * NOISE_ALONG_STEP * float(s.norm())
                     * (float(g.norm()) + float(pg.norm())))
            if float(ys) > max(1e-10 * float(s.norm() * y.norm()), floor):  # curvature seen
                self.pairs.append((s, y, 1.0 / ys))
                self._gamma = ys / y.dot(self._precondition(y, x))  # H0 scale: s.y / y.P y
            elif float(ys) > 0:
                self.skipped += 1
        self.accepted = True

        outward = ((flat <= self.lo) & (g > 0)) | ((flat >= self.hi) & (g < 0))
        q = g.masked_fill(outward, 0.0)
        # The two-loop recursion with its scalars kept on the device: no host round trip per
        # pair (on a GPU each would stall the queue).
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * s.dot(q)
            q.addcmul_(y, a, value=-1.0)
            alphas.append(a)
        r = self._precondition(q, x)
        gamma = self._gamma if self._gamma is not None else self._start_gamma
        if gamma is not None:
            r.mul_(gamma)
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            r.addcmul_(s, a - rho * y.dot(r))
        d = r.neg_().masked_fill_(outward, 0.0)
        if gamma is None:  # no curvature to go by: a small step, as torch's L-BFGS takes,
            # 16 times longer each time its pair is lost in the noise
            t = lr * min(1.0, 1.0 / max(float(g.abs().sum()), 1e-12)) * 16.0 ** self.skipped
        else:
            t = lr
        if math.isfinite(self.radius):  # the trust region after a rejection
            length = float(d.norm()) * t
            if length > self.radius:
                t *= self.radius / length
            self.radius *= 2.0
        self._prev = (flat.clone(), g)
        self.best = min(self.best, f)
        flat.add_(d, alpha=t).clamp_(self.lo, self.hi)
        self.steps += 1
        return loss
