"""The main window: inputs on the left, the preview canvas and progress in the middle, the
parameters on the right, the history strip along the bottom."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QSettings, QSize, QStandardPaths, Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (QApplication, QComboBox, QDockWidget, QFileDialog, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSplitter, QStyle,
                               QToolBar, QVBoxLayout, QWidget)

from nst_core import ImageError, NSTError, SettingsError, TransferSettings
from nst_core.images import load_image, read_settings_json, save_image
from nst_core.presets import load_presets
from nst_core.transfer import (available_devices, available_memory, estimate_memory,
                               resolve_device)

from .canvas import PreviewCanvas
from .history import HistoryEntry, HistoryStore
from .inputs_panel import InputsPanel
from .params_panel import ParamsPanel
from .qtimage import thumbnail, thumbnail_from_file, to_array, to_qimage
from .worker import ProgressInfo, RunController, RunOutcome

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif)"
SAVE_FILTER = "PNG with settings (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
_CURVES = (("total", (230, 230, 230)), ("style", (220, 120, 60)), ("content", (80, 160, 230)),
           ("tv", (120, 200, 120)))


def default_data_dir() -> Path:
    return Path(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation) or Path.home() / ".nst-studio")


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "…"
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


class ProgressArea(QWidget):
    """Progress bar, a line of figures, and the live loss plot (pyqtgraph, log scale)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setFormat("Ready")
        self.bar.setTextVisible(True)
        lay.addWidget(self.bar)
        self.figures = QLabel(" ")
        lay.addWidget(self.figures)
        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(y=True)
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(120)
        self.plot.setMaximumHeight(200)
        legend = self.plot.addLegend(brush=pg.mkBrush(0, 0, 0, 170), colCount=4)
        legend.anchor(itemPos=(0, 0.5), parentPos=(0, 0.5), offset=(60, 0))  # clear of curves
        legend.setZValue(10)
        self.plot.setMouseEnabled(x=False, y=False)
        self.curves = {name: self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=name)
                       for name, color in _CURVES}
        self.data: dict[str, list[float]] = {name: [] for name, _ in _CURVES}
        self.x: list[int] = []
        lay.addWidget(self.plot)

    def reset(self, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.bar.setFormat("Starting…")
        self.figures.setText(" ")
        self.x = []
        for name in self.data:
            self.data[name] = []
            self.curves[name].setData([], [])

    def update_progress(self, p: ProgressInfo) -> None:
        self.bar.setMaximum(p.total)
        self.bar.setValue(p.iteration)
        w, h = p.size
        self.bar.setFormat(f"Iteration {p.iteration} / {p.total} · scale {p.scale + 1}/{p.scales}"
                           f" · {_fmt_seconds(p.eta)} left")
        self.figures.setText(
            f"{w}×{h} px · {p.rate:.2f} it/s · elapsed {_fmt_seconds(p.elapsed)} · loss "
            f"{p.losses['total']:.4g} (style {p.losses['style']:.3g}, content "
            f"{p.losses['content']:.3g}, smoothing {p.losses['tv']:.3g})")
        self.x.append(p.iteration)
        for name in self.data:
            v = float(p.losses.get(name, 0.0))
            self.data[name].append(v if v > 0 else np.nan)  # a log scale has no 0: leave a gap
            self.curves[name].setData(self.x, self.data[name], connect="finite")

    def finish(self, text: str) -> None:
        self.bar.setFormat(text)


class MainWindow(QMainWindow):
    def __init__(self, data_dir: str | Path | None = None, store: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("NST Studio")
        self.setAcceptDrops(True)
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.store = store if store is not None else QSettings()
        self.history = HistoryStore(self.data_dir / "history")
        self.controller = RunController(self)
        self.current: RunOutcome | None = None  # the result on show, if any
        self.current_path: str = ""  # a file holding the current result (for "use as start")
        self._build()
        self._connect()
        self._load_history()
        self._restore_state()
        self._update_actions()

    # ---- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        self.inputs = InputsPanel()
        self.inputs.error_handler = lambda e: self.show_error("Cannot use this image", str(e))
        self.params = ParamsPanel(available_devices())
        self.canvas = PreviewCanvas()
        self.progress = ProgressArea()

        left = QScrollArea()
        left.setWidget(self.inputs)
        left.setWidgetResizable(True)
        left.setMinimumWidth(310)
        right = QScrollArea()
        right.setWidget(self.params)
        right.setWidgetResizable(True)
        right.setMinimumWidth(330)

        presets_row = QHBoxLayout()
        presets_row.addWidget(QLabel("Preset:"))
        self.preset_box = QComboBox()
        self.presets = load_presets()
        self.preset_box.addItem("Custom", None)
        for p in self.presets:
            self.preset_box.addItem(p.name, p.name)
            self.preset_box.setItemData(self.preset_box.count() - 1, p.description,
                                        Qt.ItemDataRole.ToolTipRole)
        self.preset_box.setToolTip("Presets change size, steps and schedule; your images and "
                                   "look settings stay.")
        presets_row.addWidget(self.preset_box, 1)
        reset = QPushButton("Reset")
        reset.setToolTip("Reset every setting to its default (images stay)")
        reset.clicked.connect(self.reset_to_defaults)
        presets_row.addWidget(reset)
        right_box = QWidget()
        rl = QVBoxLayout(right_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(presets_row)
        rl.addWidget(right, 1)

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.canvas, 1)
        cl.addWidget(self.progress)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(center)
        split.addWidget(right_box)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 760, 340])
        self.setCentralWidget(split)

        # history strip
        self.history_list = QListWidget()
        self.history_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.history_list.setFlow(QListWidget.Flow.LeftToRight)
        self.history_list.setWrapping(False)
        self.history_list.setIconSize(QSize(96, 72))
        self.history_list.setGridSize(QSize(108, 98))
        self.history_list.setMovement(QListWidget.Movement.Static)
        self.history_list.setFixedHeight(112)
        self.history_list.setToolTip("Every run of this and earlier sessions. Click to show it.")
        hist = QWidget()
        hl = QHBoxLayout(hist)
        hl.setContentsMargins(2, 2, 2, 2)
        hl.addWidget(self.history_list, 1)
        hb = QVBoxLayout()
        self.restore_button = QPushButton("Restore settings")
        self.restore_button.setToolTip("Load the selected run's settings and images into the "
                                       "panels")
        self.restore_button.clicked.connect(self.restore_selected_settings)
        hb.addWidget(self.restore_button)
        hb.addStretch(1)
        hl.addLayout(hb)
        hist.setMaximumHeight(126)
        dock = QDockWidget("History")
        dock.setObjectName("history")
        dock.setWidget(hist)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        dock.setMaximumHeight(160)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self._build_actions()
        self.statusBar().showMessage("Ready: press Start (Ctrl+Enter) to paint")

    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon=None) -> QAction:
        a = QAction(text, self)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            a.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        SP = QStyle.StandardPixmap
        self.open_action = self._action("Open Photo…", self.open_content, QKeySequence.StandardKey.Open,
                                        "Choose the photograph to repaint", SP.SP_DialogOpenButton)
        self.add_style_action = self._action("Add Painting…", self.add_style_dialog,
                                             "Ctrl+Shift+O", "Add a painting whose style to use")
        self.paste_action = self._action("Paste Photo", self.paste_content,
                                         QKeySequence.StandardKey.Paste,
                                         "Use the clipboard's image as the photo")
        self.open_result_action = self._action("Open Result…", self.open_result, "Ctrl+Shift+R",
                                               "Open a PNG saved by NST Studio and restore its "
                                               "settings")
        self.save_action = self._action("Save As…", self.save_as,
                                        [QKeySequence.StandardKey.Save, "Ctrl+Shift+S"],
                                        "Save the picture (PNG keeps the settings)",
                                        SP.SP_DialogSaveButton)
        self.copy_action = self._action("Copy", self.copy_result, QKeySequence.StandardKey.Copy,
                                        "Copy the picture to the clipboard")
        self.start_action = self._action("Start", self.start_or_stop, ["Ctrl+Return", "F5"],
                                         "Start painting (Ctrl+Enter); press again to stop",
                                         SP.SP_MediaPlay)
        self.use_init_action = self._action("Use Result as Start", self.use_result_as_init,
                                            "Ctrl+I", "Continue from the picture shown: the next "
                                            "run starts from it")
        self.fit_action = self._action("Fit", self.canvas.fit, "Ctrl+0", "Fit the picture in view")
        self.actual_action = self._action("1:1", self.canvas.actual_size, "Ctrl+1",
                                          "Show actual pixels")
        self.zoom_in_action = self._action("Zoom In", lambda: self.canvas.zoom_by(1.25),
                                           [QKeySequence.StandardKey.ZoomIn, "Ctrl+="])
        self.zoom_out_action = self._action("Zoom Out", lambda: self.canvas.zoom_by(0.8),
                                            QKeySequence.StandardKey.ZoomOut)
        self.compare_action = self._action("Before/After", self.canvas.set_compare, "Ctrl+B",
                                           "Compare with the photo: drag the split line")
        self.compare_action.setCheckable(True)
        self.reset_action = self._action("Reset to Defaults", self.reset_to_defaults)
        self.quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.open_action, self.add_style_action, self.paste_action,
                  self.open_result_action, None, self.save_action, self.copy_action, None,
                  self.quit_action):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Run")
        m.addAction(self.start_action)
        m.addAction(self.use_init_action)
        pm = m.addMenu("Presets")
        for p in self.presets:
            a = pm.addAction(p.name)
            a.setToolTip(p.description)
            a.triggered.connect(lambda checked=False, name=p.name: self.apply_preset(name))
        m.addAction(self.reset_action)
        m = mb.addMenu("&View")
        for a in (self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action,
                  None, self.compare_action):
            m.addSeparator() if a is None else m.addAction(a)

        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.start_action, None, self.open_action, self.save_action, self.copy_action,
                  self.use_init_action, None, self.fit_action, self.actual_action,
                  self.compare_action):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.addToolBar(tb)

    def _connect(self) -> None:
        c = self.controller
        c.started.connect(self._on_started)
        c.progress.connect(self.progress.update_progress)
        c.preview.connect(self._on_preview)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(self._on_running_changed)
        self.inputs.open_content_requested.connect(self.open_content)
        self.inputs.paste_content_requested.connect(self.paste_content)
        self.inputs.add_style_requested.connect(self.add_style_dialog)
        self.params.changed.connect(self._params_changed)
        self.inputs.changed.connect(self._update_memory_label)
        self.preset_box.activated.connect(self._preset_chosen)
        self.history_list.itemClicked.connect(self._history_clicked)
        self.history_list.itemDoubleClicked.connect(lambda item: self.restore_selected_settings())

    # ---- settings ------------------------------------------------------------------------------
    def current_settings(self) -> TransferSettings:
        """What a run would get now: the panels' values (not yet validated)."""
        return TransferSettings(content=self.inputs.content_path,
                                styles=tuple(self.inputs.style_paths()),
                                style_blend=self.inputs.blend(), **self.params.values())

    def apply_settings(self, s: TransferSettings, with_images: bool = True) -> list[str]:
        """Load settings into the panels. Images that cannot be read are reported and the
        current ones kept. Returns the problems met."""
        problems = []
        self.params.set_values(s)
        if with_images:
            try:
                self.inputs.set_content(s.content)
            except ImageError as e:
                problems.append(str(e))
            try:
                blend = list(s.style_blend) or None
                self.inputs.set_styles(list(s.styles), blend)
            except ImageError as e:
                problems.append(str(e))
            self.canvas.set_before(self.inputs.content_image)  # compare with this photo
        return problems

    def _params_changed(self) -> None:
        self._sync_preset_box()
        self._update_memory_label()

    def _update_memory_label(self) -> None:
        """Show what the chosen size needs against what is free (the engine's estimate)."""
        if not self.inputs.content_path:
            return
        try:
            s = self.current_settings().validate()
            device = resolve_device(s.device)
            need = estimate_memory(s, self.inputs.content_size, device.type)
            free = available_memory(device)
        except NSTError:
            self.params.memory_label.setText("")
            return
        text = f"needs ≈ {need / 2**30:.1f} GB of {free / 2**30:.1f} GB free"
        if need > free:
            text = f"<span style='color:#c03030'>{text}: too large</span>"
        self.params.memory_label.setText(text)

    def _sync_preset_box(self) -> None:
        values = self.params.values()
        for i, p in enumerate(self.presets):
            if all(values.get(k) == v for k, v in p.changes.items()):
                self.preset_box.setCurrentIndex(i + 1)
                return
        self.preset_box.setCurrentIndex(0)

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_box.itemData(index)
        if name:
            self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        preset = next(p for p in self.presets if p.name == name)
        try:
            settings = preset.apply(self.current_settings())
        except SettingsError as e:
            self.show_error("Check the settings", f"{e}\n\nFix it, then choose the preset again.")
            self._sync_preset_box()
            return
        self.params.set_values(settings)
        self.statusBar().showMessage(f"Preset: {name}", 4000)

    def reset_to_defaults(self) -> None:
        self.params.set_values(TransferSettings())
        self.statusBar().showMessage("All settings reset to their defaults", 4000)

    # ---- inputs --------------------------------------------------------------------------------
    def _last_dir(self) -> str:
        return str(self.store.value("last_dir", str(Path.home())))

    def _remember_dir(self, path: str) -> None:
        self.store.setValue("last_dir", str(Path(path).parent))

    def set_content(self, path: str) -> bool:
        try:
            self.inputs.set_content(path)
        except ImageError as e:
            self.show_error("Cannot use this photo", f"{e}\n\nThe current photo is kept.")
            return False
        self.canvas.set_before(self.inputs.content_image)
        if not self.canvas.has_image() or self.current is None:
            self.canvas.set_image(self.inputs.content_image)
        self.statusBar().showMessage(f"Photo: {Path(path).name}", 4000)
        return True

    def add_style(self, path: str) -> bool:
        try:
            self.inputs.add_style(path)
        except ImageError as e:
            self.show_error("Cannot use this painting", f"{e}\n\nThe paintings are unchanged.")
            return False
        return True

    @Slot()
    def open_content(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", self._last_dir(), IMAGE_FILTER)
        if path:
            self._remember_dir(path)
            self.set_content(path)

    @Slot()
    def add_style_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add paintings", self._last_dir(),
                                                IMAGE_FILTER)
        for path in paths:
            self._remember_dir(path)
            self.add_style(path)

    def _store_pasted(self, image: QImage) -> str:
        folder = self.data_dir / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{id(image) % 1000}.png"
        save_image(path, to_array(image), overwrite=True)
        return str(path)

    @Slot()
    def paste_content(self) -> None:
        cb = QGuiApplication.clipboard()
        mime = cb.mimeData()
        if mime is not None and mime.hasUrls():
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if files:
                self.set_content(files[0])
                return
        image = cb.image()
        if image.isNull():
            self.show_error("Nothing to paste", "The clipboard holds no image. Copy an image "
                            "(or an image file) first.")
            return
        self.set_content(self._store_pasted(image))

    # drag and drop: onto the paintings -> add paintings; anywhere else -> the photo
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if not files and mime.hasImage():
            files = [self._store_pasted(QImage(mime.imageData()))]
        if not files:
            return
        pos = event.position().toPoint()
        target = self.childAt(pos)
        on_styles = target is not None and (target is self.inputs.styles_box
                                            or self.inputs.styles_box.isAncestorOf(target))
        if on_styles:
            for f in files:
                self.add_style(f)
        else:
            self.set_content(files[0])
        event.acceptProposedAction()

    # ---- running -------------------------------------------------------------------------------
    @Slot()
    def start_or_stop(self) -> None:
        if self.controller.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        if self.controller.running:
            return False
        try:
            settings = self.current_settings().validate()
        except SettingsError as e:
            self.show_error("Check the settings", str(e))
            return False
        self.store.setValue("last_settings", settings.to_json())
        self.canvas.set_before(self.inputs.content_image)
        self.progress.reset(settings.iterations)
        self._run_started_at = time.perf_counter()
        self.controller.start(settings, self.history)
        self.statusBar().showMessage("Preparing…")
        return True

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self.statusBar().showMessage("Stopping after this iteration…")

    def _on_started(self, total: int, w: int, h: int) -> None:
        self.progress.reset(total)
        self.statusBar().showMessage(f"Painting {w}×{h} px…")

    @Slot(QImage, int)
    def _on_preview(self, image: QImage, iteration: int) -> None:
        self.canvas.set_image(image)

    def _on_finished(self, outcome: RunOutcome) -> None:
        self._show_outcome(outcome)
        if outcome.stopped:
            text = f"Stopped at iteration {outcome.iterations}; the picture so far is kept"
        else:
            text = f"Done: {outcome.iterations} iterations in {_fmt_seconds(outcome.seconds)}"
        self.progress.finish(text)
        self.statusBar().showMessage(text)

    def _on_failed(self, message: str, outcome: RunOutcome | None) -> None:
        if outcome is not None:
            self._show_outcome(outcome)
            message += "\n\nThe last good picture is kept in the history."
        self.progress.finish("Failed")
        self.statusBar().showMessage("The run failed")
        self.show_error("The run could not finish", message)

    def _show_outcome(self, outcome: RunOutcome) -> None:
        self.current = outcome
        self.current_path = outcome.entry.image_path if outcome.entry else ""
        self.canvas.set_image(outcome.image)
        if outcome.entry is not None:
            self._add_history_item(outcome.entry, outcome.image, select=True)
        self._update_actions()

    def _on_running_changed(self, running: bool) -> None:
        SP = QStyle.StandardPixmap
        self.start_action.setText("Stop" if running else "Start")
        self.start_action.setIcon(self.style().standardIcon(SP.SP_MediaStop if running
                                                            else SP.SP_MediaPlay))
        self.start_action.setToolTip("Stop and keep the picture so far (Ctrl+Enter)" if running
                                     else "Start painting (Ctrl+Enter)")
        self._update_actions()

    def _update_actions(self) -> None:
        has = self.current is not None
        for a in (self.save_action, self.copy_action, self.use_init_action):
            a.setEnabled(has)

    # ---- results -------------------------------------------------------------------------------
    @Slot()
    def save_as(self) -> None:
        if self.current is None:
            return
        s = self.current.settings
        name = f"{Path(s.content).stem}_{Path(s.styles[0]).stem}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save picture",
                                              str(Path(self._last_dir()) / name), SAVE_FILTER)
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Save the current result (the dialog has already asked about overwriting)."""
        if self.current is None:
            return False
        if not Path(path).suffix:
            path += ".png"
        try:
            save_image(path, self.current.rgb, self.current.settings.to_json(), overwrite=True)
        except (NSTError, OSError) as e:
            self.show_error("Could not save", f"{e}\n\nChoose another folder or name.")
            return False
        self._remember_dir(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    @Slot()
    def copy_result(self) -> None:
        if self.current is not None:
            QGuiApplication.clipboard().setImage(self.current.image)
            self.statusBar().showMessage("Picture copied to the clipboard", 3000)

    @Slot()
    def use_result_as_init(self) -> None:
        if self.current is None:
            return
        path = self.current_path
        if not path or not Path(path).is_file():
            path = self._store_pasted(self.current.image)
        self.params.init_image.setText(path)
        ParamsPanel._select(self.params.init, "image")
        self.statusBar().showMessage("The next run starts from this picture", 4000)

    @Slot()
    def open_result(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open result", self._last_dir(),
                                              "PNG (*.png);;" + IMAGE_FILTER)
        if path:
            self._remember_dir(path)
            self.open_result_file(path)

    def open_result_file(self, path: str) -> bool:
        """Show a saved picture and restore the settings embedded in it."""
        try:
            text = read_settings_json(path)
            if text is None:
                raise SettingsError("settings", f"{Path(path).name} carries no NST Studio "
                                    "settings (only PNGs this app saved do)")
            settings = TransferSettings.from_json(text)
            rgb = load_image(path).rgb
        except NSTError as e:
            self.show_error("Cannot open this result", str(e))
            return False
        problems = self.apply_settings(settings)
        self.current = RunOutcome(rgb, to_qimage(rgb), settings, 0, 0.0, False)
        self.current_path = str(path)
        self.canvas.set_image(self.current.image)
        self._update_actions()
        if problems:
            self.show_error("Some images of these settings are missing",
                            "\n".join(problems) + "\n\nThe current images are kept.")
        return True

    # ---- history -------------------------------------------------------------------------------
    def _load_history(self) -> None:
        for entry in self.history.entries()[-200:]:
            self._add_history_item(entry, None)

    def _add_history_item(self, entry: HistoryEntry, image: QImage | None,
                          select: bool = False) -> None:
        if image is None:  # at start-up: read at thumbnail size, not the whole picture
            image = thumbnail_from_file(entry.image_path, 96)
        when = time.strftime("%H:%M", time.localtime(entry.created))
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail(image, 96))),
                               when + (" ■" if entry.stopped else ""))
        item.setToolTip(entry.label())
        item.setData(Qt.ItemDataRole.UserRole, entry)
        self.history_list.insertItem(0, item)  # newest first
        if select:
            self.history_list.setCurrentItem(item)

    def _history_clicked(self, item: QListWidgetItem) -> None:
        entry: HistoryEntry = item.data(Qt.ItemDataRole.UserRole)
        settings = entry.settings
        try:
            rgb = load_image(entry.image_path).rgb
        except ImageError as e:
            self.show_error("Cannot show this run", str(e))
            return
        if settings is None:
            settings = self.current_settings()
        self.current = RunOutcome(rgb, to_qimage(rgb), settings, entry.iterations, entry.seconds,
                                  entry.stopped, entry=entry)
        self.current_path = entry.image_path
        self.canvas.set_image(self.current.image)
        self._update_actions()

    @Slot()
    def restore_selected_settings(self) -> None:
        item = self.history_list.currentItem()
        if item is None:
            self.statusBar().showMessage("Select a run in the history first", 3000)
            return
        entry: HistoryEntry = item.data(Qt.ItemDataRole.UserRole)
        settings = entry.settings
        if settings is None:
            self.show_error("Cannot restore", "This run's settings cannot be read.")
            return
        problems = self.apply_settings(settings)
        if problems:
            self.show_error("Some images of this run are missing",
                            "\n".join(problems) + "\n\nThe current images are kept.")
        self.statusBar().showMessage("Settings restored from the history", 4000)

    # ---- messages ------------------------------------------------------------------------------
    def show_error(self, title: str, text: str) -> None:
        log.warning("%s: %s", title, text)
        QMessageBox.warning(self, title, text)

    # ---- persistence ---------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.store.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.store.value("window_state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        settings = TransferSettings()
        text = self.store.value("last_settings")
        if text:
            try:
                settings = TransferSettings.from_json(str(text))
            except SettingsError as e:
                log.warning("ignoring unreadable saved settings: %s", e)
        problems = self.apply_settings(settings)
        if problems:  # images moved away since last time: fall back to the samples
            defaults = TransferSettings()
            if not self.inputs.content_path:
                self.inputs.set_content(defaults.content)
            if not self.inputs.rows:
                self.inputs.set_styles(list(defaults.styles))
            self.statusBar().showMessage("Some images of your last session are gone; "
                                         "using the samples", 6000)
        self.canvas.set_before(self.inputs.content_image)
        self.canvas.set_image(self.inputs.content_image)

    def save_state(self) -> None:
        self.store.setValue("geometry", self.saveGeometry())
        self.store.setValue("window_state", self.saveState())
        try:
            self.store.setValue("last_settings", self.current_settings().to_json())
        except Exception as e:  # never lose the close over this
            log.warning("could not remember the settings: %s", e)
        self.store.sync()

    def closeEvent(self, event) -> None:
        if self.controller.running:
            self.statusBar().showMessage("Stopping the run…")
            QApplication.processEvents()
            self.controller.shutdown()
        self.save_state()
        super().closeEvent(event)
