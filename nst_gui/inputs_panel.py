"""The inputs panel: the photo, the paintings with their blend weights, and galleries of the
bundled samples. Images are read through the engine's loader, so what the panel accepts is what
a run can use; a file it cannot use raises `ImageError` and changes nothing."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QGroupBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QToolButton, QVBoxLayout, QWidget)

from nst_core.media.images import load_image
from nst_app.samples import sample_contents, sample_styles

from .qtimage import thumbnail, thumbnail_from_file, to_qimage

THUMB = 56
BEFORE_SIDE = 2048  # the "before" image kept for the compare view


def pretty_name(path: str | Path) -> str:
    return Path(path).stem.replace("_", " ").replace("-", " ").title()


class StyleRow(QWidget):
    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, path: str, image: QImage, weight: float = 1.0):
        super().__init__()
        self.path = path
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        thumb = QLabel()
        thumb.setPixmap(QPixmap.fromImage(thumbnail(image, THUMB)))
        thumb.setFixedSize(THUMB, THUMB)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(thumb)
        name = QLabel(pretty_name(path))
        name.setToolTip(path)
        name.setMinimumWidth(60)
        lay.addWidget(name, 1)
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0.0, 100.0)
        self.weight.setDecimals(2)
        self.weight.setSingleStep(0.1)
        self.weight.setFixedWidth(70)
        self.weight.setValue(weight)
        self.weight.setToolTip("Blend weight: how much this painting counts relative to the "
                               "others (the weights are normalized).")
        self.weight.valueChanged.connect(self.changed)
        lay.addWidget(self.weight)
        remove = QToolButton()
        remove.setText("✕")
        remove.setToolTip("Remove this painting")
        remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.remove_button = remove
        lay.addWidget(remove)


class InputsPanel(QWidget):
    changed = Signal()
    open_content_requested = Signal()
    paste_content_requested = Signal()
    add_style_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.content_path = ""
        self.content_size = (0, 0)  # the photo's (width, height) as loaded
        self.content_image = QImage()  # the photo, for the before/after compare
        self.rows: list[StyleRow] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)

        self.content_box = QGroupBox("Photo")
        cl = QVBoxLayout(self.content_box)
        self.content_thumb = QLabel("Drop a photo here")
        self.content_thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.content_thumb.setMinimumHeight(150)
        self.content_thumb.setToolTip("The photograph to repaint. Drop an image here, open one, "
                                      "or paste one from the clipboard.")
        cl.addWidget(self.content_thumb)
        self.content_name = QLabel()
        self.content_name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cl.addWidget(self.content_name)
        row = QHBoxLayout()
        b = QPushButton("Open…")
        b.setToolTip("Choose the photo (Ctrl+O)")
        b.clicked.connect(self.open_content_requested)
        row.addWidget(b)
        b = QPushButton("Paste")
        b.setToolTip("Use the image on the clipboard as the photo (Ctrl+V)")
        b.clicked.connect(self.paste_content_requested)
        row.addWidget(b)
        cl.addLayout(row)
        self.content_gallery = self._gallery(sample_contents(), 48, self._pick_content_sample)
        self.content_gallery.setToolTip("Bundled sample photos: click one to use it")
        cl.addWidget(self.content_gallery)
        lay.addWidget(self.content_box)

        self.styles_box = QGroupBox("Paintings")
        sl = QVBoxLayout(self.styles_box)
        self.rows_layout = QVBoxLayout()
        sl.addLayout(self.rows_layout)
        b = QPushButton("Add painting…")
        b.setToolTip("Add a painting whose style to use (Ctrl+Shift+O). Several paintings blend.")
        b.clicked.connect(self.add_style_requested)
        sl.addWidget(b)
        sl.addWidget(QLabel("Bundled paintings (click to add):"))
        self.style_gallery = self._gallery(sample_styles(), 64, self._pick_style_sample)
        sl.addWidget(self.style_gallery)
        lay.addWidget(self.styles_box)
        lay.addStretch(1)
        self.error_handler = None  # set by the window: called with an ImageError

    def _gallery(self, paths: list[Path], side: int, on_click) -> QListWidget:
        g = QListWidget()
        g.setViewMode(QListWidget.ViewMode.IconMode)
        g.setIconSize(QSize(side, side))
        g.setResizeMode(QListWidget.ResizeMode.Adjust)
        g.setMovement(QListWidget.Movement.Static)
        g.setWrapping(True)
        g.setSpacing(2)
        g.setFixedHeight(side * 2 + 24)
        for p in paths:
            icon = QIcon(QPixmap.fromImage(thumbnail_from_file(str(p), side)))
            item = QListWidgetItem(icon, "")
            item.setToolTip(pretty_name(p))
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            g.addItem(item)
        g.itemClicked.connect(lambda item: on_click(item.data(Qt.ItemDataRole.UserRole)))
        return g

    def _pick_content_sample(self, path: str) -> None:
        self._guarded(self.set_content, path)

    def _pick_style_sample(self, path: str) -> None:
        if path not in self.style_paths():
            self._guarded(self.add_style, path)

    def _guarded(self, fn, *args) -> None:
        from nst_core import ImageError

        try:
            fn(*args)
        except ImageError as e:
            if self.error_handler is not None:
                self.error_handler(e)
            else:
                raise

    # ---- state ---------------------------------------------------------------------------------
    def set_content(self, path: str) -> None:
        """Use `path` as the photo. Raises ImageError (and changes nothing) if unusable."""
        img = load_image(path)
        q = to_qimage(img.rgb)
        if max(q.width(), q.height()) > BEFORE_SIDE:
            q = thumbnail(q, BEFORE_SIDE)
        self.content_path = str(Path(path).absolute())
        self.content_size = img.size
        self.content_image = q
        self.content_thumb.setPixmap(QPixmap.fromImage(thumbnail(q, 200)))
        self.content_name.setText(pretty_name(path))
        self.content_name.setToolTip(self.content_path)
        self.changed.emit()

    def add_style(self, path: str, weight: float = 1.0) -> None:
        """Add a painting. Raises ImageError (and changes nothing) if unusable."""
        img = load_image(path)
        self._append_row(path, to_qimage(img.rgb), weight)
        self._sync_remove_buttons()
        self.changed.emit()

    def _append_row(self, path: str, image: QImage, weight: float) -> None:
        row = StyleRow(str(Path(path).absolute()), image, weight)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self.remove_style)
        self.rows.append(row)
        self.rows_layout.addWidget(row)

    def remove_style(self, row: StyleRow) -> None:
        if len(self.rows) <= 1:
            return  # a run needs at least one painting
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self._sync_remove_buttons()
        self.changed.emit()

    def set_styles(self, paths: list[str], weights: list[float] | None = None) -> None:
        """Replace the paintings (all are checked first; on error nothing changes)."""
        weights = weights or [1.0] * len(paths)
        loaded = [(p, w, to_qimage(load_image(p).rgb)) for p, w in zip(paths, weights)]
        for row in list(self.rows):
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for p, w, q in loaded:
            self._append_row(p, q, w)
        self._sync_remove_buttons()
        self.changed.emit()

    def _sync_remove_buttons(self) -> None:
        for row in self.rows:
            row.remove_button.setEnabled(len(self.rows) > 1)

    def style_paths(self) -> list[str]:
        return [r.path for r in self.rows]

    def blend(self) -> tuple[float, ...]:
        weights = tuple(r.weight.value() for r in self.rows)
        return () if len(set(weights)) <= 1 else weights
