"""One style-transfer run: settings in, a stream of `Progress` events, a `TransferResult` out.

    job = StyleTransfer(settings)        # validates, loads the images, plans the scales
    for event in job.events():           # Progress, one per iteration
        ...                              # job.request_stop() from any thread ends it early
    job.result                           # TransferResult (the best image so far if stopped)

`run_transfer(settings, on_progress=..., stop=...)` is the blocking form. The image is optimized
directly (Gatys et al. 2016) in RGB 0..1 and projected back into range after every step, so what
is saved is what was optimized; L-BFGS is preconditioned and respects that box (nst_core.optim).
Coarse-to-fine: the first scales run on smaller copies and each result, upsampled, with the
photo's finer detail added back, starts the next scale.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from . import color
from .errors import DeviceError, ImageError, OutOfMemoryError, RunFailedError
from .images import LoadedImage, fit_long_side, load_image, resize
from .layers import pooling_depth
from .losses import ContentLoss, StyleLoss, tv_loss
from .optim import BoxLBFGS, Preconditioner
from .settings import TransferSettings
from .vgg import VGGFeatures, load_conv_state

log = logging.getLogger(__name__)

#: Coarse scales whose long side would fall below this are skipped.
MIN_SCALE_SIDE = 64
#: How the iterations are shared between scales: each scale gets this many times the
#: iterations of the next finer one (a coarse iteration costs a quarter of the next one's).
COARSE_RATIO = 0.3  # tuned on quality per second at 512 px: benchmarks/RESULTS.md
#: L-BFGS memory (curvature pairs kept) and its preconditioner: (sigma, weight) of each
#: Gaussian blur in P = I + sum weight * blur, sigma as a fraction of the scale's long side
#: (see nst_core.optim; tuned on quality per second at 512 px: benchmarks/RESULTS.md).
LBFGS_HISTORY = 50
PRECONDITION: tuple[tuple[float, float], ...] = ((1 / 128, 3.0), (1 / 32, 8.0))
#: When a scale starts from the coarser scale's result, add back the photo's detail that the
#: coarser scale could not hold (the photo minus its own copy at the coarser size), so the
#: finer scale starts with its content in place and spends its iterations on the style.
CARRY_DETAIL = True
#: Early stop looks at the best loss over this many iterations.
EARLY_STOP_WINDOW = 20


def _fast_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), where oneDNN's bf16
    convolutions run about 1.8x faster than float32 (benchmarks/RESULTS.md). Elsewhere bf16
    would be emulated and slower."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # a private API: absent means no
        return False


#: Autocast dtype for the network's forward per device type (None: float32). The losses
#: always run in float32. CUDA's bf16 is not yet measured on a GPU: see benchmarks/RESULTS.md.
AUTOCAST: dict[str, torch.dtype | None] = {
    "cuda": torch.bfloat16, "cpu": torch.bfloat16 if _fast_cpu_bf16() else None, "mps": None}


@dataclass
class Progress:
    """What a run reports after each iteration."""

    iteration: int  # 1-based, counted over all scales
    total: int  # iterations in the whole run
    scale: int  # 0-based index of the current scale
    scales: int  # number of scales
    size: tuple[int, int]  # (width, height) of the image at this scale
    losses: dict[str, float]  # weighted terms: content, style, tv, and total
    elapsed: float  # seconds since the run started
    eta: float | None  # estimated seconds left, None until measurable
    preview: np.ndarray | None = None  # (H, W, 3) uint8 every `preview_every` iterations


@dataclass
class TransferResult:
    image: np.ndarray  # (H, W, 3) uint8 at the output size
    settings: TransferSettings
    losses: list[dict[str, float]] = field(default_factory=list)  # one per iteration
    timings: dict[str, float] = field(default_factory=dict)  # seconds: setup, optimize, total
    iterations: int = 0  # iterations done
    stopped: bool = False  # stopped early on request
    device: str = "cpu"
    alpha: np.ndarray | None = None  # the content's transparency at the output size, if any


@dataclass(frozen=True)
class Scale:
    size: tuple[int, int]  # (w, h)
    iterations: int


def resolve_device(choice: str) -> torch.device:
    """'auto' -> CUDA, then Apple MPS, then CPU; an explicit choice must be available."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if has_mps else torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise DeviceError("CUDA was chosen but no CUDA GPU is available here; choose auto or cpu")
    if choice == "mps" and not has_mps:
        raise DeviceError("Apple MPS was chosen but is not available here; choose auto or cpu")
    return torch.device(choice)


