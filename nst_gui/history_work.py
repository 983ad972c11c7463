"""The window's history strip at work: a click shows a run's picture (a video's poster), its
settings restore into the panels, pictures are deleted after asking, the folder opens. It asks
the window for the panels and the canvas."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from nst_app.history import HistoryEntry
from nst_core import ImageError, SettingsError
from nst_core.media.images import load_image

from .outcome import RunOutcome
from .qtimage import to_qimage

if TYPE_CHECKING:
    from .main_window import MainWindow


def history_caption(entry: HistoryEntry) -> str:
    """What the progress area says under a picture of the history."""
    when = time.strftime("%d %b %H:%M", time.localtime(entry.created))
    if entry.kind == "video":
        return f"From the history: the poster of {Path(entry.video).name}, {when}"
    how = f", {entry.iterations} iterations" if entry.iterations else ""
    return f"From the history: {entry.status}{how}, {when}"

class HistoryWork(QObject):
    """What the history strip asks of the window `w`."""

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w

    def batch_item_done(self, done) -> None:
        """A batch item's picture reached the history: show it in the strip too."""
        if done.entry is not None:
            self.w.history_strip.add(done.entry, None)

    def show_entry(self, entry: HistoryEntry) -> None:
        settings = entry.settings
        try:
            picture = load_image(entry.image_path)
        except ImageError as e:
            self.w.show_error("Cannot show this run", str(e))
            return
        if settings is None:
            settings = self.w.current_settings()
        self.w.videos.stop_playing()
        rgb = picture.rgb
        self.w._set_current(RunOutcome(rgb, to_qimage(rgb), settings, entry.iterations,
                                       entry.seconds, entry.status, entry.reason, entry=entry,
                                       alpha=picture.alpha),
                          entry.image_path, history_caption(entry))
        if entry.kind == "video":
            self.w.videos.show_history_entry(entry)

    @Slot()
    def restore_selected(self) -> None:
        self.restore(self.w.history_strip.selected())

    def restore(self, entry: HistoryEntry | None) -> None:
        if entry is None:
            self.w.statusBar().showMessage("Select a run in the history first", 3000)
            return
        if entry.kind == "video":
            self.w.videos.restore_settings(entry)
            return
        settings = entry.settings
        if settings is None:
            self.w.show_error("Cannot restore", "This run's settings cannot be read.")
            return
        try:
            settings.validate()  # before anything changes: the panels stay as they are
        except SettingsError as e:
            self.w.show_error("Cannot restore these settings",
                            f"{e}\n\nThe current settings are kept.")
            return
        problems = self.w.apply_settings(settings)
        if problems:
            self.w.show_error("Some images of this run are missing",
                            "\n".join(problems) + "\n\nThe current images are kept.")
        self.w.statusBar().showMessage("Settings restored from the history", 4000)

    def delete(self, entries: list[HistoryEntry]) -> int:
        """Delete these entries' pictures from the history, after asking; a video's own file
        stays. The picture on show stays on the canvas. Returns how many were deleted."""
        if not entries:
            return 0
        what = "this picture" if len(entries) == 1 else f"these {len(entries)} pictures"
        videos = " Videos stay where they were rendered; only their posters go." \
            if any(e.kind == "video" for e in entries) else ""
        answer = QMessageBox.question(
            self, "Delete from the history?",
            f"Delete {what} from the history? The files are removed from "
            f"{self.w.history.folder}.{videos}")
        if answer != QMessageBox.StandardButton.Yes:
            return 0
        done, problems = [], []
        for entry in entries:
            try:
                self.w.history.remove(entry)
                done.append(entry)
            except (OSError, ValueError) as e:
                problems.append(f"{Path(entry.image_path).name}: "
                                f"{getattr(e, 'strerror', None) or e}")
        self.w.history_strip.remove(done)
        if self.w.current is not None and self.w.current.entry in done:
            self.w.current.entry, self.w.current_path = None, ""  # still on show, Save As keeps it
        if problems:
            self.w.show_error("Some pictures could not be deleted",
                            "\n".join(problems) + "\n\nThey stay in the history.")
        self.w.statusBar().showMessage(f"Deleted {len(done)} from the history", 4000)
        return len(done)

    def open_folder(self) -> None:
        self.w.history.folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.w.history.folder)))
