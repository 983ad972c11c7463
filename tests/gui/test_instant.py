"""Instant styles in the window: Instant mode, training with live progress, stop and resume,
the camera, Refine, and a damaged model file."""
from __future__ import annotations

import shutil

import numpy as np
from PIL import Image

from nst_core import Progress
from nst_core.networks.model_file import load_model
from nst_gui.qtimage import to_array
from tests.conftest import make_photo, write_video
from tests.gui.conftest import wait_idle


def _with_model(window, tiny_model):
    folder = window.data_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.nst"
    shutil.copyfile(tiny_model, path)
    window.show_page("instant")
    window.instant.size.setValue(64)
    window.instant.reload()
    return str(path)


def _instant_shown(window) -> bool:
    return window.current is not None and window.current.reason.startswith("instant")


def test_instant_mode_repaints_when_the_photo_or_a_setting_changes(window, qtbot, tiny_model,
                                                                   tmp_path):
    path = _with_model(window, tiny_model)
    assert window.instant.select(path)
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    first = window.current.rgb.copy()
    assert max(first.shape[:2]) == 64
    other = tmp_path / "other.png"
    Image.fromarray(make_photo(90, 60, seed=5)[::-1].copy()).save(other)
    window.images.set_content(str(other))  # no Start pressed
    qtbot.waitUntil(lambda: window.current.rgb.shape != first.shape, timeout=20000)
    assert window.current.rgb.shape == (43, 64, 3)  # the new photo's shape at 64 px
    assert np.array_equal(to_array(window.canvas.image()), window.current.rgb)
    window.instant.strength.setValue(0)  # strength 0: the photo itself
    photo = np.asarray(Image.open(other).convert("RGB").resize((64, 43), Image.LANCZOS))
    qtbot.waitUntil(lambda: np.abs(window.current.rgb.astype(int) - photo).mean() < 3,
                    timeout=20000)
    assert "Instant" in window.instant.status.text()


def test_train_in_the_window_stop_and_resume(window, qtbot, tmp_path):
    photos = []
    for i in range(2):
        p = tmp_path / f"t{i}.png"
        Image.fromarray(make_photo(160, 140, seed=i)).save(p)
        photos.append(str(p))
    steps: list[int] = []
    window.instants.trainer.event.connect(
        lambda ev: isinstance(ev, Progress) and steps.append(ev.iteration))
    assert window.instants.train(photos=tuple(photos))  # the bundled painting
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=60000)
    assert "samples/s" in window.progress.figures.text()
    window.stop()
    wait_idle(qtbot, window)
    path = window.instant.current_path()
    assert path.endswith("starry_night.nst")
    done = load_model(path).steps_done
    assert done >= 1 and not load_model(path).finished
    assert "Training stopped" in window.instant.status.text()
    assert window.instant.resume_button.isEnabled()
    steps.clear()
    window.instant.resume_button.click()
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=60000)
    window.stop()
    wait_idle(qtbot, window)
    assert steps[0] == done + 1  # it went on from where it stopped
    assert load_model(path).steps_done >= done + 1


def test_the_camera_with_a_video_standing_in(window, qtbot, tiny_model, tmp_path):
    clip = tmp_path / "cam.mp4"
    write_video(clip, frames=8)
    window.instants.camera_source = str(clip)
    path = _with_model(window, tiny_model)
    window.instant.select(path)
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    still = to_array(window.canvas.image()).copy()
    window.instant.camera_button.setChecked(True)
    qtbot.waitUntil(lambda: not window.instant.camera_button.isChecked(), timeout=30000)
    qtbot.waitUntil(lambda: not window.instant_controller.running, timeout=10000)
    assert "8 frames" in window.instant.status.text()
    frame = to_array(window.canvas.image())
    assert frame.shape == (48, 64, 3) and not np.array_equal(frame, still)


def test_a_missing_camera_says_so(window, qtbot, tiny_model, messages):
    window.instants.camera_source = "97"
    path = _with_model(window, tiny_model)
    window.instant.select(path)
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    window.instant.camera_button.setChecked(True)
    qtbot.waitUntil(lambda: bool(messages), timeout=20000)
    assert "camera" in messages[-1][1].lower()
    assert not window.instant.camera_button.isChecked()


