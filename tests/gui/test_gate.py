"""The work gate: one place decides whether a kind of work may start, by what is running."""
from __future__ import annotations

import pytest

from nst_gui.gate import WorkGate


class Controller:
    """Stands in for a JobController: the gate reads only whether it runs."""

    def __init__(self) -> None:
        self.running = False


@pytest.fixture
def gate():
    g = WorkGate()
    for kind, label in (("paint", "a painting"), ("train", "a training"),
                        ("video", "a video render"), ("batch", "the batch queue"),
                        ("instant", "an instant picture")):
        g.add(kind, Controller(), label)
    return g


def test_with_nothing_running_everything_may_start(gate):
    assert not gate.busy() and gate.long_running() == ""
    assert [gate.refusal(k) for k in ("paint", "train", "video", "batch", "instant",
                                      "camera")] == [""] * 6


@pytest.mark.parametrize("running", ["paint", "train", "video"])
def test_one_long_work_at_a_time_and_never_beside_the_queue(gate, running):
    gate.controller(running).running = True
    assert gate.long_running() == running and gate.busy()
    label = {"paint": "A painting", "train": "A training", "video": "A video render"}[running]
    for kind in ("paint", "train", "video", "batch"):
        why = gate.refusal(kind)
        assert why.startswith(label), (kind, why)
        assert ("already" in why) == (kind == running)
    assert gate.refusal("instant") == \
        f"Instant pictures wait until {label[0].lower()}{label[1:]} under way ends."


def test_while_the_queue_runs_only_instant_pictures_start(gate):
    gate.controller("batch").running = True
    assert gate.long_running() == "" and gate.busy()
    for kind in ("paint", "train", "video"):
        assert "batch queue is running" in gate.refusal(kind)
    assert gate.refusal("instant") == "" and gate.refusal("camera") == ""


def test_an_instant_picture_blocks_nothing(gate):
    gate.controller("instant").running = True
    assert gate.busy() and gate.long_running() == ""
    assert all(gate.refusal(k) == "" for k in ("paint", "train", "video", "batch"))


def test_the_window_refuses_a_video_while_it_paints(window, qtbot, tmp_path, messages):
    """The window asks the gate: a render started while a picture paints is refused in one
    line, and the painting goes on."""
    from tests.gui.test_video import _open

    _open(window, tmp_path, frames=3)
    window.params.iterations.setValue(500)
    window.params.early_stop.setValue(0.0)
    assert window.start()
    assert not window.videos.render_video(str(tmp_path / "out.mp4"))
    assert "A painting is under way" in messages[-1][1]
    assert window.controller.running and not window.videos.controller.running
    window.stop()
