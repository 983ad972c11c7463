"""The window's video mode: open a clip, scrub, preview a frame, render (optimized and instant),
stop and continue, play the result, and a clip that cannot be read."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nst_core import Progress
from nst_core.media.video import probe, read_frames
from nst_core.media.frame_cache import cache_dir
from nst_gui.qtimage import to_array, to_qimage
from tests.conftest import clip_frame, write_clip
from tests.gui.conftest import wait_idle
from tests.gui.test_instant import _with_model


def _open(window, tmp_path, frames=4, tone=0.0):
    clip = write_clip(tmp_path / "clip.mp4", frames=frames, w=64, h=48, tone=tone)
    window.video.size.setValue(64)
    assert window.videos.load_video(str(clip))
    return clip


def test_open_scrub_and_preview_a_frame(window, qtbot, tmp_path):
    _open(window, tmp_path, frames=6)
    assert window.side.is_shown("video")
    assert "64×48" in window.video.clip_label.text()
    shown = to_array(window.canvas.image())
    assert np.abs(shown.astype(int) - clip_frame(0, 64, 48)).mean() < 10
    window.video.scrub.setValue(40)  # 0.40 s: frame 4
    qtbot.waitUntil(lambda: np.abs(to_array(window.canvas.image()).astype(int)
                                   - clip_frame(4, 64, 48)).mean() < 10, timeout=5000)
    assert window.video.time_label.text() == "0.40 s"

    finished = []
    window.finished.connect(finished.append)
    window.video.preview_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(finished) > 0, timeout=5000)
    picture = finished[0].rgb
    assert picture.shape == (48, 64, 3)
    assert np.abs(picture.astype(int) - clip_frame(4, 64, 48)).mean() > 3  # repainted
    assert window.current is not None  # and it is the picture on show (Save As works)


def test_render_optimized_video_with_sound_and_play_it(window, qtbot, tmp_path):
    clip = _open(window, tmp_path, frames=4, tone=440)
    frames_seen: list[int] = []
    window.progressed.connect(lambda p: isinstance(p, Progress) and frames_seen.append(p.scale))
    out = tmp_path / "out.mp4"
    assert window.videos.render_video(str(out))
    assert window.video.stop_button.isEnabled() and not window.video.render_button.isEnabled()
    wait_idle(qtbot, window, timeout=120000)
    assert out.is_file()
    info = probe(out)
    assert info.frames == 4 and info.audio == "aac" and info.size == (64, 48)
    assert sorted(set(frames_seen)) == [0, 1, 2, 3]
    assert "Done: 4 frames" in window.video.status.text()
    assert window.video.play_button.isEnabled()
    # the canvas shows the last repainted frame
    last = list(read_frames(out))[-1].rgb
    assert np.abs(to_array(window.canvas.image()).astype(int) - last).mean() < 8
    window.canvas.set_image(to_qimage(to_array(window.canvas.image()) * 0))
    window.video.play_button.click()  # plays on the canvas at the clip's pace
    qtbot.waitUntil(lambda: not window.video.play_button.isChecked(), timeout=10000)
    assert np.abs(to_array(window.canvas.image()).astype(int) - last).mean() < 2
    assert not cache_dir(out).exists()
    assert probe(clip).frames == 4  # the clip itself untouched
    # listed in the history, with the last repainted frame as its poster
    entry = window.history_strip.selected()
    assert window.history_strip.count() == 1 and entry.kind == "video"
    assert entry.video == str(out) and entry.frames == 4 and entry.source == "window"
    assert "▶" in window.history_list.item(0).text()
    assert np.abs(to_array(window.canvas.image()).astype(int) - last).mean() < 2


def test_stop_then_render_again_continues(window, qtbot, tmp_path, tiny_model):
    model = _with_model(window, tiny_model)
    _open(window, tmp_path, frames=6)
    window.video.reload_models()
    window.video.method.setCurrentIndex(window.video.method.findData("instant"))
    window.video.model.setCurrentIndex(window.video.model.findData(model))
    window.video.fps.setValue(0)
    out = tmp_path / "instant.mp4"

    def stop_at_third(p):
        if isinstance(p, Progress) and p.scale == 2:
            window.video.stop_button.click()

    window.progressed.connect(stop_at_third)
    assert window.videos.render_video(str(out))
    wait_idle(qtbot, window)
    window.progressed.disconnect(stop_at_third)
    assert not out.exists()
    kept = sorted(cache_dir(out).glob("*.png"))
    assert 3 <= len(kept) < 6
    assert "Stopped after" in window.video.status.text()
    assert window.videos.render_video(str(out))  # the same file: it continues
    wait_idle(qtbot, window)
    assert probe(out).frames == 6
    assert "Done: 6 frames" in window.video.status.text()


def test_a_clip_that_cannot_be_read_is_refused(window, tmp_path, messages):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    before = window.video.info
    assert not window.videos.load_video(str(bad))
    assert messages and "broken.mp4" in messages[-1][1]
    assert window.video.info is before  # the panel keeps what it had


def test_a_dropped_clip_opens_in_the_video_panel(window, tmp_path):
    from tests.gui.test_window import _drop

    clip = write_clip(tmp_path / "dropped.mp4", frames=3)
    photo_before = window.inputs.content_path
    _drop(window, window.canvas, [clip])
    assert window.video.info is not None and window.video.info.path == str(clip)
    assert window.side.is_shown("video")
    assert window.inputs.content_path == photo_before  # the photo is not replaced


def _history_video(window, tmp_path, painting_path):
    """A video in the window's history, rendered earlier (by the command line, say)."""
    from nst_core.kinds.video import VideoResult
    from nst_core.settings.video import VideoSettings

    clip = write_clip(tmp_path / "earlier.mp4", frames=4)
    out = write_clip(tmp_path / "earlier_out.mp4", frames=4, w=64, h=48)
    settings = VideoSettings(content=str(clip), output=str(out), temporal_weight=123.0,
                             max_fps=5.0, long_term=True,
                             picture=window.current_settings().replace(
                                 content="", styles=(str(painting_path),), size=96,
                                 style_weight=333.0))
    poster = clip_frame(2, 64, 48)
    result = VideoResult(str(out), 4, 4, "done", "repainted 4 frames", "", 1.0, [3] * 4,
                         poster)
    entry = window.history.add_video(result, settings, "cli")
    window.history_strip.load(window.history.entries())
    return entry, settings, poster


