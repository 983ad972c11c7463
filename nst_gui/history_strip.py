"""The history strip along the bottom: every result, newest first, with its thumbnail."""
from __future__ import annotations

import time

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nst_app.history import HistoryEntry

from .qtimage import thumbnail, thumbnail_from_file

#: Entries shown at start-up; "Show older" brings the rest.
FIRST_SHOWN = 200


class HistoryStrip(QWidget):
    entry_clicked = Signal(object)  # HistoryEntry
    restore_requested = Signal(object)  # HistoryEntry, or None when nothing is selected
    delete_requested = Signal(list)  # the selected HistoryEntry objects
    folder_requested = Signal()  # show the history's folder

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(72, 54))
        self.list.setGridSize(QSize(86, 76))
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setFixedHeight(86)
        self.list.setToolTip("Every run of this and earlier sessions, from the window and the "
                             "command line (▶: a video). Click to show it; right-click for "
                             "more, Delete to remove the selected ones.")
        self.delete_action = QAction("Delete from History…", self.list)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_action.triggered.connect(self._delete_selected)
        self.list.addAction(self.delete_action)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.context_menu = QMenu(self)  # filled anew at each right-click
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        title = QLabel("<b>History</b>")
        title.setToolTip("View > History (Ctrl+Shift+H) hides or shows this strip")
        buttons.addWidget(title)
        self.restore_button = QPushButton("Restore settings")
        self.restore_button.setToolTip("Load the selected run's settings and images into the "
                                       "panels")
        self.restore_button.clicked.connect(lambda: self.restore_requested.emit(self.selected()))
        buttons.addWidget(self.restore_button)
        self.older_button = QPushButton("Show older")
        self.older_button.setToolTip("Show the runs older than those listed")
        self.older_button.clicked.connect(self.show_older)
        self.older_button.setVisible(False)
        buttons.addWidget(self.older_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.setMaximumHeight(96)
        self._older: list[HistoryEntry] = []
        self.list.itemClicked.connect(
            lambda item: self.entry_clicked.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.itemDoubleClicked.connect(
            lambda item: self.restore_requested.emit(item.data(Qt.ItemDataRole.UserRole)))

    def count(self) -> int:
        return self.list.count()

    def selected(self) -> HistoryEntry | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected_entries(self) -> list[HistoryEntry]:
        return [i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()]

    def _delete_selected(self) -> None:
        entries = self.selected_entries()
        if entries:
            self.delete_requested.emit(entries)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        menu = self.context_menu
        menu.clear()
        if item is not None:
            if not item.isSelected():
                self.list.setCurrentItem(item)
            entry = item.data(Qt.ItemDataRole.UserRole)
            menu.addAction("Show", lambda: self.entry_clicked.emit(entry))
            menu.addAction("Restore Settings", lambda: self.restore_requested.emit(entry))
            menu.addSeparator()
            menu.addAction(self.delete_action)
            menu.addSeparator()
        menu.addAction("Open History Folder", self.folder_requested.emit)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def remove(self, entries: list[HistoryEntry]) -> None:
        """Take these entries' items out of the strip."""
        gone = {e.image_path for e in entries}
        for row in reversed(range(self.list.count())):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole).image_path in gone:
                self.list.takeItem(row)

    def load(self, entries: list[HistoryEntry]) -> None:
        """Show the newest FIRST_SHOWN entries (oldest first in `entries`)."""
        self.list.clear()
        self._older = entries[:-FIRST_SHOWN] if len(entries) > FIRST_SHOWN else []
        for entry in entries[-FIRST_SHOWN:]:
            self.add(entry, None)
        self.older_button.setVisible(bool(self._older))

    def show_older(self) -> None:
        older, self._older = self._older, []
        for entry in reversed(older):
            self.list.addItem(self._item(entry, None))
        self.older_button.setVisible(False)

    def add(self, entry: HistoryEntry, image: QImage | None, select: bool = False) -> None:
        item = self._item(entry, image)
        self.list.insertItem(0, item)  # newest first
        if select:  # the new one alone: earlier selections go
            self.list.setCurrentItem(item, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _item(self, entry: HistoryEntry, image: QImage | None) -> QListWidgetItem:
        if image is None:  # from disk: read at thumbnail size, not the whole picture
            image = thumbnail_from_file(entry.image_path, 96)
        when = time.strftime("%H:%M", time.localtime(entry.created))
        mark = {"stopped": " ■", "failed": " ✕"}.get(entry.status, "") \
            + (" ▶" if entry.kind == "video" else "")
        icon = QIcon(QPixmap.fromImage(thumbnail(image, 96))) if not image.isNull() else QIcon()
        item = QListWidgetItem(icon, when + mark)
        item.setToolTip(entry.label())
        item.setData(Qt.ItemDataRole.UserRole, entry)
        return item
