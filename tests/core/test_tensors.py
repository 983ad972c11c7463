"""Pictures as tensors and back (nst_core.media.tensors)."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from nst_core.media.tensors import to_tensor, to_uint8


def test_bytes_become_floats_in_0_to_1_and_come_back_exactly():
    rgb = np.array([[[0, 51, 255], [102, 153, 204]]], np.uint8)  # (1, 2, 3)
    t = to_tensor(rgb)
    assert t.shape == (1, 3, 1, 2) and t.dtype == torch.float32
    assert t[0, :, 0, 0].tolist() == [0.0, np.float32(0.2), 1.0]  # 51 / 255 = 0.2, by hand
    assert t[0, 0, 0, 1].item() == np.float32(102) / np.float32(255)
    back = to_uint8(t)
    assert back.shape == (1, 2, 3) and back.dtype == np.uint8 and np.array_equal(back, rgb)


def test_a_read_only_picture_converts_without_warnings_and_outputs_are_new_arrays():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgb.flags.writeable = False  # as np.asarray(PIL image) gives
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = to_tensor(rgb)
    out = to_uint8(t)
    assert np.array_equal(out, rgb) and out.flags.writeable and out.flags.c_contiguous
    out[0, 0] = 0  # the caller may keep and change it
    assert to_uint8(t)[0, 0].tolist() == rgb[0, 0].tolist()
    # values outside 0..1 are clamped, halves round to even as torch.round does
    assert to_uint8(torch.tensor([-0.5, 0.5 / 255, 1.5 / 255, 2.0]).view(1, 1, 1, 4)
                    .expand(1, 3, 1, 4)).tolist()[0] == [[0] * 3, [0] * 3, [2] * 3, [255] * 3]
