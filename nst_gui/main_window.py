"""The main window: inputs on the left, the preview canvas and progress in the middle, the
parameters and presets on the right, the history strip along the bottom and the batch queue in
a dock. Widgets only: every piece of work is a job (nst_core) drained by a `JobController`, and
what is kept of it is decided by the application layer (nst_app)."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence
from PySide6.QtWidgets import (QDialog, QDockWidget, QMainWindow, QMessageBox, QSplitter,
                               QStyle, QVBoxLayout, QWidget)

from nst_app import paths
from nst_app.batch import BatchQueue
from nst_app.history import HistoryStore
from nst_app.presets import load_presets
from nst_core import ImageError, TransferSettings
from nst_core.runtime.devices import available_devices

from .actions import build as build_actions
from .batch_panel import BatchPanel
from .canvas import PreviewCanvas
from .error_dialog import ErrorDialog
from .gate import WorkGate
from .help import show_about, show_getting_started, show_shortcuts
from .history_strip import HistoryStrip
from .history_work import HistoryWork
from .images_work import ImagesWork
from .inputs_panel import InputsPanel
from .instant_panel import InstantPanel
from .instant_work import InstantWork
from .outcome import RunOutcome
from .paint_work import PaintWork
from .params_panel import ParamsPanel
from .presets_bar import PresetsBar
from .progress_area import ProgressArea
from .regions_panel import RegionsPanel, RegionsWork
from .results import Results
from .side_area import SIDE_WIDTH, SideArea
from .video_panel import VideoPanel
from .video_work import VideoWork
from .worker import JobController

log = logging.getLogger(__name__)



def default_data_dir() -> Path:
    return paths.data_dir()


def launch_size(free: QSize) -> QSize:
    """The window's size at first launch on a screen with `free` room: most of a laptop's
    screen (the picture needs the room), a comfortable 1600x1000 on a larger one."""
    if free.width() <= 1440 or free.height() <= 900:
        return QSize(free.width(), free.height())
    return QSize(min(1600, free.width() * 9 // 10), min(1000, free.height() * 9 // 10))


class MainWindow(QMainWindow):
    progressed = Signal(object)  # nst_core.Progress of the picture being painted
    finished = Signal(object)  # RunOutcome: done or stopped
    failed = Signal(str, object)  # message, RunOutcome of the last good image or None

    def __init__(self, data_dir: str | Path | None = None, store: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("NST Studio")
        self.setAcceptDrops(True)
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.store = store if store is not None else QSettings()
        self.history = HistoryStore(paths.history_dir(self.data_dir))
        self.instant_controller = JobController(self)  # instant pictures and the camera
        self.current: RunOutcome | None = None  # the result on show, if any
        self.current_path: str = ""  # a file holding the current result (for "use as start")
        self._closing = False
        self._shown = False
        self._build()
        self._connect()
        self.history_strip.load(self.history.entries())
        self._restore_state()
        self._update_actions()

    # ---- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        self.inputs = InputsPanel()
        self.inputs.error_handler = lambda e: self.show_error("Cannot use this image", str(e))
        self.params = ParamsPanel(available_devices())
        self.canvas = PreviewCanvas()
        self.progress = ProgressArea()
        self.presets_bar = PresetsBar(load_presets())
        self.batch = BatchPanel(BatchQueue.load(paths.queue_file(self.data_dir)), self.history,
                                lambda: self.current_settings().validate(),
                                str(self.store.value("batch_dir",
                                                     str(Path.home() / "NST Studio"))))
        self.instant = InstantPanel(self.data_dir)
        self.video = VideoPanel(self.data_dir)

        paint = QWidget()
        pl = QVBoxLayout(paint)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.presets_bar)
        pl.addWidget(self.params, 1)
        self.side = SideArea()
        self.side.add("images", "Images", self.inputs, "The photo and the paintings: every kind "
                      "of work uses them")
        self.side.add("paint", "Paint", paint, "Repaint the photo: presets and settings")
        self.regions_panel = RegionsPanel()
        self.side.add("regions", "Regions", self.regions_panel, "Paint where each painting "
                      "goes, and where the photo stays itself")
        self.side.add("instant", "Instant", self.instant, "Instant styles: a network per "
                      "painting that repaints any photo at once")
        self.side.add("video", "Video", self.video, "Repaint a clip, frame by frame")
        self.side.add("batch", "Batch", self.batch, "Many photos and paintings, one after "
                      "another")

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(2)
        cl.addWidget(self.canvas, 1)
        cl.addWidget(self.progress)

        self.split = QSplitter()
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(center)
        self.split.addWidget(self.side)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 0)
        self.split.setSizes([900, SIDE_WIDTH])
        self.setCentralWidget(self.split)

        self.history_strip = HistoryStrip()
        self.history_list = self.history_strip.list
        self.history_dock = QDockWidget("History")
        self.history_dock.setObjectName("history")
        self.history_dock.setWidget(self.history_strip)
        self.history_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.history_dock.setTitleBarWidget(QWidget())  # no title row: View > History hides it
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self.paint = PaintWork(self)  # painting a picture (Start)
        self.history_work = HistoryWork(self)  # what the history strip asks
        self.results = Results(self)  # the picture on show: save, copy, keep, use as start
        self.images = ImagesWork(self)  # the photo and the paintings
        self.regions = RegionsWork(self, self.regions_panel)  # where each painting goes
        self.controller = self.paint.controller
        self.videos = VideoWork(self)  # the Video page's work: clips, renders, the player
        self.instants = InstantWork(self)  # instant pictures, the camera, training a style
        self.gate = WorkGate()  # whether a kind of work may start now
        self.gate.add("paint", self.controller, "a painting")
        self.gate.add("train", self.instants.trainer, "a training")
        self.gate.add("video", self.videos.controller, "a video render")
        self.gate.add("batch", self.batch.controller, "the batch queue")
        self.gate.add("instant", self.instant_controller, "an instant picture")
        self._build_actions()
        self.statusBar().showMessage("Ready: press Start (Ctrl+Enter) to paint")
        self.paint.measure_pace()  # the time shown before Start becomes this computer's

    def blocked(self, kind: str) -> bool:
        """Whether `kind` of work may not start now; if so the person is told why (the gate's
        one line)."""
        why = self.gate.refusal(kind)
        if why:
            self.show_error("Not now", why)
        return bool(why)

    def show_page(self, name: str) -> None:
        """Bring a page of the side area to the front, showing the area if it was hidden."""
        self.side.show_page(name)
        self.side_action.setChecked(True)

    def show_help(self, page: str) -> QDialog:
        """A page of the Help menu: "start", "shortcuts" or "about"."""
        if page == "shortcuts":
            return show_shortcuts(self, self.actions())
        return show_about(self) if page == "about" else show_getting_started(self)

    def _build_actions(self) -> None:
        history = self.history_dock.toggleViewAction()
        history.setText("History")
        history.setShortcut(QKeySequence("Ctrl+Shift+H"))
        build_actions(self, {"history": history})  # nst_gui/actions.py declares them
        self.side_action.setChecked(True)
        self.pause_action.setEnabled(False)
        for p in self.presets_bar.presets:
            a = self.presets_menu.addAction(p.name)
            a.setToolTip(p.description)
            a.triggered.connect(lambda checked=False, name=p.name: self.paint.apply_preset(name))

    def _connect(self) -> None:
        self.controller.running_changed.connect(self._on_running_changed)
        self.side.page_shown.connect(lambda name: self.regions.set_active(name == "regions"))
        self.inputs.open_content_requested.connect(self.images.open_content)
        self.inputs.paste_content_requested.connect(self.images.paste_content)
        self.inputs.add_style_requested.connect(self.images.add_style_dialog)
        self.params.changed.connect(self.paint.settings_changed)
        for box in (self.params, self.instant.size, self.video.size):  # out-of-range numbers
            box.refused.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.inputs.changed.connect(self.paint.update_estimate)
        self.presets_bar.preset_chosen.connect(self.paint.apply_preset)
        self.presets_bar.reset_requested.connect(self.paint.reset_to_defaults)
        self.history_strip.entry_clicked.connect(self.history_work.show_entry)
        self.history_strip.restore_requested.connect(self.history_work.restore)
        self.history_strip.delete_requested.connect(self.history_work.delete)
        self.history_strip.folder_requested.connect(self.history_work.open_folder)
        self.batch.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.batch.error.connect(self.show_error)
        self.batch.item_finished.connect(self.history_work.batch_item_done)
        self.batch.picture_clicked.connect(self.results.show_picture)
        for kind in ("batch", "train", "video"):
            self.gate.controller(kind).running_changed.connect(self._on_running_changed)
        self.batch.controller.running_changed.connect(self._on_batch_running)
        self.batch.may_start = lambda: self.gate.refusal("batch")
        ic = self.instant_controller
        ic.event.connect(self.instants.on_event)
        ic.preview.connect(self.instants.on_preview)
        ic.failed.connect(self.instants.on_refused)
        ic.crashed.connect(self._on_crashed)
        ic.running_changed.connect(self.instants.on_running)
        self.instant.apply_requested.connect(self.instants.apply)
        self.instant.mode_changed.connect(self.instants.mode_changed)
        self.instant.train_requested.connect(self.instants.train)
        self.instant.resume_requested.connect(self.instants.resume_training)
        self.instant.refine_requested.connect(self.instants.refine)
        self.instant.camera_requested.connect(self.instants.camera)
        self.inputs.changed.connect(self.instants.inputs_changed)
        v = self.video
        v.open_requested.connect(self.videos.open_video)
        v.sample_button.clicked.connect(self.videos.open_sample_clip)
        v.frame_requested.connect(self.videos.show_video_frame)
        v.preview_requested.connect(self.videos.preview_video_frame)
        v.render_requested.connect(self.videos.render_video)
        v.stop_requested.connect(self.stop)
        v.play_requested.connect(self.videos.play_video)
        v.pause_requested.connect(self.videos.stop_playing)
        v.seek_requested.connect(self.videos.seek)
        v.open_output_requested.connect(
            lambda: v.output and QDesktopServices.openUrl(QUrl.fromLocalFile(v.output)))

    # ---- settings ------------------------------------------------------------------------------
    def current_settings(self) -> TransferSettings:
        """What a run would get now: the panels' values (not yet validated)."""
        return TransferSettings(content=self.inputs.content_path,
                                styles=tuple(self.inputs.style_paths()),
                                style_blend=self.inputs.blend(), **self.params.values(),
                                **self.regions.values())

    def apply_settings(self, s: TransferSettings) -> list[str]:
        """Load settings into the panels. Images that cannot be read are reported and the
        current ones kept. Returns the problems met."""
        problems = []
        self.params.set_values(s)
        try:
            self.inputs.set_content(s.content)
        except ImageError as e:
            problems.append(str(e))
        try:
            blend = list(s.style_blend) or None
            self.inputs.set_styles(list(s.styles), blend)
        except ImageError as e:
            problems.append(str(e))
        problems += self.regions.restore(s)
        self.canvas.set_before(self.inputs.content_image)  # compare with this photo
        return problems

    # ---- inputs --------------------------------------------------------------------------------
    def _last_dir(self) -> str:
        return str(self.store.value("last_dir", str(Path.home())))

    def _remember_dir(self, path: str) -> None:
        self.store.setValue("last_dir", str(Path(path).parent))

    # drag and drop: onto the paintings -> add paintings; anywhere else -> the photo
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        target = self.childAt(event.position().toPoint())
        box = self.inputs.styles_box
        on_paintings = target is not None and (target is box or box.isAncestorOf(target))
        if self.images.take(event.mimeData(), on_paintings):
            event.acceptProposedAction()

    # ---- running -------------------------------------------------------------------------------
    @Slot()
    def start_or_stop(self) -> None:
        if self.gate.long_running():
            self.stop()
        else:
            self.start()

    def start(self, settings: TransferSettings | None = None) -> bool:
        """Paint the current photo with the current settings (or `settings`)."""
        return self.paint.start(settings)

    def stop(self) -> None:
        """Stop the long work under way (a painting, a training or a video), keeping what it
        made."""
        kind = self.gate.long_running()
        if kind:
            self.gate.controller(kind).stop()
            self.statusBar().showMessage("Stopping after this step…")

    def pause(self, on: bool) -> None:
        """Pause the long work under way after its current step, or let it go on."""
        kind = self.gate.long_running()
        if kind and self.gate.controller(kind).pause(on):
            self.progress.set_paused(on)
            self.statusBar().showMessage("Paused after this step: press F6 (Run > Pause) to "
                                         "go on" if on else "Going on…", 0 if on else 3000)
        self.pause_action.setChecked(bool(kind) and self.gate.controller(kind).paused)

    @Slot(QImage, int, str)
    def _on_preview(self, image: QImage, iteration: int, item_id: str) -> None:
        self.canvas.set_image(image)

    def _on_crashed(self, summary: str, details: str) -> None:
        self.progress.finish("Failed")
        self.statusBar().showMessage("The run stopped on an unexpected error")
        self.error_dialog = ErrorDialog(summary, details, self)
        self.error_dialog.open()  # not exec(): the window stays responsive
        self.failed.emit(summary, None)

    def _set_current(self, outcome: RunOutcome, path: str, caption: str = "") -> None:
        """Make `outcome` the picture on show (what Save As, Copy and Use as Start use);
        `path` is a file holding it, or "". A `caption` replaces what the progress area said
        about an earlier run."""
        if caption:
            self.progress.show_text(caption)
        self.current, self.current_path = outcome, str(path)
        self.canvas.set_image(outcome.image)
        self._update_actions()

    def _on_running_changed(self, running: bool) -> None:
        SP = QStyle.StandardPixmap
        busy = bool(self.gate.long_running())
        self.start_action.setText("Stop" if busy else "Start")
        self.start_action.setIcon(self.style().standardIcon(SP.SP_MediaStop if busy
                                                            else SP.SP_MediaPlay))
        self.start_action.setToolTip("Stop and keep the picture so far (Ctrl+Enter)" if busy
                                     else "Start painting (Ctrl+Enter)")
        # one kind of work at a time: both at once would halve the speed of each
        self.start_action.setEnabled(busy or not self.batch.running)
        self.pause_action.setEnabled(busy)
        self.pause_action.setChecked(busy and self.pause_action.isChecked())
        self.video.set_running(self.videos.controller.running)
        self.batch.start_button.setEnabled(self.batch.running or not busy)
        self._update_actions()
        if self._closing and not self.gate.busy():
            self.close()  # the close that waited for the work to stop

    def _on_batch_running(self, running: bool) -> None:
        """The progress area speaks of the queue while it runs, and of how it ended."""
        self.progress.show_text("The batch queue is running: each picture's progress is on "
                                "the Batch page" if running else
                                f"Batch queue: {self.batch.status.text().strip()}")

    def _update_actions(self) -> None:
        has = self.current is not None
        for a in (self.save_action, self.copy_action, self.use_init_action):
            a.setEnabled(has)
        self.keep_action.setEnabled(has and self.current.entry is None
                                    and not self.current_path)

    def add_current_to_queue(self) -> None:
        if self.batch.add_current():
            self.show_page("batch")

    # ---- messages ------------------------------------------------------------------------------
    def show_error(self, title: str, text: str) -> None:
        log.warning("%s: %s", title, text)
        QMessageBox.warning(self, title, text)

    # ---- persistence ---------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.store.value("geometry")
        if not (isinstance(geometry, QByteArray) and not geometry.isEmpty()
                and self.restoreGeometry(geometry)):
            self.resize(launch_size(self.screen().availableGeometry().size()))
        state = self.store.value("window_state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        self.fit_to_screen()  # the screen may be smaller than the one it was closed on
        page = str(self.store.value("side_page", "images"))
        self.show_page(page if page in self.side.names else "images")
        self.side.setVisible(self.store.value("side_visible", "true") in (True, "true"))
        self.side_action.setChecked(self.side.isVisible())
        plot = self.store.value("loss_plot", "false") in (True, "true")
        self.progress.set_plot_visible(plot)
        self.plot_action.setChecked(plot)
        self.paint.restore_settings()
        self.canvas.set_before(self.inputs.content_image)
        self.canvas.set_image(self.inputs.content_image)

    def fit_to_screen(self) -> None:
        """Keep the whole window on the screen it is on: no larger than its free area, and
        moved back onto it where it hangs over an edge."""
        free = self.screen().availableGeometry()
        frame = self.frameGeometry()
        extra_w = frame.width() - self.width()  # the title bar and borders, where drawn
        extra_h = frame.height() - self.height()
        w = min(self.width(), free.width() - extra_w)
        h = min(self.height(), free.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        frame = self.frameGeometry()
        x = min(max(frame.x(), free.x()), free.right() + 1 - frame.width())
        y = min(max(frame.y(), free.y()), free.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown:  # the frame's size is known once it is shown: fit it again
            self._shown = True
            QTimer.singleShot(0, self.fit_to_screen)
            QTimer.singleShot(0, self.paint.offer_unfinished)  # a crash's picture

    def save_state(self) -> None:
        self.store.setValue("geometry", self.saveGeometry())
        self.store.setValue("window_state", self.saveState())
        self.store.setValue("side_page", self.side.current())
        self.store.setValue("side_visible", "true" if self.side_action.isChecked() else "false")
        self.store.setValue("loss_plot", "true" if self.progress.plot_visible() else "false")
        self.store.setValue("batch_dir", self.batch.output_edit.text())
        try:
            self.store.setValue("last_settings", self.current_settings().to_json())
        except Exception as e:  # never lose the close over this
            log.warning("could not remember the settings: %s", e)
        self.store.sync()

    def closeEvent(self, event) -> None:
        """A close during a run asks the run (and the queue) to stop and closes once they
        have, however long their current step takes; the picture so far reaches the history."""
        if self.gate.busy():
            self._closing = True
            for c in self.gate.controllers():
                c.stop()
            self.statusBar().showMessage("Stopping the run; the window closes when it has "
                                         "kept the picture so far…")
            event.ignore()
            return
        self.paint.stop_pacing()
        self.save_state()
        super().closeEvent(event)
