"""The Regions page: paint over the photo where each painting goes, and where the photo stays
itself. While the page is in front the canvas shows the photo with the regions in colour and the
left button paints (the right button pans); elsewhere the regions lie dimmed over the picture.
`RegionsWork` ties the page to the window: the paintings it offers are the Images page's, the
masks become files under the app's data folder when a run asks for the settings, and settings
restored from the history or a saved picture bring their regions back."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QFormLayout,
                               QGridLayout, QLabel, QPushButton, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from nst_core import ImageError, NSTError, TransferSettings
from nst_core.media.masks import load_mask

from .file_filters import IMAGE_FILTER
from .inputs_panel import pretty_name
from .regions import KEEP, RegionMasks, colour
from .spinboxes import DoubleSpinBox

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

#: how strongly the regions show: over the photo while painting, over the picture otherwise
PAINTING_OPACITY, DIMMED_OPACITY = 0.45, 0.18


def _swatch(i: int) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(colour(i) if i != KEEP else Qt.GlobalColor.lightGray)
    return QIcon(pix)


class RegionsPanel(QWidget):
    """The tools: what the brush paints, brush or eraser, size and hardness, undo and redo,
    clear, load and save a mask, soft edges, and whether the regions show over the picture."""

    load_requested = Signal()
    save_requested = Signal()
    shown_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.about = QLabel("Paint where each painting goes. A painting you give no region "
                            "covers the whole picture; where no painting's region reaches, the "
                            "picture keeps the photo. Left button paints, right button pans.")
        self.target = QComboBox()
        self.target.setToolTip("What the brush paints: a painting's region, or the photo kept "
                               "as it is (takes every painting away there)")
        self.brush_button = QToolButton(text="Brush", checkable=True, checked=True)
        self.eraser_button = QToolButton(text="Eraser", checkable=True)
        self.eraser_button.setToolTip("Take the chosen painting's region away (E)")
        self.brush_button.setToolTip("Paint the chosen painting's region (B)")
        self.brush_button.setShortcut(QKeySequence("B"))
        self.eraser_button.setShortcut(QKeySequence("E"))
        tools = QButtonGroup(self)
        tools.addButton(self.brush_button)
        tools.addButton(self.eraser_button)
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(2, 300)
        self.size.setValue(40)
        self.size.setToolTip("The brush's radius, in pixels of the photo as painted ([ and ] "
                             "make it smaller and larger)")
        self.hardness = QSlider(Qt.Orientation.Horizontal)
        self.hardness.setRange(0, 100)
        self.hardness.setValue(60)
        self.hardness.setToolTip("How much of the brush is solid before it fades out")
        self.undo_button, self.redo_button = QToolButton(), QToolButton()
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Take every region away: every painting covers the whole "
                                     "picture again")
        self.load_button = QPushButton("Load Mask…")
        self.load_button.setToolTip("A greyscale image (white = this painting) as the chosen "
                                    "painting's region")
        self.save_button = QPushButton("Save Mask…")
        self.save_button.setToolTip("Save the chosen painting's region as an image")
        meta = TransferSettings.meta("soft_edges")
        self.soft = DoubleSpinBox()
        self.soft.setRange(*meta["range"])
        self.soft.setDecimals(1)
        self.soft.setSingleStep(0.5)
        self.soft.setSuffix(" %")
        self.soft.setValue(TransferSettings().soft_edges)
        self.soft.setToolTip(meta["help"])
        self.show_over = QCheckBox("Show the regions over the picture")
        self.show_over.setChecked(True)
        self.state = QLabel()

        buttons = QGridLayout()
        buttons.addWidget(self.brush_button, 0, 0)
        buttons.addWidget(self.eraser_button, 0, 1)
        buttons.addWidget(self.undo_button, 0, 2)
        buttons.addWidget(self.redo_button, 0, 3)
        form = QFormLayout()
        form.addRow("Paint", self.target)
        form.addRow("Tool", buttons)
        form.addRow("Brush size", self.size)
        form.addRow("Hardness", self.hardness)
        form.addRow(meta["label"], self.soft)
        files = QGridLayout()
        files.addWidget(self.load_button, 0, 0)
        files.addWidget(self.save_button, 0, 1)
        files.addWidget(self.clear_button, 0, 2)
        lay = QVBoxLayout(self)
        lay.addWidget(self.about)
        lay.addLayout(form)
        lay.addLayout(files)
        lay.addWidget(self.show_over)
        lay.addWidget(self.state)
        lay.addStretch(1)
        self.load_button.clicked.connect(self.load_requested)
        self.save_button.clicked.connect(self.save_requested)
        self.show_over.toggled.connect(self.shown_changed)

    def set_paintings(self, paths: list[str], painted: set[str]) -> None:
        """Offer each painting (in its colour) and the photo; say which have a region."""
        # what the brush painted stays chosen (the photo only if there were paintings to choose)
        chosen = self.target.currentData() if self.target.count() > 1 else None
        self.target.blockSignals(True)
        self.target.clear()
        for i, path in enumerate(paths):
            self.target.addItem(_swatch(i), pretty_name(path), path)
        self.target.addItem(_swatch(KEEP), "Keep the photo", KEEP)
        index = self.target.findData(chosen) if chosen is not None else -1
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)
        if not painted:
            text = "No regions yet: every painting covers the whole picture."
        else:
            parts = [f"{pretty_name(p)}: {'its region' if p in painted else 'everywhere'}"
                     for p in paths]
            text = "; ".join(parts) + ". Unpainted parts keep the photo." \
                if all(p in painted for p in paths) else "; ".join(parts) + "."
        self.state.setText(text)

    def chosen(self) -> str | int:
        data = self.target.currentData()
        return KEEP if data is None else data


class RegionsWork(QObject):
    """The regions of the window `w`: the page's tools on the canvas, masks to and from
    settings."""

    def __init__(self, w: MainWindow, panel: RegionsPanel):
        super().__init__(w)
        self.w, self.panel = w, panel
        self.model = RegionMasks(self)
        self.active = False  # the page is in front: the canvas paints
        self._kept_image: QImage | None = None  # what the canvas showed before
        self._photo = ""
        stack = self.model.undo_stack
        for button, action in ((panel.undo_button, stack.createUndoAction(self, "Undo")),
                               (panel.redo_button, stack.createRedoAction(self, "Redo"))):
            action.setShortcut(QKeySequence.StandardKey.Undo if button is panel.undo_button
                               else QKeySequence.StandardKey.Redo)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            button.setDefaultAction(action)
            w.canvas.addAction(action)
            panel.addAction(action)
        for keys, factor in (("[", 0.8), ("]", 1.25)):  # brush size, as painting programs do
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, f=factor: panel.size.setValue(
                max(panel.size.minimum(), min(panel.size.maximum(),
                                              round(panel.size.value() * f)))))
            w.canvas.addAction(action)
            panel.addAction(action)
        self.model.changed.connect(self.refresh)
        panel.clear_button.clicked.connect(self.model.clear)
        panel.load_requested.connect(self.load_dialog)
        panel.save_requested.connect(self.save_dialog)
        panel.shown_changed.connect(lambda _: self.refresh())
        panel.size.valueChanged.connect(lambda _: self._brush())
        panel.target.currentIndexChanged.connect(  # only a painting with a region saves
            lambda _: panel.save_button.setEnabled(panel.chosen() in self.model.masks))
        w.canvas.stroke.connect(self.stroke)
        w.inputs.changed.connect(self.inputs_changed)
        self.inputs_changed()

    # ---- what the settings carry ---------------------------------------------------------------
    def values(self) -> dict:
        """The regions for the settings: mask files (kept under the data folder) and the soft
        edges."""
        folder = Path(self.w.data_dir) / "masks"
        try:
            masks = self.model.files(self.w.inputs.style_paths(), folder)
        except OSError as e:  # a full or read-only disk: the run goes without regions
            log.warning("cannot keep the regions in %s: %s", folder, e)
            self.w.statusBar().showMessage(f"The regions cannot be kept ({e}); this run paints "
                                           "without them", 8000)
            masks = ()
        return {"masks": masks, "soft_edges": self.panel.soft.value()}

    def restore(self, s: TransferSettings) -> list[str]:
        """The regions of restored settings; the problems met (a mask that cannot be read is
        left out)."""
        self.panel.soft.setValue(s.soft_edges)
        self._sync_photo()
        masks, files, problems = {}, {}, []
        for style, path in zip(s.styles, s.masks):
            if not path:
                continue
            painting = str(Path(style).absolute())
            try:
                masks[painting] = _to_qimage(load_mask(path))
                files[painting] = path
            except ImageError as e:
                problems.append(f"{e} (its painting covers the whole picture instead)")
        self.model.replace_all(masks, files)
        return problems

    # ---- the page ------------------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """The page came to the front (paint over the photo) or went (show the picture)."""
        if on == self.active:
            return
        self.active = on
        canvas, photo = self.w.canvas, self.w.inputs.content_image
        if on:
            self._kept_image = canvas.image()
            if not photo.isNull():
                canvas.set_image(photo)
        else:
            kept, self._kept_image = self._kept_image, None
            # the picture shown before comes back, unless a newer one (a preview) replaced the
            # photo meanwhile
            if kept is not None and not kept.isNull() \
                    and canvas.image().cacheKey() == photo.cacheKey():
                canvas.set_image(kept)
        self._brush()
        self.refresh()

    def _brush(self) -> None:
        canvas = self.w.canvas
        if not self.active or not canvas.has_image():
            canvas.set_brush(None)
            return
        canvas.set_brush(self.panel.size.value() / self.model.scale(canvas.image().width()))

    def refresh(self) -> None:
        paths = self.w.inputs.style_paths()
        painted = {p for p in paths if p in self.model.masks}
        self.panel.set_paintings(paths, painted)
        self.panel.save_button.setEnabled(self.panel.chosen() in self.model.masks)
        show = self.active or self.panel.show_over.isChecked()
        if painted and show:
            self.w.canvas.set_overlay(self.model.overlay(paths),
                                      PAINTING_OPACITY if self.active else DIMMED_OPACITY)
        else:
            self.w.canvas.set_overlay(None)

    def _sync_photo(self) -> None:
        image = self.w.inputs.content_image
        if self.w.inputs.content_path != self._photo:
            self._photo = self.w.inputs.content_path
            self.model.set_photo_size(image.width(), image.height())

    def inputs_changed(self) -> None:
        had = bool(self.model.masks)
        photo = self._photo
        self._sync_photo()
        if had and photo and photo != self._photo:
            self.w.statusBar().showMessage("A new photo: its regions start empty", 5000)
        if self.active and not self.w.inputs.content_image.isNull():
            self.w.canvas.set_image(self.w.inputs.content_image)
        self._brush()
        self.refresh()

    # ---- painting ------------------------------------------------------------------------------
    def stroke(self, phase: str, point: QPointF) -> None:
        if not self.active:
            return
        canvas, p = self.w.canvas, self.panel
        at = point * self.model.scale(canvas.image().width())
        if phase == "end":
            self.model.end("Erase" if p.eraser_button.isChecked() else "Paint")
            return
        args = (at, p.chosen(), float(p.size.value()), p.hardness.value() / 100.0,
                p.eraser_button.isChecked(), self.w.inputs.style_paths())
        (self.model.begin if phase == "begin" else self.model.move)(*args)

    # ---- files ---------------------------------------------------------------------------------
    def load_dialog(self) -> None:
        target = self.panel.chosen()
        if target == KEEP:
            self.w.show_error("Choose a painting", "A mask is a painting's region: choose the "
                              "painting it belongs to under Paint first.")
            return
        path, _ = QFileDialog.getOpenFileName(self.w, "Load mask", self.w._last_dir(),
                                              IMAGE_FILTER)
        if path:
            self.load_mask(target, path)

    def load_mask(self, painting: str, path: str) -> bool:
        try:
            mask = load_mask(path)
        except ImageError as e:
            self.w.show_error("Cannot use this mask", f"{e}\n\nThe regions are unchanged.")
            return False
        self.model.set_mask(painting, _to_qimage(mask))
        return True

    def save_dialog(self) -> None:
        target = self.panel.chosen()
        mask = self.model.masks.get(target) if target != KEEP else None
        if mask is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.w, "Save mask", self.w._last_dir(),
                                              "PNG (*.png)")
        if path:
            self.save_mask(target, path if path.lower().endswith(".png") else path + ".png")

    def save_mask(self, painting: str, path: str) -> bool:
        from nst_core.media.files import write_atomic

        from .regions import png_bytes

        try:
            write_atomic(path, png_bytes(self.model.masks[painting]))
        except (OSError, NSTError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            self.w.show_error("Cannot save the mask", f"{path}: {reason}")
            return False
        self.w.statusBar().showMessage(f"Mask saved to {path}", 4000)
        return True


def _to_qimage(mask: np.ndarray) -> QImage:
    arr = np.ascontiguousarray(mask)
    h, w = arr.shape
    return QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
