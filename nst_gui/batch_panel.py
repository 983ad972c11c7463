"""The batch queue dock: items with their state and thumbnail, start and stop, the output folder
and where to run (this computer or a Ray cluster). The queue itself (nst_app.batch) is saved in
the app's data folder after every change, so it survives a restart; this widget shows it and
asks a `JobController` to run it."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from nst_app.batch import (BatchItem, BatchQueue, ItemDone, QueueDone, plan_items, run_queue)
from nst_app.executors import ItemEvent, ItemFinished, ItemRequeued, ItemStarted, LocalExecutor
from nst_app.history import HistoryStore
from nst_app.keepers import keeper_for
from nst_core import SPARSE, Progress, TransferSettings

from .error_dialog import ErrorDialog
from .file_filters import IMAGE_FILTER
from .qtimage import thumbnail, thumbnail_from_file
from .ray_row import RayRow
from .worker import JobController

log = logging.getLogger(__name__)

ICON = 56
_STATE_TEXT = {"queued": "queued", "running": "running", "done": "done", "skipped":
               "already done", "failed": "failed", "stopped": "stopped (best so far kept)"}


class BatchPanel(QWidget):
    """Shows a BatchQueue and runs it. `settings_provider()` gives the window's current
    settings (validated or raising SettingsError)."""

    message = Signal(str)  # for the status bar
    error = Signal(str, str)  # title, text: for a message box
    item_finished = Signal(object)  # ItemDone
    picture_clicked = Signal(str)  # the file of a finished (or stopped) item that was clicked

    def __init__(self, queue: BatchQueue, history: HistoryStore,
                 settings_provider: Callable[[], TransferSettings], output_dir: str,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.history = history
        self.settings_provider = settings_provider
        self.controller = JobController(self)
        #: why the queue may not start now ("" when it may): the window's gate says
        self.may_start: Callable[[], str] = lambda: ""
        self._rows: dict[str, QListWidgetItem] = {}

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setToolTip("The pictures to render, in order. Each shows its state; a failed "
                             "one says why (hover). Click a finished one to show it.")
        lay.addWidget(self.list, 1)

        row = QHBoxLayout()
        self.add_photos_button = QPushButton("Add photos…")
        self.add_photos_button.setToolTip("Photos to render with each of the current paintings")
        self.add_photos_button.clicked.connect(self._add_photos_dialog)
        row.addWidget(self.add_photos_button)
        self.add_paintings_button = QPushButton("Add paintings…")
        self.add_paintings_button.setToolTip("Paintings to render the current photo with, one "
                                             "picture each")
        self.add_paintings_button.clicked.connect(self._add_paintings_dialog)
        row.addWidget(self.add_paintings_button)
        self.add_current_button = QPushButton("Add current")
        self.add_current_button.setToolTip("Add the current photo, paintings and settings as "
                                           "one item")
        self.add_current_button.clicked.connect(self.add_current)
        row.addWidget(self.add_current_button)
        lay.addLayout(row)
        row = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        row.addWidget(self.remove_button)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        row.addWidget(self.clear_button)
        lay.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Save new items to:"))
        self.output_edit = QLineEdit(output_dir)
        self.output_edit.setToolTip("The folder the pictures added from now on are saved in "
                                    "(made if missing); each item shows its file (hover)")
        row.addWidget(self.output_edit, 1)
        browse = QPushButton("…")
        browse.setFixedWidth(30)
        browse.clicked.connect(self._choose_output)
        row.addWidget(browse)
        lay.addLayout(row)

        self.ray = RayRow("Run on a Ray cluster:",
                          "Send the pictures to the workers of a Ray cluster")
        self.ray_check, self.ray_address = self.ray.check, self.ray.address
        lay.addWidget(self.ray)

        self.start_button = QPushButton("Start queue")
        self.start_button.clicked.connect(self.start_or_stop)
        lay.addWidget(self.start_button)
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)

        self.list.itemClicked.connect(self._clicked)
        self.controller.event.connect(self._on_event)
        self.controller.preview.connect(self._on_preview)
        self.controller.failed.connect(lambda e: self.error.emit("The queue cannot run", str(e)))
        self.controller.crashed.connect(self._on_crashed)
        self.controller.running_changed.connect(self._on_running_changed)
        self.refresh()

    # ---- the list ------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.list.clear()
        self._rows = {}
        for it in self.queue.items:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, it.id)
            self._rows[it.id] = item
            self.list.addItem(item)
            self._show(it, icon_from=self._icon_source(it))
        self._update_buttons()

    def _icon_source(self, it: BatchItem) -> str:
        if it.state in ("done", "skipped") and Path(it.output).is_file():
            return it.output
        settings = keeper_for(it.job).settings_of(it.job)
        return settings.content if settings is not None else ""

    def _show(self, it: BatchItem, icon_from: str | None = None,
              image: QImage | None = None) -> None:
        row = self._rows.get(it.id)
        if row is None:
            return
        state = _STATE_TEXT.get(it.state, it.state)
        if it.state == "running":
            state += f" {it.progress:.0%}"
        row.setText(f"{it.title}\n{state}" + (f": {it.error}" if it.error else ""))
        row.setToolTip(f"{it.title} → {it.output}\n{state}" + (f"\n{it.error}" if it.error else ""))
        if image is None and icon_from:
            image = thumbnail_from_file(icon_from, ICON)
        if image is not None and not image.isNull():
            row.setIcon(QIcon(QPixmap.fromImage(thumbnail(image, ICON))))

    def _clicked(self, row: QListWidgetItem) -> None:
        it = self.queue.get(row.data(Qt.ItemDataRole.UserRole))
        if it is None:
            return
        from nst_app.batch import partial_path

        for path in (Path(it.output), partial_path(it.output)):
            if it.state in ("done", "skipped", "stopped", "failed") and path.is_file():
                self.picture_clicked.emit(str(path))
                return

    def states(self) -> list[str]:
        return [it.state for it in self.queue.items]

    # ---- adding --------------------------------------------------------------------------------
    def _output_dir(self) -> str:
        return self.output_edit.text().strip() or str(Path.home() / "NST Studio")

    def _choose_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save the pictures in", self._output_dir())
        if path:
            self.output_edit.setText(path)

    def _current(self) -> TransferSettings | None:
        from nst_core import SettingsError

        try:
            return self.settings_provider()
        except SettingsError as e:
            self.error.emit("Check the settings", str(e))
            return None

    def add_photos(self, photos: list[str]) -> int:
        """Each photo with each current painting (separately), with the current settings."""
        s = self._current()
        if s is None or not photos:
            return 0
        return self._add(plan_items(photos, s.styles, self._output_dir(), s,
                                    taken=self._taken()))

    def add_paintings(self, paintings: list[str]) -> int:
        """The current photo with each painting, one picture each."""
        s = self._current()
        if s is None or not paintings:
            return 0
        return self._add(plan_items([s.content], paintings, self._output_dir(), s,
                                    taken=self._taken()))

    def add_current(self) -> int:
        s = self._current()
        if s is None:
            return 0
        return self._add(plan_items([s.content], s.styles, self._output_dir(), s, blend=True,
                                    taken=self._taken()))

    def _taken(self) -> set[str]:
        """The outputs the queue's items already have: new items get other names."""
        return {it.output for it in self.queue.items}

    def _add(self, items: list[BatchItem]) -> int:
        self.queue.add(items)
        self.refresh()
        self.message.emit(f"Added {len(items)} picture{'s' * (len(items) != 1)} to the queue")
        return len(items)

    def _add_photos_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos to add", "", IMAGE_FILTER)
        self.add_photos(paths)

    def _add_paintings_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Paintings to add", "", IMAGE_FILTER)
        self.add_paintings(paths)

    def remove_selected(self) -> None:
        ids = [i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()]
        self.queue.remove(ids)
        self.refresh()

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        self.refresh()

    # ---- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.controller.running

    def start_or_stop(self) -> None:
        if self.controller.running:
            self.stop()
        else:
            self.start()

    def executor(self):
        address = self.ray.address_or_none()
        if address is not None:
            from nst_app.ray_executor import RayExecutor

            return RayExecutor(address)
        return LocalExecutor()

    def start(self) -> bool:
        why = self.may_start()
        if why and not self.controller.running:
            self.message.emit(why)
            return False
        if self.controller.running or not self.queue.to_do():
            if not self.queue.to_do():
                self.message.emit("Nothing to render: add pictures to the queue first")
            return False
        for outdir in sorted({Path(it.output).parent for it in self.queue.to_do()}):
            try:
                outdir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                self.error.emit("Cannot use this folder", f"{outdir}: {e.strerror or e}. "
                                "Remove its items and add them again with another folder.")
                return False
        executor = self.executor()
        self.status.setText(f"Rendering on {executor.name}…")
        queue, history = self.queue, self.history
        return self.controller.start(lambda stop: run_queue(queue, executor, history, stop,
                                                            previews=SPARSE, source="batch"))

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self.status.setText("Stopping: the running pictures keep their best so far…")

    def _on_event(self, ev) -> None:
        item_id = ev.item_id if isinstance(ev, (ItemStarted, ItemEvent, ItemRequeued,
                                                 ItemFinished, ItemDone)) else None
        it = self.queue.get(item_id) if item_id else None
        if isinstance(ev, ItemStarted) and it is not None:
            self._show(it)
        elif isinstance(ev, ItemEvent) and isinstance(ev.event, Progress) and it is not None:
            self._show(it)
        elif isinstance(ev, ItemRequeued) and it is not None:
            self._show(it)
            self.message.emit(f"{it.title}: {ev.reason}; it goes back in the queue")
        elif isinstance(ev, ItemDone) and it is not None:
            self._show(it, icon_from=ev.output if ev.output else None)
            self.item_finished.emit(ev)
        elif isinstance(ev, QueueDone):
            text = (f"{ev.done} done, {ev.skipped} already done, {ev.failed} failed"
                    + (f", {ev.stopped} stopped" if ev.stopped else "")
                    + (f", {ev.remaining} not started" if ev.remaining else "")
                    + f" in {ev.seconds:.0f} s")
            self.status.setText(text)
            self.message.emit(f"Queue: {text}")

    def _on_preview(self, image: QImage, step: int, item_id: str) -> None:
        it = self.queue.get(item_id)
        if it is not None:
            self._show(it, image=image)

    def _on_crashed(self, summary: str, details: str) -> None:
        self.status.setText("The queue stopped on an unexpected error")
        ErrorDialog(summary, details, self).open()

    def _on_running_changed(self, running: bool) -> None:
        self.start_button.setText("Stop queue" if running else "Start queue")
        self._update_buttons()
        if not running:
            self.refresh()

    def _update_buttons(self) -> None:
        running = self.controller.running
        for b in (self.remove_button, self.clear_button):
            b.setEnabled(not running and bool(self.queue.items))
        self.ray.setEnabled(not running)
