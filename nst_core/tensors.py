"""Images as tensors: (H, W, 3) uint8 arrays <-> (1, 3, H, W) float tensors in 0..1."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in 0..1."""
    t = torch.from_numpy(np.array(rgb, dtype=np.float32)).to(device)
    return t.permute(2, 0, 1).unsqueeze(0) / 255.0


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in 0..1 -> (H, W, 3) uint8 (a new array)."""
    x = image.detach()[0].clamp(0, 1).mul(255.0).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy().copy()
