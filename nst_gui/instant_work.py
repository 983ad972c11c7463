"""The window's instant-style work: a photo repainted at once by a style's network, the live
camera, training a new style (and resuming one), and refining an instant picture with the full
optimization. It asks the window for what they share (the canvas, the progress area, the job
controllers, the panels)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from nst_app.keepers import instant_reason
from nst_app.runs import Finished, run_and_record
from nst_core import (LIVE, ImageError, Note, NSTError, Progress, SettingsError,
                      TransferSettings)
from nst_core.media.files import unique_path

from .outcome import RunOutcome
from .params_panel import ParamsPanel
from .progress_area import fmt_seconds
from .qtimage import to_qimage
from .worker import JobController

if TYPE_CHECKING:
    from .main_window import MainWindow


class InstantWork(QObject):
    """Everything the Instant page starts, for the window `w`."""

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w
        self._pending_apply = None  # the latest instant request while one is being made
        self.camera_source = "0"  # the camera number (a video file stands in for it in tests)
        self.trainer = JobController(self)  # training a style (its running_changed: the window)
        self.trainer.event.connect(self.on_training_event)
        self.trainer.preview.connect(w._on_preview)
        self.trainer.failed.connect(lambda e: w.paint.on_refused(e))
        self.trainer.crashed.connect(w._on_crashed)
        # One output size for a still picture, painted or instant: the two boxes are one
        # setting (setValue of the same value emits nothing, so they do not echo).
        w.instant.size.setRange(w.params.size.minimum(), w.params.size.maximum())
        w.instant.size.setValue(w.params.size.value())
        w.params.size.valueChanged.connect(w.instant.size.setValue)
        w.instant.size.valueChanged.connect(w.params.size.setValue)

    def _settings_for(self, painting: str = "") -> TransferSettings:
        """Settings an instant picture is saved with (its painting, when the file is here)."""
        s = self.w.current_settings()
        return s.replace(styles=(painting,)) if painting and Path(painting).is_file() else s

    def mode_changed(self, on: bool) -> None:
        if not on:
            self.w.statusBar().showMessage("Instant mode off", 3000)

    def inputs_changed(self) -> None:
        if self.w.instant.current_path() and self.w.side.work == "instant":
            self.w.instant.request_apply()

    def apply(self, model: str, strength: float, colors: str, size: int) -> None:
        """Repaint the photo with an instant style now (or as soon as the one being made is
        done: only the latest request is kept)."""
        from nst_core.kinds.apply import ApplyJob

        if not self.w.inputs.content_path or self.w.instant.camera_button.isChecked():
            return
        why = self.w.gate.refusal("instant")
        if why:  # the canvas shows the long work under way
            self.w.instant.status.setText(why)
            return
        self.w.instant.status.setText("Repainting…")
        self.start(ApplyJob(model, self.w.inputs.content_path, size, strength, colors))

    def on_event(self, ev) -> None:
        if not isinstance(ev, Finished):
            if isinstance(ev, Progress) and ev.rate is not None:  # the camera
                self.w.instant.status.setText(f"Camera: {ev.rate:.1f} frames per second")
            return
        r = ev.result
        if ev.status == "failed" or r is None:
            self.w.instant.status.setText(ev.message or "Failed")
            return
        if ev.kind == "camera":
            self.w.instant.status.setText(f"Camera stopped: {r.reason}")
            self.w.instant.camera_button.setChecked(False)
            return
        from nst_app.models import painting_of
        from nst_core.networks.stylize import cached_model

        try:
            painting = painting_of(cached_model(r.model))
        except NSTError:
            painting = ""
        seconds = float(r.timings.get("total", 0.0))
        outcome = RunOutcome(r.image, to_qimage(r.image), self._settings_for(painting), 0,
                             seconds, "done", instant_reason(r.painting), kind="instant")
        self.w.canvas.set_before(self.w.inputs.content_image)
        h, w = r.image.shape[:2]
        name = r.painting.replace("_", " ")
        text = f"Instant: {name[:1].upper()}{name[1:]}, {w}×{h} px in {seconds:.2f} s"
        self.w._set_current(outcome, "", text)
        self.w.instant.status.setText(text)
        self.w.statusBar().showMessage(text, 4000)

    @Slot(QImage, int, str)
    def on_preview(self, image: QImage, iteration: int, item_id: str) -> None:
        if self.w.instant.camera_button.isChecked():
            self.w.canvas.set_image(image)

    def on_refused(self, error: NSTError) -> None:
        message = str(error)
        self.w.instant.status.setText(message)
        if self.w.instant.camera_button.isChecked():
            self.w.instant.camera_button.blockSignals(True)
            self.w.instant.camera_button.setChecked(False)
            self.w.instant.camera_button.blockSignals(False)
            self.w.show_error("The camera could not start", message)
        else:
            self.w.statusBar().showMessage(message, 6000)

    def on_running(self, running: bool) -> None:
        if not running and self._pending_apply is not None:
            job, self._pending_apply = self._pending_apply, None
            self.start(job)
        if self.w._closing and not running:
            self.w._on_running_changed(running)

    def start(self, job) -> None:
        """Run an instant job (a picture or the camera) now, or next if one is going."""
        if self.w.instant_controller.running:
            self._pending_apply = job
            return
        self.w.instant_controller.start(lambda stop: run_and_record(job, None, "window", LIVE,
                                                                  stop))

    def camera(self, on: bool) -> None:
        """Start or stop the live camera (the chosen model on the camera's feed)."""
        from nst_core.kinds.camera import CameraJob

        if not on:
            self.w.instant_controller.stop()
            return
        model = self.w.instant.current_path()
        if not model:
            self.w.instant.camera_button.setChecked(False)
            return
        s = self.w.instant
        job = CameraJob(model, self.camera_source, min(s.size.value(), 1024),
                        s.strength.value() / 100.0,
                        "keep" if s.keep_colors.isChecked() else "style")
        self._pending_apply = None
        self.w.instant_controller.stop()  # an instant picture being made
        self.start(job)
        self.w.instant.status.setText("Camera starting…")

    def _photos_for_training(self, about: str) -> tuple[str, ...] | None:
        """Ask where the training photos come from, saying what the training will do
        (`about`); None if the person cancels."""
        from nst_app.models import training_photos

        box = QMessageBox(self.w)
        box.setWindowTitle("Make an instant style")
        box.setText(about)
        box.setInformativeText("Which photos should it learn from? The bundled sample photos "
                               "are enough to start; a folder of your own photos (or videos) "
                               "gives a more general style.")
        folder = box.addButton("Choose a Folder…", QMessageBox.ButtonRole.AcceptRole)
        samples = box.addButton("Use the Sample Photos", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        try:
            if box.clickedButton() is samples:
                return training_photos()
            if box.clickedButton() is folder:
                path = QFileDialog.getExistingDirectory(self.w, "Folder of training photos",
                                                        self.w._last_dir())
                return training_photos([path]) if path else None
        except SettingsError as e:
            self.w.show_error("Cannot train on this folder", str(e))
        return None

    def training_plan(self, painting: str) -> tuple[Path, str]:
        """Where a new instant style of `painting` goes, and what the person is told before
        it starts: the painting, the time on this computer, that it keeps the processor busy,
        and a style of the same name it would stand beside or continue."""
        from nst_app.models import library, user_models_dir
        from nst_core.kinds.train import estimated_seconds
        from nst_core.networks.model_file import SUFFIX, load_model
        from nst_core.settings.training import TrainSettings

        name = Path(painting).stem
        title = name.replace("_", " ").replace("-", " ")
        title = title[:1].upper() + title[1:]
        out = user_models_dir(self.w.data_dir) / f"{name}{SUFFIX}"
        done, note = 0, ""
        if out.exists():  # resume an unfinished training of this painting, else a new file
            try:
                model = load_model(out)
                done = 0 if model.finished else model.steps_done
            except NSTError:
                model = None
            if model is not None and not model.finished:
                note = (f" It continues the unfinished training in {out.name} (step {done} "
                        f"of {model.steps_planned}).")
            else:
                first = out
                out = unique_path(out)
                note = (f" You already have a style of this painting ({first.name}): the new "
                        f"one is saved beside it as {out.name}.")
        shipped = [e for e in library(self.w.data_dir) if e.bundled and e.name == name]
        if shipped and not note:
            note = (" An instant style of this painting ships with the app: the new one is "
                    "listed beside it (the shipped one is marked so).")
        plan = TrainSettings(style=painting, photos=("",), output=str(out))
        seconds = estimated_seconds(plan, done)
        about = (f"Train an instant style of {title} ({Path(painting).name}): {plan.steps} steps,"
                 f" about {fmt_seconds(seconds)} on this computer. It keeps the processor busy "
                 "meanwhile; Stop keeps what it learned and Resume training goes on later. The "
                 "first previews are blotches of the painting's colours; its strokes show after "
                 f"a few hundred steps.{note}")
        return out, about

    def train(self, photos: tuple[str, ...] | None = None) -> bool:
        """Make an instant style from the first painting: says what it will take and asks
        for the photos (unless given), then trains in the background with live previews."""
        from nst_core.settings.training import TrainSettings

        styles = self.w.inputs.style_paths()
        if not styles:
            self.w.show_error("No painting", "Add the painting to learn first.")
            return False
        if self.w.blocked("train"):
            return False
        out, about = self.training_plan(styles[0])
        photos = photos if photos else self._photos_for_training(about)
        if not photos:
            return False
        settings = TrainSettings(style=styles[0], photos=tuple(photos), output=str(out))
        return self._start_training(settings)

    def resume_training(self, model_path: str) -> bool:
        from nst_core.settings.training import TrainSettings
        from nst_core.networks.model_file import load_model

        if self.w.blocked("train"):
            return False
        try:
            saved = dict(load_model(model_path).meta.get("settings", {}))
            saved.update(output=model_path, restart=False)
            settings = TrainSettings.from_dict(saved)
        except NSTError as e:
            self.w.show_error("Cannot resume this training", str(e))
            return False
        return self._start_training(settings)

    def _start_training(self, settings) -> bool:
        from nst_core.kinds.train import TrainJob

        self.w.progress.reset(settings.steps)
        self.w.show_page("instant")
        job = TrainJob(settings)
        history = self.w.history
        self.trainer.start(lambda stop: run_and_record(job, history, "window", LIVE, stop))
        n = len(settings.photos)
        self.w.statusBar().showMessage(f"Preparing to train on {n} photo{'s' * (n != 1)}…")
        from nst_core.kinds.train import estimated_seconds, takes_shape

        title = Path(settings.style).stem.replace("_", " ")
        done = self._steps_done(settings)
        shape = takes_shape(settings, done)
        when = ("" if not shape else " The previews show the painting's strokes after about "
                f"{shape[0][0]} steps (≈ {fmt_seconds(shape[0][1])} here)"
                + (f", the photo's shapes after {shape[1][0]}." if len(shape) > 1 else "."))
        self.w.instant.status.setText(
            f"Training an instant style of {title} into {Path(settings.output).name}, about "
            f"{fmt_seconds(estimated_seconds(settings, done))} here (the bar follows the real "
            "pace): Stop keeps what it learned; Resume training continues." + when
            + ("" if len(settings.photos) > 5 else " More photos give a more general style."))
        return True

    @staticmethod
    def _steps_done(settings) -> int:
        """Steps a training resumed from its model file has behind it (0 for a new one)."""
        from nst_core.networks.model_file import load_model

        if settings.restart or not Path(settings.output).is_file():
            return 0
        try:
            return load_model(settings.output).steps_done
        except NSTError:
            return 0

    def on_training_event(self, ev) -> None:
        if isinstance(ev, Progress):
            from nst_core.kinds.train import TAKES_SHAPE_STEPS

            first = TAKES_SHAPE_STEPS[0]
            self.w.statusBar().showMessage(
                "Training the instant style… (the previews are photos it never trains on"
                + (f"; they take shape from about step {first})" if ev.iteration < first
                   else ")"))
            self.w.progress.update_progress(ev)
            self.w.progressed.emit(ev)
        elif isinstance(ev, Note):
            self.w.statusBar().showMessage(ev.text, 4000)
        elif isinstance(ev, Finished):
            self.on_training_finished(ev)

    def on_training_finished(self, f: Finished) -> None:
        r = f.result
        self.w.instant.reload(select=r.path if r is not None else None)
        if f.status == "failed":
            self.w.progress.finish("Training failed")
            self.w.show_error("The training stopped", f.message)
            return
        if r is None:
            return
        text = {"done": f"Instant style ready: {r.steps_done} steps",
                "stopped": f"Training stopped at step {r.steps_done}; Resume training goes "
                           "on from there"}[r.status]
        self.w.progress.finish(text)
        self.w.statusBar().showMessage(text)
        self.w.instant.status.setText(text)
        if f.entry is not None:  # a finished training's previews
            self.w.history_strip.add(f.entry, None)
        elif f.history_error:
            self.w.statusBar().showMessage(f.history_error)

    def refine(self) -> bool:
        """Start the full optimization from the instant picture on show."""
        if self.w.current is None or self.w.current.kind != "instant":
            self.w.show_error("Nothing to refine", "Choose an instant style first: its picture "
                            "is where the optimization starts.")
            return False
        path = self.w.images.store_pasted(self.w.current.image)
        painting = self.w.current.settings.styles[0] if self.w.current.settings.styles else ""
        if painting and painting not in self.w.inputs.style_paths():
            try:
                self.w.inputs.set_styles([painting])
            except ImageError as e:
                self.w.show_error("The painting of this style is missing", str(e))
                return False
        self.w.params.init_image.setText(path)
        ParamsPanel._select(self.w.params.init, "image")
        return self.w.start()
