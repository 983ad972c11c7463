"""The Instant styles panel (a dock): the model library with the paintings' thumbnails, the
controls of Instant mode (strength, colours, size), and the buttons to train, resume, import,
export, refine and run the camera. Widgets only: it asks the window (signals) and nst_app."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from nst_app import models
from nst_core.base.errors import ModelError

from .qtimage import to_qimage
from .spinboxes import SpinBox

PATH_ROLE = Qt.ItemDataRole.UserRole


class InstantPanel(QWidget):
    #: (model path, strength 0..1, "style"|"keep", long side) whenever any of them changes
    #: while a model is chosen.
    apply_requested = Signal(str, float, str, int)
    mode_changed = Signal(bool)  # Instant mode on (a model chosen) or off
    train_requested = Signal()  # make an instant style from the current painting
    resume_requested = Signal(str)  # the model file to train further
    refine_requested = Signal()
    camera_requested = Signal(bool)  # start / stop

    def __init__(self, data_dir: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.data_dir = data_dir  # None: the app's data folder
        lay = QVBoxLayout(self)
        intro = QLabel("Pick an instant style: the photo is repainted at once, and again "
                       "whenever the photo or a setting below changes.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.list = QListWidget()
        self.list.setIconSize(QSize(72, 72))
        self.list.setMinimumHeight(180)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        lay.addWidget(self.list, 1)

        row = QHBoxLayout()
        row.addWidget(QLabel("Painting strength"))
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(100)
        self.strength.setToolTip("0 keeps the photo, 100 is the full style")
        row.addWidget(self.strength, 1)
        self.strength_label = QLabel("100%")
        row.addWidget(self.strength_label)
        lay.addLayout(row)
        row = QHBoxLayout()
        self.keep_colors = QCheckBox("Keep the photo's colours")
        row.addWidget(self.keep_colors)
        row.addStretch(1)
        row.addWidget(QLabel("Output size"))
        self.size = SpinBox()  # a number out of range is refused in one line
        self.size.setAccessibleName("Output size")
        self.size.setRange(64, 8192)
        self.size.setSingleStep(64)
        self.size.setValue(1024)
        self.size.setSuffix(" px")
        self.size.setToolTip("Long side of the picture: the same setting as the Paint page's "
                             "output size")
        row.addWidget(self.size)
        lay.addLayout(row)

        self.train_button = QPushButton("Make an instant style from this painting…")
        self.train_button.setToolTip("Train a network on the current painting (the first "
                                     "style image); it learns while you watch")
        self.resume_button = QPushButton("Resume training")
        self.refine_button = QPushButton("Refine with the full optimization")
        self.refine_button.setToolTip("Start the slow, best-quality painting from the instant "
                                      "picture")
        self.camera_button = QPushButton("Camera")
        self.camera_button.setCheckable(True)
        self.camera_button.setToolTip("Repaint the camera's feed live")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.remove_button = QPushButton("Remove")
        lay.addWidget(self.train_button)
        for pair in ((self.resume_button, self.refine_button),
                     (self.camera_button, self.import_button),
                     (self.export_button, self.remove_button)):
            row = QHBoxLayout()
            for b in pair:
                row.addWidget(b)
            lay.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)

        # Settings changes come in bursts (a slider drag): apply once they settle a moment.
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(120)
        self._settle.timeout.connect(self.request_apply)
        self.strength.valueChanged.connect(self._strength_moved)
        self.keep_colors.toggled.connect(lambda _: self._settle.start())
        self.size.valueChanged.connect(lambda _: self._settle.start())
        self.train_button.clicked.connect(self.train_requested)
        self.resume_button.clicked.connect(
            lambda: self.current_path() and self.resume_requested.emit(self.current_path()))
        self.refine_button.clicked.connect(self.refine_requested)
        self.camera_button.toggled.connect(self.camera_requested)
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button.clicked.connect(self.export_dialog)
        self.remove_button.clicked.connect(self.remove_selected)
        self.reload()

    # ---- the library ---------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """List the library again; keep (or make) `select` the chosen model."""
        keep = select or self.current_path()
        self.list.blockSignals(True)
        self.list.clear()
        for entry in models.library(self.data_dir):
            item = QListWidgetItem(entry.label)
            item.setData(PATH_ROLE, str(entry.path))
            if entry.model is not None:
                item.setIcon(QIcon(QPixmap.fromImage(to_qimage(entry.model.thumbnail))))
                m = entry.model
                item.setToolTip(f"{entry.path}\n{m.painting}: {m.steps_done} steps, network "
                                f"width {m.shape.width}, {m.shape.blocks} blocks"
                                + (" (ships with the app)" if entry.bundled else ""))
            else:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                item.setToolTip(entry.problem)
            self.list.addItem(item)
            if keep and str(entry.path) == keep:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_buttons()
        if select:
            self._selection_changed()

    def current_path(self) -> str:
        items = self.list.selectedItems()
        return str(items[0].data(PATH_ROLE)) if items else ""

    def select(self, path: str) -> bool:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(PATH_ROLE) == str(path):
                self.list.setCurrentItem(item)
                item.setSelected(True)
                return True
        return False

    def _entry(self, path: str) -> models.LibraryEntry | None:
        for e in models.library(self.data_dir):
            if str(e.path) == path:
                return e
        return None

    def _update_buttons(self) -> None:
        path = self.current_path()
        entry = self._entry(path) if path else None
        usable = entry is not None and entry.model is not None
        self.resume_button.setEnabled(bool(usable and not entry.bundled
                                           and not entry.model.finished))
        for b in (self.refine_button, self.camera_button, self.export_button):
            b.setEnabled(usable or (b is self.camera_button and b.isChecked()))
        self.remove_button.setEnabled(bool(entry is not None and not entry.bundled))

    def _selection_changed(self) -> None:
        self._update_buttons()
        on = bool(self.current_path())
        self.mode_changed.emit(on)
        if on:
            self.request_apply()

    def _strength_moved(self, value: int) -> None:
        self.strength_label.setText(f"{value}%")
        self._settle.start()

    def request_apply(self) -> None:
        path = self.current_path()
        if path:
            self.apply_requested.emit(path, self.strength.value() / 100.0,
                                      "keep" if self.keep_colors.isChecked() else "style",
                                      self.size.value())

    # ---- files ---------------------------------------------------------------------------------
    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import an instant style", str(Path.home()),
                                              "Instant styles (*.nst);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> bool:
        try:
            dst = models.import_model(path, self.data_dir)
        except ModelError as e:
            QMessageBox.warning(self, "Cannot import this file", str(e))
            return False
        self.reload(select=str(dst))
        self.status.setText(f"Imported {Path(path).name}")
        return True

    def export_dialog(self) -> None:
        src = self.current_path()
        if not src:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the instant style",
                                              str(Path.home() / Path(src).name),
                                              "Instant styles (*.nst)")
        if path:
            self.export_to(src, path if path.endswith(".nst") else path + ".nst")

    def export_to(self, src: str, dst: str) -> bool:
        try:
            models.export_model(src, dst)
        except ModelError as e:
            QMessageBox.warning(self, "Cannot export", str(e))
            return False
        self.status.setText(f"Exported to {dst}")
        return True

    def remove_selected(self) -> None:
        path = self.current_path()
        entry = self._entry(path) if path else None
        if entry is None or entry.bundled:
            return
        answer = QMessageBox.question(self, "Remove this instant style?",
                                      f"Delete {entry.path.name} from the library?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            entry.path.unlink()
        except OSError as e:
            QMessageBox.warning(self, "Cannot remove", f"{entry.path}: {e.strerror}")
            return
        self.reload()
        self.mode_changed.emit(False)
