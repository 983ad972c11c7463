"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3), for CPUs in float32.

Lavin & Gray (2016), "Fast Algorithms for Convolutional Neural Networks", CVPR: each 4x4 block
of the output is computed from a 6x6 tile of the input with 36 products per input-output
channel pair instead of 144. The products become 36 matrix multiplications, (O x C) by
(C x tiles), which MKL runs near the CPU's peak; the tile transforms are small and linear.

Why here: the engine spends nearly all of an iteration in VGG19's 3x3 convolutions, forward and
backward to the image. On CPUs without native bfloat16 (AVX2 laptops) oneDNN runs them directly
at the machine's float32 peak, and has no Winograd path for them (only for AVX-512), so fewer
multiplications is the only way to go faster. Measured on 2 AVX2 cores at 512 px
(docs/decisions/winograd.md): 1.6-1.9x for conv3_1 ... conv3_4,
2.1-2.8x for conv4_1 ... conv5_1, a loss below that. (With freed memory kept,
nst_core.runtime.memory, conv2_1 and conv2_2 gain alone, but not in the whole iteration, where
their output leaves channels-last: docs/decisions/kept-memory.md.) What a layer saves grows with
C*O (the products) and what it adds with C+O (the transforms, which are memory-bound), so a layer runs by Winograd when
C*O/(C+O) >= `MIN_CHANNEL_RATIO` (from conv3_1 on), and only on maps of at least `MIN_TILES` 4x4
blocks.

The backward to the input is itself a 3x3 convolution (of the output gradient with the kernels
turned 180 degrees and input and output channels swapped), so it runs the same way. The
weights are frozen: no weight gradient is computed. The transformed kernels take 4x the
weights' memory, for each direction (about 400 MB for VGG19's layers from conv3_1 on).

