"""GUI fixtures: a window with its own data folder and settings file, message boxes that record
instead of blocking, and settings small enough for a run to take about a second."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox


@pytest.fixture(autouse=True)
def messages(monkeypatch):
    """Every QMessageBox.warning/critical/information call, as (title, text), never blocking.
    A modal dialog left unanswered would hold the test for good (offscreen, nobody clicks), so
    questions are answered No, a message box's own exec() and the file dialogs Cancel, unless
    a test answers them itself."""
    seen: list[tuple[str, str]] = []

    def record(parent, title, text, *args, **kwargs):
        seen.append((title, text))
        return QMessageBox.StandardButton.Ok

    def refuse(parent, title, text, *args, **kwargs):
        seen.append((title, text))
        return QMessageBox.StandardButton.No

    def box_exec(box):
        seen.append((box.windowTitle(), box.text()))
        return int(QMessageBox.StandardButton.Cancel.value)

    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, record)
    monkeypatch.setattr(QMessageBox, "question", refuse)
    monkeypatch.setattr(QMessageBox, "exec", box_exec)
    for name in ("getOpenFileName", "getOpenFileNames", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, lambda *a, **k: ("", ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    return seen


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build a window on a given data folder (so a 'restart' can reuse it)."""
    from nst_gui.app import create_app
    from nst_gui.main_window import MainWindow

    create_app()
    windows = []

    def make(data_dir=None, ini=None):
        data_dir = data_dir or tmp_path / "data"
        store = QSettings(str(ini or tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        w = MainWindow(data_dir=data_dir, store=store)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:  # a worker that does not stop fails here instead of holding the run
        for c in w.gate.controllers():
            assert c.shutdown(timeout_ms=120000), "a worker did not stop within 2 minutes"


@pytest.fixture
def window(make_window):
    w = make_window()
    w.params.size.setValue(64)
    w.params.iterations.setValue(6)
    w.params.multiscale.setChecked(False)
    return w


@pytest.fixture
def batch_window(window, tmp_path, painting_path):
    """A window set up for tiny, quick batch items."""
    window.images.add_style(str(painting_path))
    window.inputs.remove_style(window.inputs.rows[0])  # only the small painting
    window.params.size.setValue(48)
    window.params.iterations.setValue(3)
    window.batch.output_edit.setText(str(tmp_path / "batch-out"))
    return window


def wait_idle(qtbot, window, timeout=60000):
    """Until no painting, training or video render is under way."""
    qtbot.waitUntil(lambda: not window.gate.long_running(), timeout=timeout)
