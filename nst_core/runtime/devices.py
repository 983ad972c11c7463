"""Devices, precision and memory: where a run computes, in which precision, and whether it fits.

The memory estimate is made before a run so that a size that cannot fit is refused up front,
with the largest size that would.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch

from nst_core.base.errors import DeviceError
from nst_core.networks.layers import BLOCK_CHANNELS, LAYER_INDEX, LAYER_NAMES, stride, tile_margin
from nst_core.networks.vgg import EMULATED_BF16
from nst_core.networks.winograd import kernel_bytes, suits_channels
from nst_core.runtime import memory
from nst_core.settings.picture import TransferSettings
from nst_core.settings.tuning import Tuning

log = logging.getLogger(__name__)

_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16,
           EMULATED_BF16: EMULATED_BF16}


def resolve_device(choice: str) -> torch.device:
    """'auto' -> CUDA, then Apple MPS, then CPU; an explicit choice must be available."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if has_mps else torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise DeviceError("CUDA was chosen but no CUDA GPU is available here; choose the "
                          "automatic device or the CPU")
    if choice == "mps" and not has_mps:
        raise DeviceError("Apple MPS was chosen but is not available here; choose the "
                          "automatic device or the CPU")
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


@functools.lru_cache(maxsize=1)
def fast_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), where oneDNN's bf16
    convolutions run about 1.8x faster than float32 (benchmarks/RESULTS.md). Elsewhere bf16
    would be emulated and slower."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # a private API: absent means no
        return False


def autocast_dtype(tuning: Tuning, device_type: str) -> torch.dtype | str | None:
    """The dtype the network's forward runs in on this device (None: float32; `EMULATED_BF16`:
    float32 kernels rounding like bfloat16)."""
    name = tuning.precision_for(device_type)
    if name == "auto":
        if device_type == "cpu":
            return torch.bfloat16 if fast_cpu_bf16() else None
        return torch.bfloat16 if device_type == "cuda" else None
    return _DTYPES[name]


def precision_name(dtype: torch.dtype | str | None) -> str:
    """The precision's name for an `autocast_dtype` value."""
    if dtype is None:
        return "float32"
    return dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")


def precision_dtype(name: str) -> torch.dtype | str | None:
    """The `autocast_dtype` value of a precision's name ("auto" is not one: resolve it first)."""
    return _DTYPES[name]


def configure(device: torch.device, tuning: Tuning = Tuning()) -> None:
    """Backend switches for a run on `device`: autotuned deterministic kernels and TF32 maths
    on CUDA (a seed repeats on the same GPU); on the CPU, freed memory kept for reuse
    (`Tuning.keep_freed_memory`, nst_core.runtime.memory; the run's `events` give it back when they
    end)."""
    if device.type == "cpu" and tuning.keep_freed_memory:
        memory.keep_freed_memory()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def is_oom(e: BaseException) -> bool:
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(e, RuntimeError) and "out of memory" in str(e).lower()


# ---- memory --------------------------------------------------------------------------------
#: What the process needs besides the run's tensors (torch, the weights, the images): measured
#: RSS of a 64 px run on CPU is about 0.9 GiB.
_BASE_BYTES = {"cpu": 900 * 2**20, "cuda": 400 * 2**20, "mps": 900 * 2**20}