def test_refine_starts_the_optimization_from_the_instant_picture(window, qtbot, tiny_model):
    path = _with_model(window, tiny_model)
    window.instant.select(path)
    qtbot.waitUntil(lambda: _instant_shown(window), timeout=20000)
    instant = window.current.rgb.copy()
    with qtbot.waitSignal(window.finished, timeout=60000) as blocker:
        assert window.instants.refine()
    s = blocker.args[0].settings
    assert s.init == "image"
    assert np.array_equal(np.asarray(Image.open(s.init_image).convert("RGB")), instant)
    assert blocker.args[0].iterations == 6


def test_a_damaged_model_is_refused_and_the_library_kept(window, tmp_path, messages):
    bad = tmp_path / "bad.nst"
    bad.write_bytes(b"PK\x03\x04 broken zip")
    before = window.instant.list.count()
    assert not window.instant.import_file(str(bad))
    assert "not an instant-style model" in messages[-1][1]
    assert window.instant.list.count() == before


def test_instant_pictures_wait_while_a_painting_runs(window, qtbot, tiny_model):
    path = _with_model(window, tiny_model)
    assert window.start()  # a painting is under way: the canvas is its
    window.instant.select(path)
    assert "wait" in window.instant.status.text()
    assert not window.instant_controller.running
    with qtbot.waitSignal(window.finished, timeout=60000):
        pass
    assert not _instant_shown(window)  # the painting's picture stays on show


def test_training_says_what_it_will_take_before_it_starts(window, messages):
    """Asked from the window, a training names the painting, its time on this computer and
    that it keeps the processor busy; the person can still say no."""
    assert window.inputs.style_paths()[0].endswith("starry_night.jpg")
    assert not window.instants.train()  # the dialog is answered Cancel
    title, text = messages[-1]
    assert title == "Make an instant style"
    assert text.startswith("Train an instant style of Starry night (starry_night.jpg): 1600 "
                           "steps, about ")
    assert "on this computer" in text and "keeps the processor busy" in text
    assert "ships with the app" in text  # the shipped Starry Night stays, the new one beside it
    assert not window.instants.trainer.running


def test_training_a_painting_you_already_have_a_style_of_keeps_both(window, tiny_model):
    from nst_app.models import user_models_dir

    mine = user_models_dir(window.data_dir) / "starry_night.nst"
    mine.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny_model, mine)  # finished: a new training does not continue it
    out, about = window.instants.training_plan(window.inputs.style_paths()[0])
    assert out.name == "starry_night-2.nst" and mine.is_file()
    assert "You already have a style of this painting (starry_night.nst)" in about
    assert "starry_night-2.nst" in about


def test_a_finished_training_lists_its_previews_in_the_history(window, qtbot, tmp_path):
    from tests.conftest import tiny_train_settings

    before = window.history_strip.list.count()
    settings = tiny_train_settings(tmp_path)
    assert window.instants._start_training(settings)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.history_strip.list.count() == before + 1, timeout=10000)
    [entry] = window.history.entries()
    assert entry.settings.styles == (settings.style,)
    assert "instant style trained in 2 steps" in entry.reason
    assert "Instant style ready" in window.instant.status.text()


def test_one_output_size_for_painted_and_instant_pictures(window):
    window.params.size.setValue(640)
    assert window.instant.size.value() == 640
    window.instant.size.setValue(320)
    assert window.params.size.value() == 320
    assert window.current_settings().size == 320
    assert window.instant.size.minimum() == window.params.size.minimum()


def test_training_says_when_its_previews_take_shape(window, tmp_path, monkeypatch):
    """The start names the step (and the time here) at which the previews show the painting's
    strokes, counted from where a resumed training stands."""
    from nst_core.kinds import train
    from tests.conftest import tiny_train_settings

    step = train.estimated_seconds(tiny_train_settings(tmp_path, steps=1))
    settings = tiny_train_settings(tmp_path, steps=400)
    assert [n for n, _ in train.takes_shape(settings)] == [150, 300]
    [(n, seconds)] = train.takes_shape(settings, steps_done=200)
    assert n == 300 and abs(seconds - 100 * step) < 1e-6
    assert train.takes_shape(tiny_train_settings(tmp_path, steps=100)) == []
    started: list = []
    monkeypatch.setattr(window.instants.trainer, "start", lambda fn: started.append(fn))
    assert window.instants._start_training(settings)
    text = window.instant.status.text()
    assert "strokes after about 150 steps" in text and "shapes after 300" in text
    assert started
