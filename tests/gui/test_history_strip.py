"""The history strip: deleting pictures (the Delete key, the context menu), what stays on show,
a delete that fails, and the history's folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from nst_core.kinds.still import StillResult
from nst_gui.qtimage import to_array
from tests.conftest import make_photo, read_rgb


@pytest.fixture
def answer(monkeypatch):
    """QMessageBox.question answers what `answer.value` holds, and records what it asked."""
    class Answer:
        value = QMessageBox.StandardButton.Yes
        asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        Answer.asked.append(text)
        return Answer.value

    monkeypatch.setattr(QMessageBox, "question", question)
    return Answer


@pytest.fixture
def three(window, tiny_settings):
    """Three pictures in the window's history, shown in the strip (newest first)."""
    entries = [window.history.add(StillResult(make_photo(16, 16, seed=i), tiny_settings,
                                              iterations=i + 1)) for i in range(3)]
    window.history_strip.load(window.history.entries())
    return entries


def _select(window, rows):
    window.history_list.clearSelection()
    for row in rows:
        window.history_list.item(row).setSelected(True)


def test_the_delete_key_deletes_the_selected_pictures(window, qtbot, three, answer):
    _select(window, [0, 2])  # the newest and the oldest
    window.history_list.setFocus()
    qtbot.keyClick(window.history_list, Qt.Key.Key_Delete)
    assert "these 2 pictures" in answer.asked[-1]
    assert window.history_list.count() == 1
    left = window.history_list.item(0).data(Qt.ItemDataRole.UserRole)
    assert left.image_path == three[1].image_path
    assert not Path(three[0].image_path).exists() and not Path(three[2].image_path).exists()
    assert [e.image_path for e in window.history.entries()] == [three[1].image_path]
    assert "Deleted 2" in window.statusBar().currentMessage()


def test_answering_no_deletes_nothing(window, qtbot, three, answer):
    answer.value = QMessageBox.StandardButton.No
    _select(window, [1])
    window.history_list.setFocus()
    qtbot.keyClick(window.history_list, Qt.Key.Key_Delete)
    assert "this picture" in answer.asked[-1]
    assert window.history_list.count() == 3 and len(window.history.entries()) == 3


def test_the_picture_on_show_stays_when_its_entry_is_deleted(window, three, answer, tmp_path):
    window.history_list.setCurrentRow(0)
    window.history_work.show_entry(window.history_strip.selected())
    shown = to_array(window.canvas.image())
    assert window.current_path == three[2].image_path
    assert window.history_work.delete([three[2]]) == 1
    assert np.array_equal(to_array(window.canvas.image()), shown)
    assert window.current is not None and window.current_path == ""
    assert window.results.save_to(str(tmp_path / "kept.png"))  # Save As still has it
    assert np.array_equal(read_rgb(tmp_path / "kept.png"), shown)


def test_a_delete_that_fails_keeps_the_entry_and_says_why(window, three, answer, messages,
                                                          monkeypatch):
    def refuse(entry):
        raise PermissionError(13, "Permission denied", entry.image_path)

    monkeypatch.setattr(window.history, "remove", refuse)
    assert window.history_work.delete([three[0]]) == 0
    assert messages[-1][0] == "Some pictures could not be deleted"
    assert f"{Path(three[0].image_path).name}: Permission denied" in messages[-1][1]
    assert window.history_list.count() == 3


def test_the_context_menu_offers_delete_and_the_folder(window, three, answer, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    strip = window.history_strip
    strip._menu(strip.list.visualItemRect(strip.list.item(1)).center())
    menu = strip.context_menu
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Show", "Restore Settings", "Delete from History…",
                     "Open History Folder"]
    assert strip.selected().image_path == three[1].image_path  # the item right-clicked
    menu.close()
    next(a for a in menu.actions() if a.text() == "Open History Folder").trigger()
    assert opened == [QUrl.fromLocalFile(str(window.history.folder))]
    next(a for a in menu.actions() if a.text().startswith("Delete")).trigger()
    assert window.history_list.count() == 2 and not Path(three[1].image_path).exists()
    strip._menu(QPoint(-50, -50))  # on no item: only the folder
    assert [a.text() for a in strip.context_menu.actions()] == ["Open History Folder"]
    strip.context_menu.close()


def test_a_new_picture_is_the_only_one_selected(window):
    """Each finished picture is selected alone: the earlier ones do not stay highlighted."""
    from nst_app.history import HistoryEntry
    from PySide6.QtGui import QImage

    image = QImage(8, 8, QImage.Format.Format_RGB888)
    image.fill(0)
    for i in range(3):
        window.history_strip.add(HistoryEntry(f"x{i}.png", 0.0, 1, 1.0, "done"), image,
                                 select=True)
        assert len(window.history_list.selectedItems()) == 1
    assert window.history_list.selectedItems()[0] is window.history_list.item(0)