Accuracy: the transforms' coefficients are small integers and fractions; in float32 the result
differs from a direct convolution by about 1e-5 of its largest value (tests/core/test_winograd.py),
below what the 8-bit picture shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Lavin & Gray's F(4x4, 3x3): Y = A^T [(G g G^T) * (B^T d B)] A for a 6x6 input tile d.
_BT = torch.tensor([[4, 0, -5, 0, 1, 0],
                    [0, -4, -4, 1, 1, 0],
                    [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0],
                    [0, 2, -1, -2, 1, 0],
                    [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
_G = torch.tensor([[1 / 4, 0, 0],
                   [-1 / 6, -1 / 6, -1 / 6],
                   [-1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6],
                   [1 / 24, -1 / 12, 1 / 6],
                   [0, 0, 1]], dtype=torch.float64)
_AT = torch.tensor([[1, 1, 1, 1, 1, 0],
                    [0, 1, -1, 2, -2, 0],
                    [0, 1, 1, 4, 4, 0],
                    [0, 1, -1, 8, -8, 1]], dtype=torch.float64)
# The input transform of every 6x6 tile as 36 fixed 6x6 kernels (a stride-4 convolution), and
# the output transform as a (16 x 36) matrix.
_INPUT_KERNELS = torch.kron(_BT, _BT).float().view(36, 1, 6, 6).contiguous()
_OUTPUT_MATRIX = torch.kron(_AT, _AT).float().contiguous()
# A^T e_1 = (1, 1, 1, 1): adding b at transformed position (1, 1) adds b to all 16 outputs of
# the tile, so the bias costs one row instead of a pass over the output.
_BIAS_INDEX = 1 * 6 + 1


def transform_kernels(weight: torch.Tensor) -> torch.Tensor:
    """(O, C, 3, 3) kernels -> (36, O, C): G g G^T for each pair."""
    g = _G.float()
    u = g @ weight.detach().float().cpu() @ g.T  # (O, C, 6, 6)
    return u.permute(2, 3, 0, 1).reshape(36, weight.shape[0], weight.shape[1]).contiguous()


def conv3x3(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None = None
            ) -> torch.Tensor:
    """The same as F.conv2d(x, weight, bias, padding=1) for (N, C, H, W) float32 `x`, with
    `kernels` = transform_kernels(weight). Not differentiable by itself (see WinogradConv2d)."""
    n, c, h, w = x.shape
    o = kernels.shape[1]
    th, tw = -(-h // 4), -(-w // 4)  # tiles down and across
    t = th * tw
    if (4 * th, 4 * tw) == (h, w):  # the convolution's own padding gives exactly the tiles
        v = F.conv2d(x.reshape(n * c, 1, h, w), _INPUT_KERNELS, stride=4, padding=1)
    else:
        xp = F.pad(x, (1, 1 + 4 * tw - w, 1, 1 + 4 * th - h))
        v = F.conv2d(xp.reshape(n * c, 1, xp.shape[2], xp.shape[3]), _INPUT_KERNELS, stride=4)
    if n == 1:
        v = v.view(c, 36, t).transpose(0, 1)  # (36, C, T), a view
    else:
        v = v.view(n, c, 36, t).permute(2, 1, 0, 3).reshape(36, c, n * t)
    m = torch.matmul(kernels, v)  # (36, O, N*T)
    if bias is not None:
        m[_BIAS_INDEX] += bias.view(o, 1)
    y = (_OUTPUT_MATRIX @ m.view(36, -1)).view(4, 4, o, n, th, tw)
    y = y.permute(3, 2, 4, 0, 5, 1).reshape(n, o, 4 * th, 4 * tw)
    return y if (4 * th, 4 * tw) == (h, w) else y[:, :, :h, :w]


class _Conv3x3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, forward_kernels, backward_kernels, bias):
        ctx.save_for_backward(backward_kernels)
        return conv3x3(x.contiguous(), forward_kernels, bias)

    @staticmethod
    def backward(ctx, grad):
        (backward_kernels,) = ctx.saved_tensors
        return conv3x3(grad.contiguous(), backward_kernels), None, None, None


#: A layer runs by Winograd when C*O/(C+O) reaches this: what it saves grows with C*O (the
#: products), what it adds with C+O (the transforms, memory-bound). conv3_1 (128 -> 256) is 85,
#: conv2_2 (128 -> 128) 64.
MIN_CHANNEL_RATIO = 80


#: Fewer 4x4 output blocks than this and the products are too few to pay for reading the
#: transformed kernels (4x the weights): a 16x16 map of 512 channels takes 15 ms by Winograd
#: against 24 ms direct, an 8x8 one 15 against 9 ms (forward and backward, 2 AVX2 cores).
MIN_TILES = 16


def suits_channels(in_channels: int, out_channels: int) -> bool:
    return in_channels * out_channels >= MIN_CHANNEL_RATIO * (in_channels + out_channels)


def kernel_bytes(in_channels: int, out_channels: int) -> int:
    """Memory the transformed kernels of one layer take, both directions, in float32."""
    return 2 * 36 * in_channels * out_channels * 4


class WinogradConv2d(nn.Conv2d):
    """A frozen 3x3, stride-1, padding-1 convolution that runs by Winograd on the CPU in
    float32, and as nn.Conv2d everywhere else (CUDA, MPS, under autocast, other dtypes, maps
    of fewer than MIN_TILES blocks).

    Its kernels' transforms are made on first use and again whenever the weights change."""

    @classmethod
    def suits(cls, conv: nn.Module) -> bool:
        return (type(conv) is nn.Conv2d and conv.kernel_size == (3, 3)
                and conv.stride == (1, 1) and conv.padding == (1, 1)
                and conv.dilation == (1, 1) and conv.groups == 1
                and conv.padding_mode == "zeros"
                and suits_channels(conv.in_channels, conv.out_channels))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "WinogradConv2d":
        new = cls(conv.in_channels, conv.out_channels, 3, padding=1,
                  bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(conv.weight)
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        new.weight.requires_grad_(conv.weight.requires_grad)
        if new.bias is not None:
            new.bias.requires_grad_(conv.bias.requires_grad)
        return new

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kernels: tuple | None = None

    def _use_winograd(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
                and x.shape[0] * -(-x.shape[2] // 4) * -(-x.shape[3] // 4) >= MIN_TILES
                and self.weight.dtype == torch.float32 and not self.weight.requires_grad
                and (self.bias is None or not self.bias.requires_grad)
                and not torch.is_autocast_enabled("cpu"))

    def _transformed(self):
        w = self.weight
        key = (w.data_ptr(), w._version)
        if self._kernels is None or self._kernels[0] != key:
            flipped = w.detach().flip(2, 3).transpose(0, 1)  # the backward's kernels
            self._kernels = (key, transform_kernels(w), transform_kernels(flipped))
        return self._kernels[1], self._kernels[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_winograd(x):
            return super().forward(x)
        forward_kernels, backward_kernels = self._transformed()
        bias = None if self.bias is None else self.bias.detach()
        if torch.is_grad_enabled() and x.requires_grad:
            return _Conv3x3.apply(x, forward_kernels, backward_kernels, bias)
        return conv3x3(x.contiguous(), forward_kernels, bias)

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), ...: the transforms follow lazily
        self._kernels = None
        return super()._apply(fn, *args, **kwargs)


def use_winograd(features: nn.Sequential) -> nn.Sequential:
    """Swap, in place, the convolutions of `features` that Winograd runs faster on a CPU."""
    for i, m in enumerate(features):
        if WinogradConv2d.suits(m):
            features[i] = WinogradConv2d.from_conv(m)
    return features