def test_a_video_in_the_history_plays_and_its_settings_restore(window, qtbot, tmp_path,
                                                                painting_path, messages,
                                                                monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    entry, settings, poster = _history_video(window, tmp_path, painting_path)
    photo, still_size = window.inputs.content_path, window.params.size.value()
    window.history_list.setCurrentRow(0)
    window.history_work.show_entry(window.history_strip.selected())
    assert np.array_equal(to_array(window.canvas.image()), poster)
    assert window.side.is_shown("video") and window.video.output == entry.video
    suggested = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, path, *a: suggested.append(path) or ("", ""))
    window.results.save_as()  # the poster can be saved, named after the video
    assert Path(suggested[0]).name == "earlier_out_poster.png"
    assert window.video.play_button.isEnabled()
    window.video.play_button.click()  # plays the video of the history on the canvas
    qtbot.waitUntil(lambda: not window.video.play_button.isChecked(), timeout=10000)
    last = list(read_frames(entry.video))[-1].rgb
    assert np.abs(to_array(window.canvas.image()).astype(int) - last).mean() < 2

    window.history_work.restore_selected()
    assert not messages
    assert window.video.info.path == settings.content
    assert window.video.temporal.value() == 123.0 and window.video.fps.value() == 5.0
    assert window.video.long_term.isChecked() and window.video.size.value() == 96
    assert window.params.values()["style_weight"] == 333.0
    assert window.inputs.style_paths() == [str(painting_path)]
    # the photo and the still's size are the still's own
    assert window.inputs.content_path == photo and window.params.size.value() == still_size
    assert window.video.output == entry.video and window.video.play_button.isEnabled()


def test_a_video_of_the_history_that_was_moved_shows_its_poster(window, tmp_path,
                                                                painting_path, messages):
    entry, settings, poster = _history_video(window, tmp_path, painting_path)
    Path(entry.video).unlink()
    window.history_list.setCurrentRow(0)
    window.history_work.show_entry(window.history_strip.selected())
    assert np.array_equal(to_array(window.canvas.image()), poster)
    assert "no longer at" in window.statusBar().currentMessage()
    assert window.video.output == "" and not window.video.play_button.isEnabled()
    Path(settings.content).unlink()  # and the clip too: restoring says so, keeps the panel
    window.history_work.restore_selected()
    assert messages and "earlier.mp4" in messages[-1][1]
    assert window.params.values()["style_weight"] == 333.0


def _edit_sidecar(window, entry, **changes):
    import json

    sidecar = Path(entry.image_path).with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data["video_settings"].update(changes)
    sidecar.write_text(json.dumps(data))
    window.history_strip.load(window.history.entries())


