"""The image transformation network of Johnson, Alahi & Fei-Fei (2016), "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution", for instant styles.

    c9s1-W, d2W, d4W, B residual blocks of 4W, u2W, uW, c9s1-3

with instance normalization (Ulyanov et al. 2016) and reflection padding. Upsampling is a
nearest-neighbour resize followed by a convolution (no transposed convolution: no checkerboard
artefacts). Johnson's network is W=32, B=5; the default here is half as wide with 3 blocks, which
runs a 512 px picture in about a tenth of a second on two CPU cores (benchmarks/RESULTS.md).

The network is fully convolutional. Any size goes in and the same size comes out: the input is
reflection-padded to a multiple of 4 (the two stride-2 steps) and the output cropped back.

Images are RGB in 0..1, (B, 3, H, W); the output goes through a sigmoid so that it stays in
range without clipping (the saved 8-bit picture is what the loss saw).

Tiling: `InstanceNorm` layers can record their statistics on one pass (`record_stats`) and
reuse them on later passes (`use_stats`); tiles that share the statistics of the whole picture
then agree where they overlap (nst_core.networks.stylize.forward_tiled).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

DIVISOR = 4  # two stride-2 convolutions
MIN_SIDE = 8


@dataclass(frozen=True)
class NetShape:
    """The network's size: base width W and number of residual blocks B."""

    width: int = 16
    blocks: int = 3

    def validate(self) -> NetShape:
        from nst_core.base.errors import SettingsError

        if not (isinstance(self.width, int) and 4 <= self.width <= 128):
            raise SettingsError("width", "the network width must be a whole number from 4 "
                                "to 128")
        if not (isinstance(self.blocks, int) and 0 <= self.blocks <= 16):
            raise SettingsError("blocks", "the number of residual blocks must be from 0 to 16")
        return self


class InstanceNorm(nn.Module):
    """Instance normalization with a learned affine map; its statistics can be recorded on one
    pass and reused on the next (for tiles of one picture)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.mode = "normal"  # "normal" | "record" | "fixed"
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "fixed" and self.stats is not None:
            mean, var = self.stats
        else:
            var, mean = _stats(x, exact=torch.is_grad_enabled())
            if self.mode == "record":
                self.stats = (mean.detach(), var.detach())
        # One pass over the map: y = x * scale + shift, per channel.
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return torch.addcmul(self.bias.view(1, -1, 1, 1) - mean * scale, x, scale)


#: Past this many pixels a map's statistics are taken from every k-th row and column (at least
#: this many samples remain): the mean and variance of 65k samples of a feature map differ from
#: the full map's in the fourth digit, and the pass costs a sixteenth (inference only).
_SAMPLED = 65536


def _stats(x: torch.Tensor, exact: bool) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = x.shape[-2:]
    k = 1 if exact else int((h * w / _SAMPLED) ** 0.5)
    if k > 1:
        x = x[..., ::k, ::k]
    return torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)


class ConvLayer(nn.Sequential):
    """Reflection pad, convolution, optionally instance norm and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True,
                 relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2),
                                   nn.Conv2d(cin, cout, kernel, stride)]
        if norm:
            layers.append(InstanceNorm(cout))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3),
                                  ConvLayer(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a reflection-padded 3x3 convolution, instance norm and ReLU.

    Reflecting the upsampled map by one pixel gives the same rows as replicating the small map
    by one pixel, upsampling and dropping the outermost row: so the padding is done on the
    small map (a quarter of the copy) and the convolution's one extra ring is cropped."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3)
        self.norm = InstanceNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(F.pad(x, (1, 1, 1, 1), mode="replicate"), scale_factor=2,
                          mode="nearest")
        y = self.conv(x)[..., 1:-1, 1:-1]
        return F.relu(self.norm(y), inplace=True)


class TransformerNet(nn.Module):
    def __init__(self, shape: NetShape = NetShape()):
        super().__init__()
        w = shape.width
        self.shape = shape
        self.down = nn.Sequential(ConvLayer(3, w, 9), ConvLayer(w, 2 * w, 3, 2),
                                  ConvLayer(2 * w, 4 * w, 3, 2))
        self.res = nn.Sequential(*[Residual(4 * w) for _ in range(shape.blocks)])
        self.up = nn.Sequential(Upsample(4 * w, 2 * w), Upsample(2 * w, w),
                                ConvLayer(w, 3, 9, norm=False, relu=False))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        # Pad to a multiple of 4, and to 8 at least (the reflection pads inside need a map
        # larger than themselves at every depth); the output is cropped back.
        ph = max(MIN_SIDE, h + (-h) % DIVISOR) - h
        pw = max(MIN_SIDE, w + (-w) % DIVISOR) - w
        x = image
        if ph or pw:  # reflection needs the pad smaller than the side; replicate otherwise
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        y = self.up(self.res(self.down(x)))
        return torch.sigmoid(y[..., :h, :w])

    def norms(self) -> Iterator[InstanceNorm]:
        return (m for m in self.modules() if isinstance(m, InstanceNorm))

    @contextlib.contextmanager
    def norm_mode(self, mode: str) -> Iterator[None]:
        """Within: every instance norm records ("record") or reuses ("fixed") its statistics."""
        for m in self.norms():
            m.mode = mode
        try:
            yield
        finally:
            for m in self.norms():
                m.mode = "normal"

    def clear_stats(self) -> None:
        for m in self.norms():
            m.stats = None


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
