"""VGG19's convolutions on the CPU in float32: torch's direct ones (oneDNN, channels-last, as the
engine ran them before) against Winograd's F(4x4, 3x3) (nst_core.networks.winograd), layer by layer.

    .venv/bin/python benchmarks/winograd.py [--size 512] [--repeat 5]

For each 3x3 convolution up to relu5_1 at the size's shape (the bundled photo's 4:3 aspect):
milliseconds for a forward and the backward to the input (the weights are frozen, as in the
engine), median of --repeat after a warm-up, for both, and the largest difference of the
Winograd result from the direct one relative to the direct one's largest value. "used" marks
the layers the engine runs by Winograd (nst_core.networks.winograd.suits_channels). The last
line sums
the layers. benchmarks/speed.py measures the whole iteration.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import common  # noqa: E402,F401  (puts the repository on the path)


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="long side of the picture")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--malloc", choices=["keep", "default"], default="keep",
                    help="keep: freed memory kept for reuse, as the engine runs on a CPU "
                         "(nst_core.runtime.memory); default: glibc's own behaviour")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.repeat = 64, 1

    import torch
    import torch.nn.functional as F
    from torch import nn

    from nst_core.runtime import memory
    from nst_core.networks.layers import LAYER_INDEX, LAYER_NAMES
    from nst_core.networks.vgg import vgg19_features
    from nst_core.networks.winograd import WinogradConv2d, suits_channels

    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                  if ln.startswith("Model name")), "?")
    flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in cpu)
    print(f"CPU: {model} ({flags}), {torch.get_num_threads()} threads, torch {torch.__version__}")

    if args.malloc == "keep":
        memory.keep_freed_memory()
    w, h = args.size, args.size * 3 // 4
    total_direct = total_used = 0.0
    torch.manual_seed(0)
    for name, m in zip(LAYER_NAMES, vgg19_features()[: LAYER_INDEX["conv5_1"] + 1]):
        if name.startswith("pool"):
            w, h = w // 2, h // 2
        if not isinstance(m, nn.Conv2d):
            continue
        m.requires_grad_(False)
        direct = m.to(memory_format=torch.channels_last)
        wino = WinogradConv2d.from_conv(m)
        x = torch.randn(1, m.in_channels, h, w)
        grad = torch.randn(1, m.out_channels, h, w)

        def forward_backward(conv, inp):
            def run():
                xi = inp.detach().requires_grad_()
                conv(xi).backward(grad)
            return run

        x_last = x.contiguous(memory_format=torch.channels_last)
        d = _median_ms(forward_backward(direct, x_last), args.repeat)
        wg = _median_ms(forward_backward(wino, x), args.repeat)
        with torch.no_grad():
            ref = F.conv2d(x, m.weight, m.bias, padding=1)
            err = float((wino(x) - ref).abs().max() / ref.abs().max())
        used = suits_channels(m.in_channels, m.out_channels)
        total_direct += d
        total_used += wg if used else d
        print(f"{name:8} {m.in_channels:3} -> {m.out_channels:3} at {w}x{h:<4} direct {d:6.1f} ms  "
              f"winograd {wg:6.1f} ms  ({d / wg:4.2f}x)  error {err:.1e}"
              f"{'  used' if used else ''}")
    print(f"all layers: direct {total_direct:.0f} ms, as the engine runs them now "
          f"{total_used:.0f} ms ({total_direct / total_used:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
