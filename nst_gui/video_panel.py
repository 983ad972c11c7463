"""The Video panel (a dock): open a clip, scrub through it, preview one frame with the current
settings, choose how the clip is repainted, render it, follow its progress and play the result.
Widgets only: it asks the window (signals) and nst_app."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from nst_app import models
from nst_core.media.video import VideoInfo
from nst_core.settings.video import VIDEO_PICTURE, VideoSettings

from .ray_row import RayRow
from .spinboxes import SpinBox

_DEFAULTS = VideoSettings()


class VideoPanel(QWidget):
    open_requested = Signal()  # the window asks for a clip
    frame_requested = Signal(float)  # show the input frame at this time (scrubbing)
    preview_requested = Signal(float)  # repaint the frame at this time with the settings
    render_requested = Signal()
    stop_requested = Signal()
    play_requested = Signal()  # play (or go on playing) the written video on the canvas
    pause_requested = Signal()
    seek_requested = Signal(float)  # show the written video's frame at this time
    open_output_requested = Signal()  # in the system's player (with its sound)

    def __init__(self, data_dir: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.data_dir = data_dir
        self.info: VideoInfo | None = None
        self.output = ""  # the last video written (or being written)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open Clip…")
        self.open_button.setToolTip("Choose a video to repaint (MP4, MOV, MKV, WebM …)")
        row.addWidget(self.open_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.clip_label = QLabel("No clip: open one, or try the sample clip.")
        self.clip_label.setWordWrap(True)
        lay.addWidget(self.clip_label)
        self.sample_button = QPushButton("Use the Sample Clip")
        lay.addWidget(self.sample_button)

        row = QHBoxLayout()
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.setToolTip("Scrub through the clip; the canvas shows the frame")
        row.addWidget(self.scrub, 1)
        self.time_label = QLabel("0.00 s")
        row.addWidget(self.time_label)
        lay.addLayout(row)
        self.preview_button = QPushButton("Preview This Frame")
        self.preview_button.setToolTip("Repaint the frame shown with the current settings, "
                                       "as the render would repaint its first frame")
        lay.addWidget(self.preview_button)

        form = QFormLayout()
        self.method = QComboBox()
        self.method.addItem("Optimize (best, slow)", "optimize")
        self.method.addItem("Instant style (fast)", "instant")
        self.method.setToolTip(_help("method"))
        form.addRow("Method", self.method)
        self.model = QComboBox()
        self.model.setToolTip(_help("model"))
        form.addRow("Instant style", self.model)
        self.size = SpinBox()  # a number out of range is refused in one line
        self.size.setAccessibleName("Frame size")
        self.size.setRange(64, 4096)
        self.size.setSingleStep(32)
        self.size.setValue(VIDEO_PICTURE.size)
        self.size.setSuffix(" px")
        self.size.setToolTip("Long side of the repainted video's frames: its own setting, "
                             "smaller than a still picture's, as every frame is painted")
        form.addRow("Frame size", self.size)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0, 240)
        self.fps.setDecimals(1)
        self.fps.setSpecialValueText("every frame")
        self.fps.setToolTip(_help("max_fps"))
        form.addRow("Frames per second", self.fps)
        self.temporal = QDoubleSpinBox()
        self.temporal.setRange(0, 1e6)
        self.temporal.setDecimals(0)
        self.temporal.setSingleStep(500)
        self.temporal.setValue(_DEFAULTS.temporal_weight)
        self.temporal.setToolTip(_help("temporal_weight"))
        form.addRow("Temporal weight", self.temporal)
        self.stability = QSlider(Qt.Orientation.Horizontal)
        self.stability.setRange(0, 100)
        self.stability.setValue(round(_DEFAULTS.stability * 100))
        self.stability.setToolTip(_help("stability"))
        form.addRow("Stability", self.stability)
        self.long_term = QCheckBox("Long-term consistency")
        self.long_term.setToolTip(_help("long_term"))
        form.addRow("", self.long_term)
        lay.addLayout(form)
        self.ray = RayRow("Share the frames with a Ray cluster:",
                          "Send chunks of frames to the workers of a Ray cluster; the chunks "
                          "overlap and are cross-faded")
        self.ray_check, self.ray_address = self.ray.check, self.ray.address
        lay.addWidget(self.ray)

        row = QHBoxLayout()
        self.render_button = QPushButton("Render Video…")
        self.render_button.setToolTip("Repaint the whole clip (or continue a stopped render) "
                                      "into a video with the clip's sound")
        row.addWidget(self.render_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the frame in progress; Render continues later")
        row.addWidget(self.stop_button)
        lay.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        player = QGroupBox("The repainted video")
        pl = QVBoxLayout(player)
        row = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the repainted video on the canvas (without sound); "
                                    "press again to pause")
        row.addWidget(self.play_button)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setToolTip("Start again from the beginning at the end")
        row.addWidget(self.loop_check)
        self.open_output_button = QPushButton("Open in Player")
        self.open_output_button.setToolTip("Open the repainted video in the system's player, "
                                           "with its sound")
        row.addWidget(self.open_output_button)
        pl.addLayout(row)
        row = QHBoxLayout()
        self.position = QSlider(Qt.Orientation.Horizontal)
        self.position.setToolTip("Where the video plays from: drag to show a frame")
        self.position.setRange(0, 0)
        row.addWidget(self.position, 1)
        self.position_label = QLabel("0.00 s")
        row.addWidget(self.position_label)
        pl.addLayout(row)
        lay.addWidget(player)
        lay.addStretch(1)

        self._settle = QTimer(self)  # a scrub drag: show the frame once it settles
        self._settle.setSingleShot(True)
        self._settle.setInterval(80)
        self._settle.timeout.connect(lambda: self.frame_requested.emit(self.seconds()))
        self.scrub.valueChanged.connect(self._scrubbed)
        self.size.valueChanged.connect(lambda _: self.info is not None and self._settle.start())
        self.open_button.clicked.connect(self.open_requested)
        self.preview_button.clicked.connect(lambda: self.preview_requested.emit(self.seconds()))
        self.render_button.clicked.connect(self.render_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.play_button.toggled.connect(
            lambda on: self.play_requested.emit() if on else self.pause_requested.emit())
        self.position.sliderMoved.connect(
            lambda v: self.seek_requested.emit(v / 100.0))
        self.open_output_button.clicked.connect(self.open_output_requested)
        self.method.currentIndexChanged.connect(lambda _: self._update())
        self.reload_models()
        self.set_running(False)

    # ---- state -----------------------------------------------------------------------------------
    def reload_models(self) -> None:
        keep = self.model.currentData()
        self.model.clear()
        for entry in models.library(self.data_dir):
            if entry.model is not None:
                self.model.addItem(entry.name.replace("_", " "), str(entry.path))
        if keep:
            i = self.model.findData(keep)
            if i >= 0:
                self.model.setCurrentIndex(i)

    def set_clip(self, info: VideoInfo, description: str) -> None:
        self.info = info
        self.output = ""
        self.clip_label.setText(f"{Path(info.path).name}: {description}")
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, max(0, round(info.duration * 100) - 1))
        self.scrub.setValue(0)
        self.scrub.blockSignals(False)
        self.time_label.setText("0.00 s")
        self.status.setText("")
        self._update()

    def seconds(self) -> float:
        return self.scrub.value() / 100.0

    def _scrubbed(self, value: int) -> None:
        self.time_label.setText(f"{value / 100:.2f} s")
        self._settle.start()

    def set_running(self, running: bool) -> None:
        self.running = running
        self._update()

    def apply(self, v: VideoSettings) -> list[str]:
        """Show how `v` renders (the clip is opened with `set_clip` first); returns what could
        not be shown (an instant style that is gone)."""
        problems = []
        i = self.method.findData(v.method)
        self.method.setCurrentIndex(max(i, 0))
        if v.model and Path(v.model).is_file():
            if self.model.findData(v.model) < 0:
                self.model.addItem(Path(v.model).stem.replace("_", " "), v.model)
            self.model.setCurrentIndex(self.model.findData(v.model))
        elif v.model:
            problems.append(f"The instant style {v.model} is no longer there.")
        self.size.setValue(v.picture.size)
        self.fps.setValue(v.max_fps)
        self.temporal.setValue(v.temporal_weight)
        self.stability.setValue(round(v.stability * 100))
        self.long_term.setChecked(v.long_term)
        self._update()
        return problems

    def set_output(self, path: str, duration: float = 0.0) -> None:
        """The written video the player plays (`duration` seconds long, when known)."""
        if path != self.output:
            self.show_position(0.0)
        self.output = path
        self.position.setRange(0, max(0, round(duration * 100)))
        self._update()

    def show_position(self, seconds: float) -> None:
        """Where the player is (without asking for that frame)."""
        self.position.blockSignals(True)
        self.position.setValue(round(seconds * 100))
        self.position.blockSignals(False)
        self.position_label.setText(f"{seconds:.2f} s")

    def set_playing(self, on: bool) -> None:
        """The Play button says whether the video plays (without asking for anything)."""
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.blockSignals(False)

    def _update(self) -> None:
        has = self.info is not None
        running = getattr(self, "running", False)
        instant = self.method.currentData() == "instant"
        for w in (self.scrub, self.preview_button):
            w.setEnabled(has)
        self.render_button.setEnabled(has and not running)
        self.ray.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.model.setEnabled(instant)
        self.stability.setEnabled(instant)
        self.long_term.setEnabled(not instant)
        done = bool(self.output) and Path(self.output).exists() and not running
        for w in (self.play_button, self.open_output_button, self.position):
            w.setEnabled(done)

    def ray_address_or_none(self) -> str | None:
        """The Ray cluster to share the frames with, or None for this computer."""
        return self.ray.address_or_none()

    def video_settings(self, picture, output: str, overwrite: bool = False) -> VideoSettings:
        """The render the panel describes, with `picture` (the window's picture settings)."""
        assert self.info is not None
        return VideoSettings(
            content=self.info.path, output=output, method=self.method.currentData(),
            model=self.model.currentData() or "", max_fps=self.fps.value(),
            temporal_weight=self.temporal.value(), long_term=self.long_term.isChecked(),
            stability=self.stability.value() / 100.0, overwrite=overwrite,
            picture=picture.replace(content="", size=self.size.value()))


def _help(name: str) -> str:
    return VideoSettings.__dataclass_fields__[name].metadata["help"]
