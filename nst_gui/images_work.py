"""The Images page at work: the photo and the paintings, chosen by dialog, pasted, or dropped
(a pasted or dropped image is kept as a file of its own; a clip goes to the Video page). It asks the window for the panels
and the canvas."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QObject, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from nst_core import ImageError, NSTError, OutputExistsError
from nst_core.media.files import unique_path
from nst_core.media.images import save_image
from nst_core.media.video import is_video

from .file_filters import IMAGE_FILTER
from .qtimage import to_array

if TYPE_CHECKING:
    from .main_window import MainWindow


class ImagesWork(QObject):
    """The photo and the paintings of the window `w`."""

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w

    def set_content(self, path: str) -> bool:
        try:
            self.w.inputs.set_content(path)
        except ImageError as e:
            self.w.show_error("Cannot use this photo", f"{e}\n\nThe current photo is kept.")
            return False
        self.w.canvas.set_before(self.w.inputs.content_image)
        if not self.w.canvas.has_image() or self.w.current is None:
            self.w.canvas.set_image(self.w.inputs.content_image)
        self.w.statusBar().showMessage(f"Photo: {Path(path).name}", 4000)
        return True

    def add_style(self, path: str) -> bool:
        try:
            self.w.inputs.add_style(path)
        except ImageError as e:
            self.w.show_error("Cannot use this painting", f"{e}\n\nThe paintings are unchanged.")
            return False
        return True

    @Slot()
    def open_content(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open photo", self.w._last_dir(),
                                              IMAGE_FILTER)
        if path:
            self.w._remember_dir(path)
            self.set_content(path)

    @Slot()
    def add_style_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.w, "Add paintings", self.w._last_dir(),
                                                IMAGE_FILTER)
        for path in paths:
            self.w._remember_dir(path)
            self.add_style(path)

    def store_pasted(self, image: QImage) -> str:
        """Keep a pasted or dropped image as a file of its own (never overwriting another)."""
        folder = self.w.data_dir / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        rgb = to_array(image)
        while True:
            path = unique_path(folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png")
            try:
                return str(save_image(path, rgb))
            except OutputExistsError:  # taken between the check and the write: next name
                continue

    @Slot()
    def paste_content(self) -> None:
        if not self.take(QGuiApplication.clipboard().mimeData()):
            self.w.show_error("Nothing to paste", "The clipboard holds no image. Copy an image "
                              "(or an image file) first.")

    def take(self, mime: QMimeData | None, on_paintings: bool = False) -> bool:
        """Files or an image handed over, pasted or dropped: a clip opens on the Video page;
        images become the paintings (`on_paintings`: dropped onto them) or the first the photo;
        an image without a file is kept as a file of its own first. False if none came."""
        if mime is None:
            return False
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] \
            if mime.hasUrls() else []
        image = QImage(mime.imageData()) if not files and mime.hasImage() else QImage()
        if not image.isNull():
            try:
                files = [self.store_pasted(image)]
            except (NSTError, OSError) as e:
                self.w.show_error("Cannot keep this image",
                                  f"{e}\n\nThe current photo is kept.")
                return True
        if not files:
            return False
        if is_video(files[0]):
            self.w.videos.load_video(files[0])
        elif on_paintings:
            for f in files:
                self.add_style(f)
        else:
            self.set_content(files[0])
        return True