def test_a_videos_instant_style_that_is_gone_is_named(window, tmp_path, painting_path,
                                                      messages):
    entry, settings, _ = _history_video(window, tmp_path, painting_path)
    gone = str(tmp_path / "gone.nst")
    _edit_sidecar(window, entry, method="instant", model=gone)
    window.history_list.setCurrentRow(0)
    window.history_work.restore_selected()
    assert messages[-1][0] == "Some files of this video are missing"
    assert f"The instant style {gone} is no longer there" in messages[-1][1]
    assert window.video.info.path == settings.content  # the rest is restored
    assert window.video.method.currentData() == "instant"
    assert window.video.model.findData(gone) < 0


def test_a_videos_absurd_settings_restore_nothing(window, tmp_path, painting_path, messages):
    entry, settings, _ = _history_video(window, tmp_path, painting_path)
    _edit_sidecar(window, entry, temporal_weight=-5)
    weight = window.params.values()["style_weight"]
    window.history_list.setCurrentRow(0)
    window.history_work.restore_selected()
    assert messages[-1][0] == "Cannot restore these settings"
    assert "temporal_weight" in messages[-1][1]
    assert window.video.info is None and window.params.values()["style_weight"] == weight


def test_frames_kept_from_another_render_are_offered_to_be_discarded(window, qtbot, tmp_path,
                                                                     monkeypatch):
    """The refusal is told apart by its type: the window asks before throwing frames away, and
    a yes starts afresh with overwriting."""
    from PySide6.QtWidgets import QMessageBox

    _open(window, tmp_path, frames=3)
    out = tmp_path / "out.mp4"
    kept = cache_dir(out)
    kept.mkdir()
    (kept / "job.json").write_text('{"another": "render"}')
    (kept / "000000.png").write_bytes(b"a frame of another render")
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(title)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    window.videos.render_video(str(out))
    qtbot.waitUntil(lambda: out.is_file(), timeout=120000)
    wait_idle(qtbot, window, timeout=120000)
    assert asked == ["Frames of another render"]
    assert probe(out).frames == 3 and not kept.exists()


def test_the_player_pauses_seeks_and_loops(window, qtbot, tmp_path, painting_path):
    """Play and pause keep the position; dragging the position shows that frame; Loop starts
    again at the end."""
    out = write_clip(tmp_path / "written.mp4", frames=20, w=64, h=48)  # 2 s at 10 fps
    entry, _, _ = _history_video(window, tmp_path, painting_path)
    window.history_work.show_entry(entry)
    v = window.video
    window.videos.set_output(str(out))
    assert v.position.isEnabled() and 180 <= v.position.maximum() <= 200
    v.seek_requested.emit(1.25)  # as a drag of the position does
    assert v.position_label.text() == "1.25 s"
    shown = to_array(window.canvas.image()).astype(int)
    assert np.abs(shown - clip_frame(12, 64, 48)).mean() < 8  # the frame on show at 1.25 s

    v.play_button.click()
    assert v.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: v.position.value() >= 150, timeout=5000)  # from 1.25 s on
    v.play_button.click()  # pause
    assert not v.play_button.isChecked() and v.play_button.text() == "Play"
    paused = v.position.value()
    qtbot.wait(300)
    assert v.position.value() == paused  # the position stays

    v.loop_check.setChecked(True)
    v.play_button.click()
    qtbot.waitUntil(lambda: v.position.value() < paused, timeout=5000)  # round again
    assert v.play_button.isChecked()
    v.play_button.click()
    v.loop_check.setChecked(False)
    v.play_button.click()  # without Loop it plays to the end and stops there
    qtbot.waitUntil(lambda: not v.play_button.isChecked(), timeout=5000)
    assert v.position.value() >= 180


def test_a_render_of_the_sample_clip_is_offered_outside_the_app(window, monkeypatch, tmp_path):
    """Beside the clip, unless the clip is one of the app's own: then the person's videos
    folder, never inside the installed app."""
    import platformdirs
    from PySide6.QtWidgets import QFileDialog

    from nst_app.samples import default_clip, resources_dir

    monkeypatch.setattr(platformdirs, "user_videos_dir", lambda: str(tmp_path / "Videos"))
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, path, *a: offered.append(path) or ("", ""))
    assert window.videos.load_video(str(default_clip()))
    assert not window.videos.render_video()  # the dialog is cancelled
    assert Path(offered[-1]).parent == tmp_path / "Videos" / "NST Studio"
    assert not Path(offered[-1]).resolve().is_relative_to(resources_dir().resolve())
    assert (tmp_path / "Videos" / "NST Studio").is_dir()  # made, so the dialog opens there
    _open(window, tmp_path)  # a clip of the person's own: beside it
    assert not window.videos.render_video()
    assert Path(offered[-1]).parent == tmp_path
