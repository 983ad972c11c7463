"""Pause and go on, stop while paused, and a picture left unfinished offered again at launch."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from nst_core.painting import checkpoint as checkpoints
from tests.gui.conftest import wait_idle


def _steps(window) -> list[int]:
    seen: list[int] = []
    window.progressed.connect(lambda p: seen.append(p.iteration))
    return seen


def _stop_after(qtbot, window, steps: int) -> int:
    """Start a painting, stop it after `steps` steps, wait until it has ended; its last step."""
    seen = _steps(window)
    assert window.start()
    qtbot.waitUntil(lambda: len(seen) >= steps, timeout=60000)
    with qtbot.waitSignal(window.finished, timeout=60000):
        window.stop()
    wait_idle(qtbot, window)
    return seen[-1]


def _answer(monkeypatch, button: str, said: list[str] | None = None) -> None:
    """Message boxes from now on are answered by clicking `button` (their texts go to `said`)."""
    def click(box):
        if said is not None:
            said.append(box.text())
        chosen = next(b for b in box.buttons() if b.text() == button)
        monkeypatch.setattr(box, "clickedButton", lambda: chosen)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", click)


def test_pause_holds_the_painting_and_goes_on_and_a_paused_one_stops(window, qtbot):
    window.params.iterations.setValue(60)
    seen = _steps(window)
    assert not window.pause_action.isEnabled()  # nothing to pause yet
    assert window.start()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60000)
    window.pause_action.trigger()
    assert window.pause_action.isChecked() and window.controller.paused
    assert "Paused" in window.statusBar().currentMessage()
    assert window.progress.bar.format().startswith("Paused · ")
    qtbot.wait(800)  # the step under way when it was asked ends
    held = len(seen)
    qtbot.wait(1500)
    assert len(seen) == held < 60  # and no other step follows
    with qtbot.waitSignal(window.finished, timeout=120000) as done:
        window.pause_action.trigger()  # go on, to the end
    assert done.args[0].status == "done" and done.args[0].iterations == 60
    wait_idle(qtbot, window)
    assert not window.pause_action.isEnabled() and not window.pause_action.isChecked()

    seen.clear()
    assert window.start()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60000)
    window.pause(True)
    with qtbot.waitSignal(window.finished, timeout=60000) as stopped:
        window.stop()  # a paused painting stops too, keeping its picture
    assert stopped.args[0].status == "stopped"


def test_an_unfinished_picture_is_offered_again_and_continues(make_window, qtbot,
                                                              monkeypatch, tmp_path):
    first = make_window()
    first.params.size.setValue(64)
    first.params.multiscale.setChecked(False)
    first.params.iterations.setValue(40)
    stopped_at = _stop_after(qtbot, first, 4)
    kept = checkpoints.unfinished(first.paint.checkpoint)
    assert kept is not None and kept[1].iterations == stopped_at
    first.close()

    offers: list[str] = []
    _answer(monkeypatch, "Continue", offers)  # the person takes "Continue"
    second = make_window(data_dir=tmp_path / "data")  # a restart on the same data
    notes = []
    second.statusBar().messageChanged.connect(notes.append)
    with qtbot.waitSignal(second.finished, timeout=120000) as done:
        pass  # the offer comes once the window shows, and the picture continues
    assert len(offers) == 1 and f"stopped at iteration {stopped_at} of 40" in offers[0]
    assert any(f"Continuing from the checkpoint at iteration {stopped_at}" in n for n in notes)
    assert done.args[0].status == "done" and done.args[0].iterations == 40
    assert not second.paint.checkpoint.exists()


def test_not_now_keeps_the_checkpoint_and_discard_removes_it(window, qtbot, monkeypatch):
    window.params.iterations.setValue(40)
    _stop_after(qtbot, window, 2)
    assert window.paint.checkpoint.exists()
    assert not window.paint.offer_unfinished()  # the conftest's box: nothing clicked
    assert window.paint.checkpoint.exists()

    _answer(monkeypatch, "Discard")
    assert not window.paint.offer_unfinished()
    assert not window.paint.checkpoint.exists() and not window.gate.long_running()
