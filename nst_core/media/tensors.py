"""Images as tensors: (H, W, 3) uint8 arrays <-> (1, 3, H, W) float tensors in 0..1."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in 0..1. The bytes travel to the device and
    become floats there: a quarter of the traffic, and no float copy made on the host."""
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    if not a.flags.writeable:  # torch wants memory it may write (it never does here)
        a = a.copy()
    t = torch.from_numpy(a).to(device)
    return t.permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0


def deep_to_tensor(deep: np.ndarray, size: tuple[int, int],
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint16 -> (1, 3, h, w) float32 in 0..1 at (w, h) = `size`, resized (bicubic,
    antialiased) in float, so that no 8-bit step is introduced."""
    t = torch.from_numpy(deep.astype(np.float32) / 65535.0).to(device)
    t = t.permute(2, 0, 1).unsqueeze(0)
    w, h = size
    if tuple(t.shape[-2:]) != (h, w):
        t = torch.nn.functional.interpolate(t, size=(h, w), mode="bicubic", antialias=True,
                                            align_corners=False).clamp(0, 1)
    return t.contiguous()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in 0..1 -> (H, W, 3) uint8 (a new array)."""
    x = image.detach()[0].clamp(0, 1).mul(255.0).round().to(torch.uint8)
    # laid out as (H, W, 3) on the device, so that one plain copy brings it back
    return x.permute(1, 2, 0).contiguous().cpu().numpy()


def to_uint16(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in 0..1 -> (H, W, 3) uint16 (a new array): the picture for a 16-bit
    file, 256 times finer than `to_uint8`."""
    x = image.detach()[0].clamp(0, 1).mul(65535.0).round().to(torch.int32)
    return x.permute(1, 2, 0).contiguous().cpu().numpy().astype(np.uint16)
