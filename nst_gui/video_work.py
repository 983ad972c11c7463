"""The window's video work: open a clip, scrub it, preview one frame, render the clip (here or on
a Ray cluster), play the result on the canvas, and a video of the history. It asks the window
for what they share (the canvas, the progress area, the job controller, the history) and owns
the player."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from nst_app.history import HistoryEntry
from nst_app.runs import Finished, run_and_record
from nst_core import LIVE, ImageError, Note, NSTError, Progress, SettingsError
from nst_core.base.errors import OtherRenderKeptError
from nst_core.media.images import load_image

from .progress_area import fmt_seconds
from .worker import JobController
from .qtimage import to_qimage

if TYPE_CHECKING:
    from .main_window import MainWindow


def _chain_one(first, rest):
    """An iterator of `first`, then `rest` (a frame put back until it is due)."""
    yield first
    yield from rest


class VideoWork(QObject):
    """Everything the Video page starts, for the window `w`."""

    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w
        self._video_settings = None  # the settings of the latest video started
        self._player = None  # the frames of the video being played on the canvas
        self._player_start = 0.0
        self._player_timer = QTimer(self)
        self._player_timer.setSingleShot(True)
        self._player_timer.timeout.connect(self._play_next)
        self.controller = JobController(self)  # the render (its running_changed: the window)
        self.controller.event.connect(self.on_event)
        self.controller.preview.connect(w._on_preview)
        self.controller.failed.connect(self.on_refused)
        self.controller.crashed.connect(w._on_crashed)

    def open_video(self) -> None:
        from nst_core.media.video import VIDEO_SUFFIXES

        self.w.show_page("video")
        pattern = " ".join(f"*{x}" for x in sorted(VIDEO_SUFFIXES - {".gif"}))
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a clip to repaint",
                                              self.w._last_dir(),
                                              f"Videos ({pattern});;All files (*)")
        if path:
            self.w._remember_dir(path)
            self.load_video(path)

    def open_sample_clip(self) -> None:
        from nst_app.samples import default_clip

        self.load_video(str(default_clip()))

    def load_video(self, path: str) -> bool:
        """Make `path` the clip of the Video panel and show its first frame."""
        from nst_app import videos

        try:
            info = videos.clip_info(path)
        except NSTError as e:
            self.w.show_error("Cannot use this clip", str(e))
            return False
        self.stop_playing()
        self.w.show_page("video")
        self.w.video.set_clip(info, videos.describe(info))
        self.show_video_frame(0.0)
        self.w.statusBar().showMessage(f"Clip: {Path(path).name}; scrub to a frame and press "
                                     "Preview This Frame, or Render Video", 6000)
        return True

    @Slot(float)
    def show_video_frame(self, seconds: float) -> None:
        from nst_app import videos

        info = self.w.video.info
        if info is None:
            return
        self.stop_playing()
        try:
            frame = videos.frame(info.path, seconds, self.w.video.size.value())
        except NSTError as e:
            self.w.statusBar().showMessage(str(e), 6000)
            return
        image = to_qimage(frame.rgb)
        self.w.canvas.set_before(image)
        self.w.canvas.set_image(image)

    @Slot(float)
    def preview_video_frame(self, seconds: float) -> bool:
        """Repaint the frame at `seconds` with the current settings (a still picture of it, at
        the video's size; the instant style when that is the method)."""
        from nst_app import videos
        from nst_core.kinds.apply import ApplyJob

        info = self.w.video.info
        if info is None:
            return False
        if self.w.blocked("paint"):
            return False
        try:
            photo = str(videos.frame_as_photo(info.path, seconds, self.w.video.size.value(),
                                              self.w.data_dir))
        except (NSTError, OSError) as e:
            self.w.show_error("Cannot read this frame", str(e))
            return False
        self.stop_playing()
        if self.w.video.method.currentData() == "instant":
            model = self.w.video.model.currentData()
            if not model:
                self.w.show_error("No instant style", "Choose an instant style for the video, "
                                "or the Optimize method.")
                return False
            self.w.canvas.set_before(to_qimage(load_image(photo).rgb))
            self.w.instants.start(ApplyJob(model, photo, self.w.video.size.value()))
            return True
        settings = self.w.current_settings().replace(content=photo, size=self.w.video.size.value())
        return self.w.start(settings)

    def render_video(self, output: str | None = None, overwrite: bool = False) -> bool:
        """Repaint the whole clip into a video (asks where, unless `output` is given). A render
        stopped earlier continues where it stopped."""
        from nst_app.videos import default_output
        from nst_core.kinds.video import VideoJob

        info = self.w.video.info
        if info is None or self.controller.running:
            return False
        if self.w.blocked("video"):
            return False
        instant = self.w.video.method.currentData() == "instant"
        if instant and not self.w.video.model.currentData():
            self.w.show_error("No instant style", "Choose an instant style for the video, or the "
                            "Optimize method.")
            return False
        if output is None:
            what = self.w.video.model.currentData() if instant else \
                (self.w.inputs.style_paths() or ["video"])[0]
            suggested = self.w.video.output if self.w.video.output and not \
                Path(self.w.video.output).exists() else str(default_output(info.path, what))
            try:  # the person's videos folder may not exist yet
                Path(suggested).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass
            output, _ = QFileDialog.getSaveFileName(
                self, "Render the video to", suggested,
                "MP4 video (*.mp4);;QuickTime (*.mov);;Matroska (*.mkv)")
            if not output:
                return False
            if not Path(output).suffix:
                output += ".mp4"
            overwrite = overwrite or Path(output).exists()  # the dialog asked already
        try:
            settings = self.w.video.video_settings(self.w.current_settings(), output,
                                                 overwrite).validate()
        except SettingsError as e:
            self.w.show_error("Check the settings", str(e))
            return False
        self.stop_playing()
        self._video_settings = settings
        self.set_output(output)
        self.w.progress.reset(1, frames=True)
        job, history = VideoJob(settings), self.w.history
        address = self.w.video.ray_address_or_none()
        if address is None:
            self.controller.start(lambda stop: run_and_record(job, history, "window", LIVE,
                                                              stop))
        else:
            from nst_app.ray_executor import RayExecutor, connect
            from nst_app.runs import recorded
            from nst_app.video_cluster import render_chunks
            from nst_core import SPARSE

            def on_cluster(stop):
                connect(address)  # in the worker's thread: joining takes a few seconds
                yield from recorded(render_chunks(job, RayExecutor(address), stop, SPARSE),
                                    job, history, "window")

            self.controller.start(on_cluster)
        self.w.video.status.setText("Preparing…")
        self.w.statusBar().showMessage(f"Rendering {Path(output).name}…")
        return True

    def on_event(self, ev) -> None:
        if isinstance(ev, Progress):
            self.w.progress.update_progress(ev)
            left = f" · {fmt_seconds(ev.eta)} left" if ev.eta is not None else ""
            self.w.video.status.setText(f"Frame {ev.scale + 1} of {ev.scales}{left}")
            self.w.progressed.emit(ev)
        elif isinstance(ev, Note):
            self.w.video.status.setText(ev.text)
            self.w.statusBar().showMessage(ev.text, 6000)
        elif isinstance(ev, Finished):
            self._on_finished(ev)

    def _on_finished(self, f: Finished) -> None:
        r = f.result
        if f.status == "failed" or r is None:
            self.w.progress.finish("Failed")
            self.w.video.status.setText(f.message or "Failed")
            self.w.show_error("The video could not be finished", f.message or "Failed")
            return
        if r.status == "stopped":
            text = (f"Stopped after {r.frames} of {r.planned} frames; Render Video with the "
                    "same file continues")
        else:
            text = f"Done: {r.frames} frames in {Path(r.output).name}" + (
                f", {r.seconds_per_frame:.2f} s a frame" if r.seconds_per_frame else "")
            self.set_output(r.output)
            if f.entry is not None:
                self.w.history_strip.add(f.entry, None, select=True)
            elif f.history_error:
                text += f". {f.history_error}"
        self.w.progress.finish(text)
        self.w.video.status.setText(text)
        self.w.statusBar().showMessage(text)

    def on_refused(self, error: NSTError) -> None:
        message = str(error)
        self.w.progress.finish("Could not start")
        self.w.video.status.setText(message)
        settings = self._video_settings
        if isinstance(error, OtherRenderKeptError) and settings is not None \
                and not settings.overwrite:
            answer = QMessageBox.question(
                self, "Frames of another render", message + "\n\nDiscard those frames and "
                "start afresh?")
            if answer == QMessageBox.StandardButton.Yes:
                QTimer.singleShot(0, lambda: self.render_video(settings.output, True))
            return
        self.w.show_error("The video could not start", message)

    def set_output(self, path: str) -> None:
        """The video the panel's player plays: its length sets the position slider."""
        from nst_core.media.video import probe

        duration = 0.0
        if path and Path(path).is_file():
            try:
                duration = probe(path).duration
            except NSTError:
                pass
        self.w.video.set_output(path, duration)

    def play_video(self) -> None:
        """Play the repainted video on the canvas at its own pace (without sound), from the
        player's position; at the end it stops, or starts again with Loop."""
        from nst_app.videos import playback

        path = self.w.video.output
        if not path or not Path(path).exists():
            self.w.video.set_playing(False)
            return
        self._player_timer.stop()
        if self._player is not None:
            self._player.close()
        start = self.w.video.position.value() / 100.0
        if start >= self.w.video.position.maximum() / 100.0 - 0.01:
            start = 0.0  # at the end: play from the beginning
        self._player = playback(path, start)
        self._player_start = time.perf_counter() - start
        self.w.video.set_playing(True)
        self._play_next()

    def _play_next(self) -> None:
        """Show the next frame, then wait until the one after it is due."""
        if self._player is None:
            return
        try:
            t, rgb = next(self._player)
        except (StopIteration, NSTError):
            if self.w.video.loop_check.isChecked() and self.w.video.position.value() > 0:
                self.w.video.show_position(0.0)
                self.play_video()
            else:
                self.stop_playing()
            return
        wait = t - (time.perf_counter() - self._player_start)
        if wait > 0.005:  # too early: come back when it is due
            self._player = _chain_one((t, rgb), self._player)
            self._player_timer.start(int(wait * 1000))
            return
        self.w.canvas.set_image(to_qimage(rgb))
        self.w.video.show_position(t)
        self._player_timer.start(1)

    def stop_playing(self) -> None:
        """Pause: the frame on show and the position stay."""
        self._player_timer.stop()
        if self._player is not None:
            self._player.close()
            self._player = None
        self.w.video.set_playing(False)

    @Slot(float)
    def seek(self, seconds: float) -> None:
        """Show the written video's frame at `seconds`; a playing video goes on from there."""
        from nst_app import videos

        path = self.w.video.output
        if not path or not Path(path).exists():
            return
        playing = self._player is not None
        self.stop_playing()
        self.w.video.show_position(seconds)
        try:
            frame = videos.frame(path, seconds)
        except NSTError as e:
            self.w.statusBar().showMessage(str(e), 6000)
            return
        self.w.canvas.set_image(to_qimage(frame.rgb))
        if playing:
            self.play_video()

    def show_history_entry(self, entry: HistoryEntry) -> None:
        """A video of the history: its poster is on the canvas; Play and Open in Player play
        the video, when it is still where it was rendered."""
        name = Path(entry.video).name
        if not Path(entry.video).exists():
            self.w.statusBar().showMessage(f"{name} is no longer at {entry.video}; its poster "
                                         "frame is shown", 8000)
            return
        if self.controller.running:
            return  # the panel follows the render under way
        self.w.show_page("video")
        self.set_output(entry.video)
        self.w.video.status.setText(f"{name}: Play, or Open in Player")
        self.w.statusBar().showMessage(f"Video {name}: Play it in the Video panel", 6000)

    def restore_settings(self, entry: HistoryEntry) -> None:
        """A video's settings: its clip and how it was rendered into the Video panel, its
        paintings and picture settings into the panels (the photo and the still's size stay)."""
        v = entry.video_settings
        if v is None:
            self.w.show_error("Cannot restore", "This video's settings cannot be read.")
            return
        try:
            v.validate().picture.replace(content=v.content).validate()
        except SettingsError as e:
            self.w.show_error("Cannot restore these settings",
                            f"{e}\n\nThe current settings are kept.")
            return
        if self.controller.running:
            self.w.show_error("A video is rendering", "Stop it first.")
            return
        from nst_app.videos import clip_info

        problems = []
        try:
            clip_info(v.content)
        except NSTError as e:
            problems.append(str(e))
        else:
            self.load_video(v.content)
            problems += self.w.video.apply(v)
            if Path(entry.video).exists():  # still playable
                self.set_output(entry.video)
        self.w.params.set_values(v.picture.replace(size=self.w.params.values()["size"]))
        try:
            self.w.inputs.set_styles(list(v.picture.styles), list(v.picture.style_blend) or None)
        except ImageError as e:
            problems.append(str(e))
        if problems:
            self.w.show_error("Some files of this video are missing",
                            "\n".join(problems) + "\n\nThe current ones are kept.")
        self.w.statusBar().showMessage("Video settings restored from the history", 4000)