def available_devices() -> list[str]:
    """The device choices that work on this machine, 'auto' first."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps and mps.is_available():
        out.append("mps")
    return out


def plan_scales(settings: TransferSettings, content_size: tuple[int, int]) -> list[Scale]:
    """Sizes and iterations of each scale, coarse to fine. Each scale is half the next; each
    gets COARSE_RATIO times the iterations of the next finer one, and every scale at least one."""
    w, h = content_size
    longs = [settings.size]
    if settings.multiscale:
        for k in range(1, settings.scales):
            side = round(settings.size / 2**k)
            if side < MIN_SCALE_SIDE:
                break
            longs.insert(0, side)
    n = min(len(longs), settings.iterations)
    longs = longs[-n:]
    shares = [COARSE_RATIO ** (n - 1 - i) for i in range(n)]
    counts = [max(1, int(settings.iterations * sh / sum(shares))) for sh in shares]
    counts[-1] += settings.iterations - sum(counts)  # rounding goes to the finest scale
    while counts[-1] < 1:  # many tiny scales: take back from the coarsest that can spare
        j = max(range(n - 1), key=lambda k: counts[k])
        counts[j] -= 1
        counts[-1] += 1
    return [Scale(fit_long_side(w, h, side), c) for side, c in zip(longs, counts)]


# ---- memory --------------------------------------------------------------------------------
#: What the process needs besides the run's tensors (torch, the weights, the images): measured
#: RSS of a 64 px run on CPU is about 0.9 GiB.
_BASE_BYTES = {"cpu": 900 * 2**20, "cuda": 400 * 2**20, "mps": 900 * 2**20}


def estimate_memory(settings: TransferSettings, content_size: tuple[int, int],
                    device: str = "cpu") -> int:
    """Bytes a run needs at its peak, from the layer shapes of the final (largest) scale:
    the activations autograd keeps for the backward pass (float32, or bfloat16 where the
    network is autocast, plus max-pooling indices),
    the gradient working set, the optimizer's state and the fixed runtime."""
    from .layers import BLOCK_CHANNELS, LAYER_INDEX, LAYER_NAMES

    w, h = plan_scales(settings, content_size)[-1].size
    deepest = max(LAYER_INDEX[n] for n in settings.content_layers + settings.style_layers)
    floats, indices, largest = 3 * w * h, 0, 0
    cw, ch = w, h
    for name in LAYER_NAMES[: deepest + 1]:
        channels = BLOCK_CHANNELS[int(name[4])]  # conv1_1, relu1_1, pool1: the block
        if name.startswith("pool"):
            cw, ch = cw // 2, ch // 2
            indices += channels * cw * ch if settings.pooling == "max" else 0
        size = channels * cw * ch
        floats += size
        largest = max(largest, size)
    act_bytes = 2 if AUTOCAST.get(device) == torch.bfloat16 else 4  # autocast halves them
    activations = act_bytes * floats + 8 * indices
    gradients = 4 * 3 * largest  # a layer's output grad, input grad and accumulation buffer
    image = 4 * 3 * w * h
    optimizer = image * (2 * LBFGS_HISTORY + 10 if settings.optimizer == "lbfgs" else 6)
    side = max(w, h) * settings.style_scale  # style features are made once, not kept
    style = 4 * 2 * 64 * side * side
    return int(_BASE_BYTES.get(device, _BASE_BYTES["cpu"]) + activations + gradients + optimizer
               + max(style - activations, 0))


def available_memory(device: torch.device) -> int:
    """Bytes free for a run on `device` now, plus the fixed runtime that `estimate_memory`
    counts but this process (which has torch and the weights loaded) already holds."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]) + _BASE_BYTES["cuda"]
    import psutil

    return int(psutil.virtual_memory().available) + _BASE_BYTES["cpu"]


def largest_size_that_fits(settings: TransferSettings, content_size: tuple[int, int],
                           free: int, device: str = "cpu") -> int:
    """The largest output size (a multiple of 64, at least 64) whose estimate fits in `free`."""
    size = 64
    for candidate in range(128, settings.size + 1, 64):
        if estimate_memory(settings.replace(size=candidate), content_size, device) > free:
            break
        size = candidate
    return size


def min_side_for(settings: TransferSettings) -> int:
    """Smallest short side (pixels) at which the deepest layer still sees a 2x2 map."""
    deepest = max(pooling_depth(name) for name in settings.content_layers + settings.style_layers)
    return 2 ** (deepest + 1)


def to_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in 0..1."""
    t = torch.from_numpy(np.array(rgb, dtype=np.float32)).to(device)
    return t.permute(2, 0, 1).unsqueeze(0) / 255.0


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in 0..1 -> (H, W, 3) uint8 (a new array)."""
    x = image.detach()[0].clamp(0, 1).mul(255.0).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy().copy()


def _upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 3, h, w) -> (1, 3, *size), bicubic."""
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False)


