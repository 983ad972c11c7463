"""The result contract: every kind's result says how it ended and shows its picture under one
name, so the layers above never guess a kind from its attributes."""
import numpy as np
import pytest

from nst_core import TransferSettings
from nst_core.base.results import Ended
from nst_core.catalogue import KINDS
from nst_core.kinds.apply import ApplyResult
from nst_core.kinds.camera import CameraResult
from nst_core.kinds.train import TrainResult
from nst_core.kinds.video import VideoResult
from nst_core.kinds.video_chunk import ChunkResult
from nst_core.painting.picture import StillResult

RGB = np.zeros((4, 6, 3), np.uint8)


@pytest.mark.parametrize("result", [
    StillResult(RGB, TransferSettings()),
    ApplyResult(RGB, "m.nst", "waves"),
    TrainResult("m.nst", 3, preview=RGB),
    VideoResult("out.mp4", 2, 2, last=RGB),
    CameraResult(5, 30.0, "stopped", last=RGB),
])
def test_every_result_shows_its_picture_under_one_name(result):
    assert isinstance(result, Ended)
    assert result.picture is RGB
    assert result.stopped == (result.status == "stopped") and not result.failed


def test_a_result_without_a_picture_says_none():
    chunk = ChunkResult(0, [b"png"], "failed", "a worker died")
    assert chunk.picture is None and chunk.failed and not chunk.stopped


def test_the_catalogue_names_every_kind_once():
    assert sorted(KINDS) == ["apply", "camera", "still", "train", "video", "video_chunk"]
    assert all(cls.kind == name for name, cls in KINDS.items())
