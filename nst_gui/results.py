"""The picture on show and what can be done with it: save it (a PNG keeps its settings),
copy it, keep it in the history, start the next run from it; open a saved result (its settings
restored) or show a batch's picture. It asks the window for the picture on show and the
panels."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from nst_core import NSTError, SettingsError, TransferSettings
from nst_core.media.images import load_image, read_settings_json, save_image

from .file_filters import IMAGE_FILTER, SAVE_FILTER
from .outcome import RunOutcome
from .params_panel import ParamsPanel
from .qtimage import to_qimage

if TYPE_CHECKING:
    from .main_window import MainWindow


class Results(QObject):
    """The picture on show of the window `w`: Save As, Copy, Keep in History, Use as Start,
    Open Result."""

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w

    @Slot()
    def save_as(self) -> None:
        if self.w.current is None:
            return
        s, entry = self.w.current.settings, self.w.current.entry
        if entry is not None and entry.kind == "video":  # its poster
            name = f"{Path(entry.video).stem}_poster.png"
        else:
            name = ("_".join(Path(p).stem for p in (s.content, *s.styles[:1]) if p)
                    or "picture") + ".png"
        path, _ = QFileDialog.getSaveFileName(self.w, "Save picture",
                                              str(Path(self.w._last_dir()) / name), SAVE_FILTER)
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Save the current result (the dialog has already asked about overwriting)."""
        if self.w.current is None:
            return False
        if not Path(path).suffix:
            path += ".png"
        try:
            c = self.w.current
            save_image(path, c.rgb, c.settings.to_json(), overwrite=True, alpha=c.alpha,
                       deep=c.deep)
        except (NSTError, OSError) as e:
            self.w.show_error("Could not save", f"{e}\n\nChoose another folder or name.")
            return False
        self.w._remember_dir(path)
        self.w.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    @Slot()
    def keep_in_history(self) -> bool:
        """Put the picture on show, when the history does not hold it yet (an instant
        picture), into the history."""
        c = self.w.current
        if c is None or c.entry is not None or self.w.current_path:
            return False
        try:
            entry = self.w.history.add_image(c.rgb, c.settings, c.iterations, c.seconds,
                                           c.status, c.reason, "window")
        except (OSError, NSTError) as e:
            self.w.show_error("The picture is not in the history",
                            f"{getattr(e, 'strerror', None) or e}; save it with Save As.")
            return False
        c.entry = entry
        self.w.current_path = entry.image_path
        self.w.history_strip.add(entry, c.image, select=True)
        self.w._update_actions()
        self.w.statusBar().showMessage("Kept in the history", 4000)
        return True

    def copy_result(self) -> None:
        if self.w.current is not None:
            QGuiApplication.clipboard().setImage(self.w.current.image)
            self.w.statusBar().showMessage("Picture copied to the clipboard", 3000)

    @Slot()
    def use_result_as_init(self) -> None:
        if self.w.current is None:
            return
        path = self.w.current_path
        if not path or not Path(path).is_file():
            path = self.w.images.store_pasted(self.w.current.image)
        self.w.params.init_image.setText(path)
        ParamsPanel._select(self.w.params.init, "image")
        self.w.statusBar().showMessage("The next run starts from this picture", 4000)

    @Slot()
    def open_result(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open result", self.w._last_dir(),
                                              "PNG (*.png);;" + IMAGE_FILTER)
        if path:
            self.w._remember_dir(path)
            self.open_result_file(path)

    def open_result_file(self, path: str) -> bool:
        """Show a saved picture and restore the settings embedded in it."""
        try:
            text = read_settings_json(path)
            if text is None:
                raise SettingsError("settings", f"{Path(path).name} carries no NST Studio "
                                    "settings (only PNGs this app saved do)")
            settings = TransferSettings.from_json(text)
            settings.validate()  # before anything changes: the panels stay as they are
            picture = load_image(path)
        except NSTError as e:
            self.w.show_error("Cannot open this result", f"{e}\n\nThe current settings are kept.")
            return False
        problems = self.w.apply_settings(settings)
        rgb = picture.rgb
        self.w._set_current(RunOutcome(rgb, to_qimage(rgb), settings, 0, 0.0,
                                       alpha=picture.alpha), path,
                          f"Opened {Path(path).name}")
        if problems:
            self.w.show_error("Some images of these settings are missing",
                            "\n".join(problems) + "\n\nThe current images are kept.")
        return True

    def show_picture(self, path: str) -> bool:
        """Show a picture this app saved (a batch output) without touching the panels."""
        try:
            picture = load_image(path)
            text = read_settings_json(path)
            settings = TransferSettings.from_json(text) if text else self.w.current_settings()
        except NSTError as e:
            self.w.show_error("Cannot show this picture", str(e))
            return False
        rgb = picture.rgb
        self.w._set_current(RunOutcome(rgb, to_qimage(rgb), settings, 0, 0.0,
                                       alpha=picture.alpha), path,
                          f"Showing {Path(path).name}")
        self.w.statusBar().showMessage(f"Showing {Path(path).name}", 4000)
        return True
