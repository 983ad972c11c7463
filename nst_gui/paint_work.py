"""The window's painting: the Paint page's settings (restored at launch) and presets, the time
and memory a picture will take on this computer (timed once at launch), then the picture
optimized with the current settings, live on the canvas, into the history; a size too large for
the memory even in tiles is refused with the largest that fits offered. A render keeps a
checkpoint, and one left by a crash or a close is offered again at launch. It owns its
controller and asks the window for what the kinds of work share (the canvas, the progress area,
the history strip, the gate)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from nst_app import paths
from nst_app.runs import Finished, run_and_record
from nst_app.samples import default_settings
from nst_core import (LIVE, Note, NSTError, OutOfMemoryError, Progress, SettingsError,
                      TransferSettings)
from nst_core.kinds.still import StillJob
from nst_core.media.images import load_image
from nst_core.painting import checkpoint as checkpoints
from nst_core.settings.picture import parse_json, salvage
from nst_core.painting.sizing import calibrate_pace, estimated_seconds, memory_outlook
from nst_core.runtime.devices import resolve_device

from .outcome import RunOutcome
from .progress_area import fmt_seconds
from .qtimage import to_qimage
from .worker import JobController

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)


def scale_status(p: Progress) -> str:
    """The status line while a picture paints: which scale runs, at which size."""
    w, h = p.size
    if p.scales <= 1:
        return f"Painting… ({w}×{h} px)"
    names = {0: "first", 1: "second", 2: "third", 3: "fourth", 4: "fifth", 5: "sixth"}
    which = "final" if p.scale == p.scales - 1 else names.get(p.scale, f"#{p.scale + 1}")
    return f"Painting the {which} scale, {p.scale + 1} of {p.scales} ({w}×{h} px)…"


class PaintWork(QObject):
    """Painting a picture, for the window `w` (the Paint page and Start)."""

    paced = Signal()  # the engine has timed this computer: the estimate before Start is its

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w
        self._scale_shown: tuple | None = None  # (scale, size) the status line names
        self.controller = JobController(self)
        self.controller.event.connect(self.on_event)
        self.controller.preview.connect(w._on_preview)
        self.controller.failed.connect(self.on_refused)
        self.controller.crashed.connect(w._on_crashed)
        self.paced.connect(self.update_estimate)
        self._pace_stop = threading.Event()
        self._pace_thread: threading.Thread | None = None

    def measure_pace(self) -> None:
        """Time this computer once, off the window's thread (about a second)."""
        # not a daemon: a thread still inside torch when Python exits aborts the process
        self._pace_thread = threading.Thread(target=self._time_this_computer, name="nst-pace",
                                             args=(self.w.current_settings(),))
        self._pace_thread.start()

    def stop_pacing(self) -> None:
        """End the timing (within one of its passes), before the window closes."""
        self._pace_stop.set()
        if self._pace_thread is not None:
            self._pace_thread.join(timeout=10)

    @property
    def checkpoint(self) -> Path:
        """Where the painting under way keeps its checkpoint, in the window's data folder."""
        return paths.window_checkpoint(self.w.data_dir)

    def restore_settings(self) -> None:
        """The settings of the last session, field by field (a damaged one is skipped, never
        stops the app), with the samples for images that are gone."""
        settings = default_settings()
        text = self.w.store.value("last_settings")
        if text:
            try:
                settings, bad = salvage(parse_json(str(text)), settings)
            except SettingsError as e:
                bad = [str(e)]
            for problem in bad:
                log.warning("ignoring a saved setting: %s", problem)
        if self.w.apply_settings(settings):  # images moved away since: the samples
            defaults = default_settings()
            if not self.w.inputs.content_path:
                self.w.inputs.set_content(defaults.content)
            if not self.w.inputs.rows:
                self.w.inputs.set_styles(list(defaults.styles))
            self.w.statusBar().showMessage("Some images of your last session are gone; "
                                           "using the samples", 6000)

    def offer_unfinished(self) -> bool:
        """A picture left unfinished by a crash or a close (its checkpoint): offer to continue
        it from there, to discard it, or to decide later. True when it continues."""
        kept = checkpoints.unfinished(self.checkpoint)
        if kept is None:
            checkpoints.remove(self.checkpoint)  # damaged, or its images changed since
            return False
        settings, ck = kept
        names = " and ".join(Path(p).name for p in settings.styles)
        box = QMessageBox(QMessageBox.Icon.Question, "Continue the unfinished picture?",
                          f"{Path(settings.content).name} in the style of {names}, "
                          f"{settings.size} px, stopped at iteration {ck.iterations} of "
                          f"{ck.planned} when NST Studio last closed. Continue it from there?",
                          parent=self.w)
        go = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
        drop = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is drop:
            checkpoints.remove(self.checkpoint)
        if box.clickedButton() is not go:
            return False
        self.w.apply_settings(settings)
        return self.start(settings, continuing=True)

    def start(self, settings: TransferSettings | None = None, continuing: bool = False) -> bool:
        """Paint the current photo with the current settings (or `settings`); `continuing`:
        from the checkpoint the last render of these settings left."""
        if self.controller.running or self.w.blocked("paint"):
            return False
        try:
            settings = (settings or self.w.current_settings()).validate()
        except SettingsError as e:
            self.w.show_error("Check the settings", str(e))
            return False
        self.w.store.setValue("last_settings", self.w.current_settings().to_json())
        self.w.canvas.set_before(to_qimage(load_image(settings.content).rgb)
                               if settings.content != self.w.inputs.content_path
                               else self.w.inputs.content_image)
        self.w.progress.reset(settings.iterations)
        self._scale_shown = None
        checkpoint = self.checkpoint
        try:
            if not continuing:
                checkpoints.remove(checkpoint)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a read-only data folder: the render keeps no checkpoint
            log.warning("no checkpoint for this render: %s", e)
        job, history = StillJob(settings, checkpoint=str(checkpoint)), self.w.history
        self.controller.start(lambda stop: run_and_record(job, history, "window", LIVE, stop))
        self.w.statusBar().showMessage("Preparing…")
        return True

    def on_event(self, ev) -> None:
        if isinstance(ev, Progress):
            if ev.iteration == 1 or (ev.scale, ev.size) != self._scale_shown:
                self.w.statusBar().showMessage(scale_status(ev))
            self._scale_shown = (ev.scale, ev.size)
            self.w.progress.update_progress(ev)
            self.w.progressed.emit(ev)
        elif isinstance(ev, Note):
            self.w.statusBar().showMessage(ev.text, 4000)
        elif isinstance(ev, Finished):
            self._on_finished(ev)

    def _on_finished(self, f: Finished) -> None:
        outcome = RunOutcome.from_finished(f)
        if outcome is not None and outcome.iterations == 0:  # stopped before painting at all
            outcome = None
            if f.status != "failed":
                self.w.progress.finish("Stopped before the first iteration")
                self.w.statusBar().showMessage("Stopped before the first iteration; nothing was "
                                             "painted")
                return
        if outcome is not None:
            self._show_outcome(outcome)
        if f.history_error:
            self.w.show_error("The picture is not in the history", f.history_error)
        if f.status == "failed":
            message = f.message
            if outcome is not None:
                message += ("\n\nThe last good picture is kept in the history." if f.entry
                            else "\n\nThe last good picture is on the canvas; save it with "
                                 "Save As.")
            self.w.progress.finish("Failed")
            self.w.statusBar().showMessage("The run failed")
            self.w.show_error("The run could not finish", message)
            self.w.failed.emit(f.message, outcome)
            return
        if outcome is None:
            return
        if outcome.stopped:
            text = f"Stopped at iteration {outcome.iterations}; the picture so far is kept"
        else:
            text = f"Done: {outcome.iterations} iterations in {fmt_seconds(outcome.seconds)}" \
                   + (f" ({outcome.reason})" if outcome.settings is not None
                      and outcome.iterations < outcome.settings.iterations else "")  # stopped early
        if "total" in outcome.final_losses:  # the kept picture's loss, not the last step's
            text += f" · loss {outcome.final_losses['total']:.4g}"
        self.w.progress.finish(text)
        self.w.statusBar().showMessage(text)
        self.w.finished.emit(outcome)

    def on_refused(self, error: NSTError) -> None:
        """The job could not start (bad input): nothing was made."""
        if isinstance(error, OutOfMemoryError) and error.fits and self.offer_size(error):
            return
        message = str(error)
        self.w.progress.finish("Could not start")
        self.w.statusBar().showMessage("The run could not start")
        self.w.show_error("The run could not start", message)
        self.w.failed.emit(message, None)

    def offer_size(self, error: OutOfMemoryError) -> bool:
        """The picture is too large for the memory free: offer the largest size that fits and
        start again with it. True if the person took it."""
        self.w.progress.finish("Too large for the memory free")
        box = QMessageBox(QMessageBox.Icon.Warning, "Not enough memory", str(error),
                          parent=self.w)
        use = box.addButton(f"Use {error.fits} px", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not use:
            self.w.failed.emit(str(error), None)
            return True
        self.w.params.size.setValue(int(error.fits))
        self.w.statusBar().showMessage(f"Output size set to {error.fits} px, the largest that "
                                     "fits", 6000)
        self._start_when_idle()
        return True

    def _start_when_idle(self) -> None:
        """Start once the refused run's thread has ended (its refusal arrives before)."""
        if self.controller.running:
            QTimer.singleShot(20, self._start_when_idle)
        else:
            self.start()

    def _show_outcome(self, outcome: RunOutcome) -> None:
        """A run's picture: on the canvas, and first in the history strip."""
        self.w._set_current(outcome, outcome.entry.image_path if outcome.entry else "")
        if outcome.entry is not None:
            self.w.history_strip.add(outcome.entry, outcome.image, select=True)

    def _time_this_computer(self, settings: TransferSettings) -> None:
        """Off the window's thread (so it reads no widget): the engine times this computer once
        (about a second), so the time shown before Start is this computer's."""
        try:
            calibrate_pace(settings, stop=self._pace_stop)
        except Exception:  # an estimate is a courtesy: the typical pace stands
            log.debug("could not measure this computer's pace", exc_info=True)
            return
        try:
            self.paced.emit()
        except RuntimeError:  # the window was closed meanwhile
            pass

    def settings_changed(self) -> None:
        self.w.presets_bar.sync(self.w.params.values())
        self.update_estimate()

    def update_estimate(self) -> None:
        """Show what the chosen size needs against what is free, and whether it goes in tiles
        (the engine's plan)."""
        if not self.w.inputs.content_path:
            return
        try:
            s = self.w.current_settings().validate()
            device = resolve_device(s.device)
            outlook = memory_outlook(s, self.w.inputs.content_size, device.type)
        except NSTError:
            self.w.params.memory_label.setText("")
            return
        limit = "allowed" if s.max_memory else "free"
        text = (f"needs ≈ {outlook.needed / 2**30:.1f} GB of {outlook.budget / 2**30:.1f} GB "
                f"{limit}")
        if outlook.tiles > 1:
            text += f", in {outlook.tiles} tiles"
        if not outlook.tiles:
            text = f"<span style='color:#c03030'>{text}: too large, even in tiles</span>"
        else:  # what Start will take, from the engine's cost model of this computer
            seconds = estimated_seconds(s, self.w.inputs.content_size)
            text = f"<b>takes about {fmt_seconds(seconds)} here</b> · {text}"
        self.w.params.memory_label.setText(text)

    def apply_preset(self, name: str) -> None:
        preset = next(p for p in self.w.presets_bar.presets if p.name == name)
        try:
            settings = preset.apply(self.w.current_settings())
        except SettingsError as e:
            self.w.show_error("Check the settings", f"{e}\n\nFix it, then choose the preset again.")
            self.w.presets_bar.sync(self.w.params.values())
            return
        self.w.params.set_values(settings)
        self.w.statusBar().showMessage(f"Preset: {name}", 4000)

    def reset_to_defaults(self) -> None:
        self.w.params.set_values(TransferSettings())
        self.w.statusBar().showMessage("All settings reset to their defaults", 4000)