def start_from_coarser(previous: torch.Tensor, content: torch.Tensor,
                       carry_detail: bool = True) -> torch.Tensor:
    """The start of a finer scale: the coarser scale's result upsampled to `content`'s size,
    plus (with `carry_detail`) the detail of the photo that the coarser size could not hold:
    the photo minus its own downsampled-and-upsampled copy. A coarser result that equals the
    downsampled photo thus gives back the photo itself. Not clamped."""
    size = tuple(content.shape[-2:])
    x = _upsample(previous, size)
    if carry_detail:
        coarse = F.interpolate(content, size=previous.shape[-2:], mode="area")
        x = x + (content - _upsample(coarse, size))
    return x


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(e, RuntimeError) and "out of memory" in str(e).lower()


class StyleTransfer:
    """One run. Construction validates the settings, loads the images and the network's
    weights, raising `SettingsError`, `ImageError`, `DeviceError` or `WeightsError` before any
    work starts."""

    def __init__(self, settings: TransferSettings, preview_every: int = 10):
        self.settings = settings.validate()
        self.preview_every = max(1, int(preview_every))
        self.device = resolve_device(settings.device)
        self._stop = threading.Event()
        self.result: TransferResult | None = None
        self.content = load_image(settings.content)
        self.styles = [load_image(p) for p in settings.styles]
        self.init_image = load_image(settings.init_image) if settings.init == "image" else None
        self.scales = plan_scales(settings, self.content.size)
        self._check_sizes()
        load_conv_state(settings.weights, settings.weights_path)  # cached: fails here, not mid-run
        self.memory_needed = estimate_memory(settings, self.content.size, self.device.type)
        free = available_memory(self.device)
        if self.memory_needed > free:
            w, h = self.output_size
            fits = largest_size_that_fits(settings, self.content.size, free, self.device.type)
            raise OutOfMemoryError(
                f"A {w}x{h} picture needs about {self.memory_needed / 2**30:.1f} GB of memory "
                f"but only {free / 2**30:.1f} GB is free on {self.device.type}; choose a smaller "
                f"output size (up to about {fits} px fits) or close other programs.")

    # ---- public ------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the run to stop; it does so before its next iteration. Safe from any thread."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def total_iterations(self) -> int:
        """Planned iterations, less those an early stop skipped so far."""
        return sum(s.iterations for s in self.scales) - getattr(self, "_skipped", 0)

    @property
    def output_size(self) -> tuple[int, int]:
        return self.scales[-1].size

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> TransferResult:
        for event in self.events():
            if on_progress is not None:
                on_progress(event)
        assert self.result is not None
        return self.result

    def events(self) -> Iterator[Progress]:
        """Run the optimization, yielding a `Progress` after every iteration. Sets
        `self.result`. Raises `RunFailedError` (NaN loss) or `OutOfMemoryError`, both carrying
        the last good image as `.result` when there is one."""
        t0 = time.perf_counter()
        s = self.settings
        torch.manual_seed(s.seed)
        self._gen = torch.Generator(device="cpu").manual_seed(s.seed)
        if self.device.type == "cuda":  # autotuned (deterministic) kernels, TF32 matrix maths
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.deterministic = True  # a seed repeats on the same GPU
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self._history: list[dict[str, float]] = []
        self._best: torch.Tensor | None = None  # best image of the current scale, (1, 3, H, W)
        self._scale_index = 0
        self._skipped = 0
        self._t_start = t0
        try:
            net = VGGFeatures(s.content_layers + s.style_layers, s.weights, s.weights_path,
                              s.pooling).to(self.device)
            self._timings = {"setup": time.perf_counter() - t0}
            done = 0
            x: torch.Tensor | None = None
            for k, scale in enumerate(self.scales):
                self._scale_index = k
                x = yield from self._run_scale(net, k, scale, x, done)
                done = len(self._history)
                if self._stop.is_set():
                    break
        except (RunFailedError, ImageError):
            raise
        except Exception as e:
            if _is_oom(e):
                w, h = self.scales[self._scale_index].size
                smaller = max(32, s.size // 2)
                raise OutOfMemoryError(
                    f"Not enough memory for a {w}x{h} image on {self.device.type}; choose a "
                    f"smaller output size (for example {smaller}) and start again.",
                    result=self._partial_result(stopped=True)) from None
            raise
        self._timings["total"] = time.perf_counter() - t0
        self._timings["optimize"] = self._timings["total"] - self._timings["setup"]
        self.result = self._partial_result(stopped=self._stop.is_set())

    # ---- internals ---------------------------------------------------------------------------
    def _check_sizes(self) -> None:
        need = min_side_for(self.settings)
        w, h = self.output_size
        if min(w, h) < need:
            raise ImageError(self.content.path, f"too small for the network at this output size: "
                             f"{w}x{h} gives the deepest layer less than 2x2 pixels; choose an "
                             f"output size with a short side of at least {need} px")
        for img in self.styles:
            sw, sh = self._style_size(img, self.output_size)
            if min(sw, sh) < need:
                raise ImageError(img.path, f"too small for the network at style scale "
                                 f"{self.settings.style_scale:g}: it becomes {sw}x{sh}; use a "
                                 f"larger style scale or a less elongated painting")

    def _style_size(self, img: LoadedImage, out: tuple[int, int]) -> tuple[int, int]:
        side = max(1, round(max(out) * self.settings.style_scale))
        return fit_long_side(*img.size, side)

    def _prepare(self, scale: Scale):
        """Content, styles and start image for one scale as tensors (1, 3, H, W)."""
        s, dev = self.settings, self.device
        content = to_tensor(resize(self.content.rgb, scale.size), dev)
        styles = [to_tensor(resize(img.rgb, self._style_size(img, scale.size)), dev)
                  for img in self.styles]
        if s.color == "histogram":
            styles = [color.match_color(st, content) for st in styles]
        net_content = content
        if s.color == "luminance":
            net_content = color.luminance(content)
            styles = [color.match_luminance(color.luminance(st), net_content) for st in styles]
        return content, net_content, styles

    def _initial(self, scale: Scale, content: torch.Tensor, styles: list[torch.Tensor]):
        s = self.settings
        w, h = scale.size
        if s.init == "content":
            return content.clone()
        if s.init == "noise":
            return torch.rand((1, 3, h, w), generator=self._gen).to(self.device)
        if s.init == "style":
            return _upsample(styles[0], (h, w)).clamp(0, 1)
        assert self.init_image is not None
        x = to_tensor(resize(self.init_image.rgb, (w, h)), self.device)
        return color.luminance(x) if s.color == "luminance" else x

    def _run_scale(self, net: VGGFeatures, k: int, scale: Scale, previous: torch.Tensor | None,
                   done: int):
        s = self.settings
        w, h = scale.size
        content, net_content, styles = self._prepare(scale)
        with torch.no_grad():  # targets through the same precision path as the picture
            feats = self._features(net, net_content)
            content_losses = {name: ContentLoss(feats[name]) for name in s.content_layers}
            style_feats = [self._features(net, st) for st in styles]
            blend = s.blend()
            style_losses = {name: StyleLoss.blended([f[name] for f in style_feats], blend)
                            for name in s.style_layers}
            del feats, style_feats
        layer_w = s.layer_weights()
        layer_w_sum = sum(layer_w) or 1.0

        if previous is None:
            x = self._initial(scale, net_content, styles)
        else:
            x = start_from_coarser(previous, net_content, CARRY_DETAIL)
        x = x.clamp(0, 1).contiguous().requires_grad_(True)

        if s.optimizer == "lbfgs":
            long_side = max(w, h)
            precond = Preconditioner(x.shape, [(f * long_side, c) for f, c in PRECONDITION],
                                     self.device) if PRECONDITION else None
            opt = BoxLBFGS([x], lr=s.lr, history_size=LBFGS_HISTORY, preconditioner=precond)
        else:
            opt = torch.optim.Adam([x], lr=s.lr)

        last: dict[str, float] = {}
        best_loss = math.inf
        self._best = x.detach().clone()

        def closure() -> torch.Tensor:
            nonlocal best_loss
            opt.zero_grad(set_to_none=True)
            feats = self._features(net, x)
            c = sum(loss(feats[n]) for n, loss in content_losses.items())
            st = sum(wl * style_losses[n](feats[n]) for n, wl in zip(s.style_layers, layer_w))
            st = st / layer_w_sum
            tv = tv_loss(x)
            total = s.content_weight * c + s.style_weight * st + s.tv_weight * tv
            terms = torch.stack([s.content_weight * c, s.style_weight * st, s.tv_weight * tv,
                                 total]).detach().tolist()  # one device sync for all four
            value = terms[3]
            last.clear()
            last.update(zip(("content", "style", "tv", "total"), terms))
            if not math.isfinite(value):
                return total
            if value < best_loss:  # x is the image this loss belongs to
                best_loss = value
                self._best = x.detach().clone()
            total.backward()
            return total

        t_scale = time.perf_counter()
        bests: list[float] = []  # best loss after each iteration of this scale
        window = min(EARLY_STOP_WINDOW, scale.iterations)
        for i in range(scale.iterations):
            if self._stop.is_set():
                return self._best
            opt.step(closure)
            if not math.isfinite(last.get("total", math.nan)):
                raise RunFailedError(
                    f"The loss became {last.get('total')} at iteration {done + i + 1} (scale "
                    f"{k + 1}); the last good image was kept. Lower the learning rate or the "
                    "style strength, or start from the content image.",
                    result=self._partial_result(stopped=True))
            with torch.no_grad():
                x.clamp_(0, 1)
            self._history.append(dict(last))
            bests.append(best_loss)
            if (s.early_stop > 0 and i + 1 > window and i + 1 < scale.iterations
                    and bests[-1 - window] - bests[-1] < s.early_stop * bests[-1 - window]):
                self._skipped += scale.iterations - (i + 1)  # converged: on to the next scale
                log.info("scale %d converged after %d iterations", k + 1, i + 1)
                scale = Scale(scale.size, i + 1)
            it = done + i + 1
            now = time.perf_counter()
            per_iter = (now - t_scale) / (i + 1)
            eta = self._eta(k, scale, i + 1, per_iter)
            want_preview = (it % self.preview_every == 0 or i == scale.iterations - 1 or it == 1)
            yield Progress(iteration=it, total=self.total_iterations, scale=k,
                           scales=len(self.scales), size=scale.size, losses=dict(last),
                           elapsed=now - self._t_start, eta=eta,
                           preview=self._display(x) if want_preview else None)
            if i + 1 >= scale.iterations:  # the last one, or converged early
                break
        # The best image of this scale, not merely the last one, goes on to the next.
        return self._best

    def _features(self, net: VGGFeatures, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's activations; under autocast when set for this device, returned in
        float32 so the Gram matrices and losses keep full precision."""
        dtype = AUTOCAST.get(self.device.type)
        if dtype is None:
            return net(x)
        with torch.autocast(self.device.type, dtype=dtype):
            feats = net(x)
        return {name: f.float() for name, f in feats.items()}

    def _eta(self, k: int, scale: Scale, done_here: int, per_iter: float) -> float:
        px = scale.size[0] * scale.size[1]
        left = (scale.iterations - done_here) * per_iter
        for later in self.scales[k + 1:]:
            left += later.iterations * per_iter * (later.size[0] * later.size[1]) / px
        return left

    def _display(self, image: torch.Tensor) -> np.ndarray:
        """What the person sees of an image being optimized: (H, W, 3) uint8."""
        image = image.detach()
        if self.settings.color == "luminance":
            h, w = image.shape[-2:]
            content = to_tensor(resize(self.content.rgb, (w, h)), image.device)
            image = color.combine_luminance(image, content)
        return to_uint8(image)

    def _partial_result(self, stopped: bool) -> TransferResult | None:
        if self._best is None:
            return None
        rgb = self._display(self._best)
        out_w, out_h = self.output_size
        if (rgb.shape[1], rgb.shape[0]) != (out_w, out_h):  # stopped on a coarse scale
            rgb = resize(rgb, (out_w, out_h))
        alpha = resize(self.content.alpha, (out_w, out_h)) if self.content.alpha is not None else None
        timings = dict(getattr(self, "_timings", {}))
        timings.setdefault("total", time.perf_counter() - self._t_start)
        return TransferResult(image=rgb, settings=self.settings, losses=list(self._history),
                              timings=timings, iterations=len(self._history), stopped=stopped,
                              device=self.device.type, alpha=alpha)


def run_transfer(settings: TransferSettings, on_progress: Callable[[Progress], None] | None = None,
                 stop: threading.Event | None = None, preview_every: int = 10) -> TransferResult:
    """Blocking form of a run. Setting `stop` ends it before the next iteration."""
    job = StyleTransfer(settings, preview_every=preview_every)
    for event in job.events():
        if on_progress is not None:
            on_progress(event)
        if stop is not None and stop.is_set():
            job.request_stop()
    assert job.result is not None
    return job.result