def estimate_memory(settings: TransferSettings, final_size: tuple[int, int],
                    device: str = "cpu", tuning: Tuning = Tuning(), tile: int = 0,
                    history: int | None = None) -> int:
    """Bytes a still-picture run needs at its peak, from the layer shapes at `final_size`
    (w, h): the activations autograd keeps for the backward pass (float32, or 2 bytes where the
    network is autocast, plus max-pooling indices), the gradient working set, the optimizer's
    state, Winograd's kernels and tiles where it runs (nst_core.networks.winograd), the heap's slack
    where freed memory is kept (nst_core.runtime.memory) and the fixed runtime.

    `tile`: the picture goes through the network in tiles owning at most `tile` px a side
    (nst_core.objective.tiled): the network's memory is one tile's with its margins, the image's
    and the optimizer's the whole picture's, plus the content's features kept for the tiles.
    `history`: the L-BFGS pairs kept (default `tuning.lbfgs_history`)."""
    w, h = final_size
    layers = settings.content_layers + settings.style_layers
    net_w, net_h = w, h
    if tile:
        edge = tile + 2 * tile_margin(layers)
        net_w, net_h = min(w, edge), min(h, edge)
    network = _network_bytes(settings, (net_w, net_h), device, tuning)
    reduced = settings.strokes_reduction(max(w, h))
    if reduced is not None:  # the picture seen at the strokes' size: its pass is kept too
        network += _network_bytes(settings, (round(w * reduced), round(h * reduced)), device,
                                  tuning)
    image = 4 * 3 * w * h
    pairs = tuning.lbfgs_history if history is None else history
    optimizer = image * (2 * pairs + 10 if settings.optimizer == "lbfgs" else 6)
    targets = 0
    if tile:  # the content's features at the content layers, and the picture's gradient
        targets = image + sum(4 * BLOCK_CHANNELS[int(n[4])] * (w // stride(n)) * (h // stride(n))
                              for n in settings.content_layers)
    side = max(w, h) * settings.style_scale  # style features are made once, not kept
    if tile:  # ... in tiles too
        side = min(side, tile + 2 * tile_margin(layers))
    style = 4 * 2 * 64 * side * side
    return int(_BASE_BYTES.get(device, _BASE_BYTES["cpu"]) + network + optimizer + targets
               + max(style - network, 0))


def _network_bytes(settings: TransferSettings, size: tuple[int, int], device: str,
                   tuning: Tuning) -> int:
    """What one forward and backward pass of a (w, h) picture holds at its peak."""
    w, h = size
    deepest = max(LAYER_INDEX[n] for n in settings.content_layers + settings.style_layers)
    floats, indices, largest = 3 * w * h, 0, 0
    cw, ch, previous = w, h, 3
    winograd = tuning.winograd and device == "cpu" and autocast_dtype(tuning, device) is None
    kernels, tiles = 0, 0  # Winograd's transformed kernels, and its largest layer's tiles
    for name in LAYER_NAMES[: deepest + 1]:
        channels = BLOCK_CHANNELS[int(name[4])]  # conv1_1, relu1_1, pool1: the block
        if name.startswith("pool"):
            cw, ch = cw // 2, ch // 2
            indices += channels * cw * ch if settings.pooling == "max" else 0
        if name.startswith("conv") and winograd and suits_channels(previous, channels):
            kernels += kernel_bytes(previous, channels)
            tiles = max(tiles, 4 * 36 * (previous + channels) * -(-cw // 4) * -(-ch // 4))
        previous = channels
        size_ = channels * cw * ch
        floats += size_
        largest = max(largest, size_)
    act_bytes = 2 if isinstance(autocast_dtype(tuning, device), torch.dtype) else 4
    activations = act_bytes * floats + 8 * indices
    # Freed memory kept for reuse (nst_core.runtime.memory) lets the heap fragment around the
    # largest blocks: peak RSS measured +1% at 512 px, +13% at 1024 and +49% at 2048 px (+51% of the
    # activations) over glibc's own handling (docs/decisions/kept-memory.md).
    kept = (activations // 2 if device == "cpu" and tuning.keep_freed_memory
            and memory.supported() else 0)
    gradients = 4 * 3 * largest  # a layer's output grad, input grad and accumulation buffer
    return activations + gradients + kernels + tiles + kept


@dataclass(frozen=True)
class MemoryPlan:
    """How a picture of one size fits the memory it may use: whole (`tile` 0) or in tiles
    owning at most `tile` px a side, with `history` L-BFGS pairs."""

    tile: int
    history: int
    needed: int  # bytes at the peak


#: The smallest tile offered: its margins (80 px a side for relu5_1) already make a 128 px
#: tile's pass cover 4.4 times the pixels it owns.
SMALLEST_TILE = 128
#: Tiles at least this large are worth fewer L-BFGS pairs: a 512 px tile's margins cost 1.7x
#: its own pixels, a 128 px tile's 4.4x (docs/decisions/tiles.md).
GOOD_TILE = 512
#: The fewest curvature pairs a picture keeps before it goes in tiles: 12 gave fifty's picture
#: at 256 px on two pairs of the benchmarks (docs/decisions/tiles.md).
FEW_PAIRS = 12


def plan_memory(settings: TransferSettings, size: tuple[int, int], budget: int,
                device: str = "cpu", tuning: Tuning = Tuning()) -> MemoryPlan | None:
    """How a picture of `size` fits in `budget` bytes (`settings.tile` forces tiles): whole with
    the optimizer's full history, or with fewer pairs down to `FEW_PAIRS`; else in the largest
    tiles of at least `GOOD_TILE` that fit with `FEW_PAIRS`, then with 5; else smaller tiles;
    None when nothing fits. Fewer pairs come first: at 256 px 12 and 5 pairs gave fifty's
    picture, where tiles cost 2.5-4 times the time (docs/decisions/tiles.md)."""
    long_side = max(size)
    full = tuning.lbfgs_history if settings.optimizer == "lbfgs" else 0
    if settings.tile and long_side > settings.tile:
        return MemoryPlan(settings.tile, full, estimate_memory(
            settings, size, device, tuning, settings.tile, full))
    fewer = [full]
    while fewer[-1] > FEW_PAIRS:
        fewer.append(max(FEW_PAIRS, fewer[-1] // 2))
    for history in fewer:
        need = estimate_memory(settings, size, device, tuning, 0, history)
        if need <= budget:
            return MemoryPlan(0, history, need)

    def largest_tile(history: int, smallest: int) -> MemoryPlan | None:
        for tile in range((long_side - 1) // 64 * 64, smallest - 1, -64):
            need = estimate_memory(settings, size, device, tuning, tile, history)
            if need <= budget:
                return MemoryPlan(tile, history, need)
        return None

    least = min(full, 5)
    good = min(GOOD_TILE, (long_side - 1) // 64 * 64)
    for history in dict.fromkeys([fewer[-1], least]):
        plan = largest_tile(history, good)
        if plan is not None:
            return plan
    return largest_tile(least, SMALLEST_TILE)


def available_memory(device: torch.device) -> int:
    """Bytes free for a run on `device` now, plus the fixed runtime that `estimate_memory`
    counts but this process (which has torch and the weights loaded) already holds."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]) + _BASE_BYTES["cuda"]
    import psutil

    return int(psutil.virtual_memory().available) + _BASE_BYTES["cpu"]
