"""The window, as a person uses it (offscreen)."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from nst_app.samples import default_content, default_style, sample_styles
from nst_core import TransferSettings
from nst_core.media.images import load_image, read_settings_json, resize
from nst_gui import paint_work as paint_work_mod
from nst_gui.qtimage import to_array
from tests.conftest import fail_with, make_painting, make_photo, nan_after
from tests.gui.conftest import wait_idle


def _pixels(canvas) -> np.ndarray:
    return to_array(canvas.image())


def test_opens_with_the_samples_chosen(window):
    s = window.current_settings()
    assert s.content == str(default_content())
    assert s.styles == (str(default_style()),)
    s.validate()  # Start works at once
    assert window.canvas.has_image()  # the photo is on show
    assert window.start_action.text() == "Start"
    assert not window.save_action.isEnabled()  # nothing to save yet
    assert window.inputs.style_gallery.count() == len(sample_styles())


def test_choosing_images_by_the_api(window, photo_path, painting_path, painting2_path):
    assert window.images.set_content(str(photo_path))
    assert window.images.add_style(str(painting_path))
    window.inputs.rows[0].remove_button.click()  # drop the bundled one
    assert window.images.add_style(str(painting2_path))
    window.inputs.rows[-1].weight.setValue(3.0)
    s = window.current_settings()
    assert s.content == str(photo_path)
    assert s.styles == (str(painting_path), str(painting2_path))
    assert s.style_blend == (1.0, 3.0) and s.blend() == (0.25, 0.75)


def test_last_painting_cannot_be_removed(window):
    assert len(window.inputs.rows) == 1
    assert not window.inputs.rows[0].remove_button.isEnabled()


def test_gallery_click_adds_a_painting(window, qtbot):
    g = window.inputs.style_gallery
    item = next(g.item(i) for i in range(g.count())
                if "great_wave" in g.item(i).data(Qt.ItemDataRole.UserRole))
    g.itemClicked.emit(item)
    assert any("great_wave" in p for p in window.current_settings().styles)


def _drop(window, widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.mapTo(window, widget.rect().center()))
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_simulated_drop_sets_photo_or_adds_paintings(window, photo_path, painting_path):
    _drop(window, window.canvas, [photo_path])
    assert window.current_settings().content == str(photo_path)
    _drop(window, window.inputs.styles_box, [painting_path])
    assert window.current_settings().styles[-1] == str(painting_path)
    assert window.current_settings().content == str(photo_path)


def test_unreadable_file_shows_message_and_keeps_old_image(window, tmp_path, messages):
    before = window.current_settings()
    shown = _pixels(window.canvas)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is no jpeg")
    assert not window.images.set_content(str(bad))
    assert not window.images.add_style(str(bad))
    assert len(messages) == 2
    assert "damaged or truncated" in messages[0][1] or "not an image" in messages[0][1]
    assert "current photo is kept" in messages[0][1]
    assert window.current_settings() == before
    assert np.array_equal(_pixels(window.canvas), shown)


def test_changing_settings_changes_what_the_worker_receives(window, qtbot, monkeypatch):
    received = []

    def record(job, history, source, previews=None, stop=None):
        received.append(job.settings)
        yield from ()

    monkeypatch.setattr(paint_work_mod, "run_and_record", record)
    window.params.style_weight.set_value(2500.0)
    window.params.tv_weight.set_value(0.01)
    window.params.size.setValue(96)
    window.params._select(window.params.optimizer, "adam")
    window.params._select(window.params.color, "luminance")
    window.params.seed.setValue(42)
    window.params.layers.item(0, 0).setCheckState(Qt.CheckState.Unchecked)  # relu1_1 off
    assert window.start()
    wait_idle(qtbot, window)
    s = received[-1]
    assert (s.style_weight, s.tv_weight, s.size, s.optimizer, s.color, s.seed) == (
        2500.0, 0.01, 96, "adam", "luminance", 42)
    assert s.style_layers == ("relu2_1", "relu3_1", "relu4_1", "relu5_1")


def test_invalid_settings_show_a_message_and_start_nothing(window, messages):
    for row in range(window.params.layers.rowCount()):
        window.params.layers.item(row, 0).setCheckState(Qt.CheckState.Unchecked)
    assert not window.start()
    assert not window.controller.running
    assert "style_layers" in messages[-1][1]


def test_run_emits_progress_in_order_and_canvas_changes(window, qtbot):
    iterations = []
    window.progressed.connect(lambda p: iterations.append(p.iteration))
    with qtbot.waitSignal(window.finished, timeout=60000):
        assert window.start()
        assert window.start_action.text() == "Stop"
        assert not window.start()  # a second Start is impossible while running
    wait_idle(qtbot, window)
    assert iterations == list(range(1, 7))
    after = _pixels(window.canvas)
    assert np.array_equal(after, window.current.rgb)  # the canvas shows the result
    h, w = after.shape[:2]
    assert max(w, h) == 64
    photo = resize(load_image(window.current.settings.content).rgb, (w, h))
    assert np.abs(after.astype(int) - photo).mean() > 1  # repainted, not the photo
    assert window.start_action.text() == "Start"
    assert window.save_action.isEnabled() and window.current is not None
    assert window.progress.bar.value() == 6 and "Done" in window.progress.bar.format()
    assert len(window.progress.x) == 6
    assert window.history_list.count() == 1
    # the loss reported is the kept picture's, not the last step's
    kept = window.current.final_losses["total"]
    assert f"loss {kept:.4g}" in window.progress.bar.format()


def test_the_status_line_names_the_running_scale(window, qtbot):
    from nst_core import Progress
    from nst_gui.paint_work import scale_status

    def progress(scale, scales, size):
        return Progress(iteration=1, total=9, scale=scale, scales=scales, size=size,
                        losses={}, elapsed=0.0, eta=None)

    assert scale_status(progress(0, 3, (64, 48))) == \
        "Painting the first scale, 1 of 3 (64×48 px)…"
    assert scale_status(progress(1, 3, (128, 96))) == \
        "Painting the second scale, 2 of 3 (128×96 px)…"
    assert scale_status(progress(2, 3, (256, 192))) == \
        "Painting the final scale, 3 of 3 (256×192 px)…"
    assert scale_status(progress(0, 1, (64, 48))) == "Painting… (64×48 px)"
    window.params.multiscale.setChecked(True)
    window.params.scales.setValue(2)
    window.params.size.setValue(128)  # 64 and 128 px (no scale below 64 px)
    window.params.iterations.setValue(8)
    shown = []
    window.progressed.connect(lambda p: shown.append((p.scale, window.statusBar().currentMessage())))
    with qtbot.waitSignal(window.finished, timeout=60000):
        assert window.start()
    wait_idle(qtbot, window)
    assert {scale for scale, _ in shown} == {0, 1}
    assert all(("first" if scale == 0 else "final") in text for scale, text in shown)


def test_stop_keeps_an_image(window, qtbot):
    window.params.iterations.setValue(500)

    def stop_at_two(p):
        if p.iteration == 2:
            window.start_or_stop()  # the Start button is Stop now

    window.progressed.connect(stop_at_two)
    with qtbot.waitSignal(window.finished, timeout=60000) as blocker:
        window.start()
    wait_idle(qtbot, window)
    assert blocker.args[0].stopped and blocker.args[0].iterations <= 3
    assert window.current is not None and window.current.stopped
    assert "Stopped at iteration" in window.statusBar().currentMessage()


def test_closing_during_a_run_stops_it_then_closes_and_keeps_the_picture(window, qtbot):
    window.params.iterations.setValue(1000)
    window.params.early_stop.setValue(0.0)
    with qtbot.waitSignal(window.progressed, timeout=60000):
        window.start()
    thread = window.controller._thread
    with qtbot.waitSignal(window.finished, timeout=60000) as blocker:
        assert not window.close()  # not yet: the run is asked to stop first
        assert window.isVisible()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60000)  # then it closes by itself
    assert thread.isFinished()
    assert blocker.args[0].stopped and blocker.args[0].entry is not None  # kept in history


def test_nan_shows_message_and_keeps_last_image(window, qtbot, monkeypatch, messages):
    nan_after(monkeypatch, 3)
    before = window.current_settings()
    with qtbot.waitSignal(window.failed, timeout=60000):
        window.start()
    wait_idle(qtbot, window)
    assert "loss became nan" in messages[-1][1] and "kept" in messages[-1][1]
    assert window.current is not None and window.history_list.count() == 1
    assert window.current_settings() == before  # inputs and settings stay


def test_out_of_memory_message_suggests_smaller_size(window, qtbot, monkeypatch, messages):
    import torch

    fail_with(monkeypatch, torch.OutOfMemoryError("out of memory"))
    with qtbot.waitSignal(window.failed, timeout=60000):
        window.start()
    wait_idle(qtbot, window)
    assert "smaller output size" in messages[-1][1]
    assert window.start_action.text() == "Start"  # still usable


def test_save_writes_png_whose_settings_read_back(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.finished, timeout=60000):
        window.start()
    wait_idle(qtbot, window)
    out = tmp_path / "saved.png"
    assert window.results.save_to(str(out))
    back = TransferSettings.from_json(read_settings_json(out))
    assert back == window.current.settings
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), window.current.rgb)
    assert window.results.save_to(str(tmp_path / "saved.jpg"))
    assert window.results.save_to(str(tmp_path / "saved.webp"))


def test_copy_to_clipboard_and_use_result_as_init(window, qtbot):
    with qtbot.waitSignal(window.finished, timeout=60000):
        window.start()
    wait_idle(qtbot, window)
    window.results.copy_result()
    assert QGuiApplication.clipboard().image().size() == window.current.image.size()
    window.results.use_result_as_init()
    s = window.current_settings()
    assert s.init == "image" and Path(s.init_image).is_file()


def test_paste_photo_from_clipboard(window, messages):
    QGuiApplication.clipboard().clear()
    window.images.paste_content()
    assert "clipboard holds no image" in messages[-1][1]
    img = QImage(64, 48, QImage.Format.Format_RGB888)
    img.fill(Qt.GlobalColor.darkCyan)
    QGuiApplication.clipboard().setImage(img)
    window.images.paste_content()
    s = window.current_settings()
    assert Path(s.content).is_file() and Path(s.content).parent.name == "pasted"


def test_history_survives_a_restart(make_window, qtbot, tmp_path):
    w = make_window()
    w.params.size.setValue(64)
    w.params.iterations.setValue(3)
    with qtbot.waitSignal(w.finished, timeout=60000):
        w.start()
    wait_idle(qtbot, w)
    settings_used = w.current.settings
    w.close()
    w2 = make_window()  # same data folder and settings file
    assert w2.history_list.count() == 1
    assert not w2.history_list.item(0).icon().isNull()  # thumbnail read from the saved PNG
    w2.history_list.setCurrentRow(0)
    w2.history_list.itemClicked.emit(w2.history_list.item(0))  # as a click does
    assert w2.current is not None and w2.current.settings == settings_used
    w2.params.size.setValue(200)
    w2.history_work.restore_selected()
    assert w2.params.values()["size"] == 64


def test_last_settings_and_geometry_are_remembered(make_window, photo_path):
    w = make_window()
    w.images.set_content(str(photo_path))
    w.params.style_weight.set_value(777.0)
    w.resize(760, 560)  # within the offscreen platform's 800x600 screen
    size = (w.width(), w.height())
    assert size != (1400, 900)  # not the first-run default
    w.close()
    w2 = make_window()
    s = w2.current_settings()
    assert s.content == str(photo_path) and s.style_weight == 777.0
    assert (w2.width(), w2.height()) == size


def test_moved_images_fall_back_to_samples(make_window, tmp_path):
    p = tmp_path / "temp_photo.png"
    Image.fromarray(make_photo()).save(p)
    w = make_window()
    w.images.set_content(str(p))
    w.close()
    p.unlink()
    w2 = make_window()
    assert w2.current_settings().content == str(default_content())


def test_open_result_restores_its_settings(window, tmp_path, photo_path, painting_path, messages):
    from nst_core.media.images import save_image

    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=80,
                         style_weight=321.0, seed=11, optimizer="adam")
    out = save_image(tmp_path / "result.png", make_painting(), s.to_json())
    assert window.results.open_result_file(str(out))
    got = window.current_settings()
    assert (got.content, got.styles, got.size, got.style_weight, got.seed, got.optimizer) == (
        s.content, s.styles, 80, 321.0, 11, "adam")
    assert window.current is not None and window.save_action.isEnabled()
    plain = tmp_path / "plain.png"
    Image.fromarray(make_photo()).save(plain)
    assert not window.results.open_result_file(str(plain))
    assert "carries no NST Studio settings" in messages[-1][1]


def test_presets_and_reset(window):
    box = window.presets_bar.box
    names = [box.itemText(i) for i in range(box.count())]
    assert names == ["Custom", "Quick preview", "Balanced", "High quality"]
    window.params.style_weight.set_value(999.0)
    window.paint.apply_preset("High quality")
    v = window.params.values()
    assert (v["size"], v["iterations"], v["scales"], v["settle"]) == (1024, 600, 4, 0.1)
    assert v["style_weight"] == 999.0  # presets leave the look alone
    assert box.currentText() == "High quality"
    window.paint.apply_preset("Quick preview")
    assert window.params.values()["size"] == 256
    window.paint.reset_to_defaults()
    defaults = TransferSettings()
    v = window.params.values()
    assert v["size"] == defaults.size and v["style_weight"] == defaults.style_weight
    assert v["settle"] == defaults.settle
    assert box.currentText() == "Balanced"  # the defaults are the Balanced preset
    assert window.current_settings().content == str(default_content())  # images stay


def test_shortcuts_exist(window):
    def keys(action):
        return {k.toString() for k in action.shortcuts()}

    assert "Ctrl+O" in keys(window.open_action)
    assert "Ctrl+S" in keys(window.save_action)
    assert "Ctrl+Return" in keys(window.start_action)
    assert "Ctrl+0" in keys(window.fit_action)
    assert "Ctrl+1" in keys(window.actual_action)
    assert keys(window.zoom_in_action) and keys(window.zoom_out_action)


def test_every_setting_has_a_tooltip(window):
    p = window.params
    for w in (p.style_weight, p.content_weight, p.tv_weight, p.size, p.iterations, p.optimizer,
              p.init, p.color, p.seed, p.device, p.pooling, p.style_scale, p.layers):
        assert w.toolTip(), w


def test_device_choices_are_only_those_present(window):
    import torch

    choices = [window.params.device.itemData(i) for i in range(window.params.device.count())]
    assert choices[:2] == ["auto", "cpu"]
    assert ("cuda" in choices) == torch.cuda.is_available()


@pytest.mark.parametrize("value", [1.0, 37.5, 100.0, 12345.0, 1e5])
def test_log_slider_round_trips(window, value):
    slider = window.params.style_weight
    slider.set_value(value)
    assert slider.value() == pytest.approx(value)
    pos = slider.slider.value()
    slider.slider.setValue(pos + 100)  # one tenth of the travel up: about x3.2 for 5 decades
    if pos + 100 <= slider.STEPS:
        assert slider.value() == pytest.approx(value * 10 ** 0.5, rel=0.02)
    else:  # already at the top: the slider cannot go further
        assert slider.value() == pytest.approx(value)


def test_unexpected_exception_dialog_has_copy_button(qtbot):
    from nst_gui.error_dialog import ErrorDialog

    d = ErrorDialog("ValueError: boom", "Traceback (most recent call last):\n  ...")
    qtbot.addWidget(d)
    d.copy_button.click()
    assert QGuiApplication.clipboard().text().startswith("Traceback")


def test_memory_need_is_shown_and_too_large_is_marked(window, monkeypatch):
    from nst_core.painting import sizing as picture

    window.params.size.setValue(512)
    assert "needs ≈" in window.params.memory_label.text()
    assert "too large" not in window.params.memory_label.text()
    # the time Start will take, before Start, and it follows the settings
    assert "takes about" in window.params.memory_label.text()
    window.params.iterations.setValue(5)
    short = window.params.memory_label.text()
    window.params.iterations.setValue(5000)
    assert window.params.memory_label.text() != short
    # beyond the memory free it goes in tiles, and takes longer for them
    need = picture.memory_needed(window.current_settings().replace(size=1024),
                                 window.inputs.content_size)
    monkeypatch.setattr(picture, "available_memory", lambda device: int(need * 0.7))
    window.params.size.setValue(1024)
    assert "tiles" in window.params.memory_label.text()
    assert "too large" not in window.params.memory_label.text()
    monkeypatch.setattr(picture, "available_memory", lambda device: 2**20)
    window.params.size.setValue(960)
    assert "too large, even in tiles" in window.params.memory_label.text()


def _left_half(photo_path) -> str:
    """A mask of the photo's left half, beside it."""
    from PIL import Image

    with Image.open(photo_path) as im:
        w, h = im.size
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    path = photo_path.parent / "left-half.png"
    Image.fromarray(mask).save(path)
    return str(path)


def test_form_round_trips_every_setting(window, photo_path, painting_path, painting2_path):
    """Any field the form forgot would come back as its default here."""
    s = TransferSettings(
        content=str(photo_path), styles=(str(painting_path), str(painting2_path)),
        style_blend=(2.0, 1.0), size=320, content_weight=2.5, style_weight=4321.0,
        tv_weight=0.02, content_layers=("relu3_2", "relu4_2"),
        style_layers=("relu1_1", "relu3_1"), style_layer_weights=(1.0, 0.5), init="noise",
        optimizer="adam", learning_rate=0.05, iterations=77, early_stop=0.01, settle=0.55,
        multiscale=False, scales=4, style_scale=0.5, color="luminance", pooling="avg", seed=1234,
        device="cpu", max_memory=12.5, tile=1024, strokes_at=768, weights="torchvision",
        weights_path="/x/vgg19.pth", masks=(_left_half(photo_path), ""), soft_edges=3.5)
    assert set(s.to_dict()) == set(TransferSettings().to_dict())
    for name, value in s.to_dict().items():  # every field differs from its default
        assert value != TransferSettings().to_dict()[name] or name == "init_image", name
    assert window.apply_settings(s) == []
    assert window.current_settings() == s


def test_main_py_opens_the_window_on_the_samples(tmp_path):
    """`python main.py` with no arguments, in its own process (as a person starts it)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    probe = (
        "import sys; sys.path.insert(0, %r)\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from nst_gui.app import create_app\n"
        "import main\n"
        "app = create_app()\n"
        "def check():\n"
        "    ws = [w for w in QApplication.topLevelWidgets()\n"
        "          if type(w).__name__ == 'MainWindow' and w.isVisible()]\n"
        "    print('WINDOWS', len(ws), ws[0].current_settings().content if ws else '')\n"
        "    for w in ws: w.close()\n"
        "QTimer.singleShot(500, check)\n"
        "sys.exit(main.main([]))\n") % str(root)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"WINDOWS 1 {default_content()}" in proc.stdout
    assert (tmp_path / "config").is_dir()  # it remembered its state there, not in a real home


def test_restoring_settings_updates_the_compare_photo(window, photo_path, painting_path):
    s = window.current_settings().replace(content=str(photo_path), styles=(str(painting_path),))
    window.apply_settings(s)
    before = window.canvas._before.toImage()
    assert (before.width(), before.height()) == (48, 40)  # the restored photo, not the sample


def test_two_pastes_in_the_same_second_keep_both_images(window):
    a, b = QImage(40, 30, QImage.Format.Format_RGB888), QImage(40, 30, QImage.Format.Format_RGB888)
    a.fill(Qt.GlobalColor.red)
    b.fill(Qt.GlobalColor.blue)
    pa, pb = window.images.store_pasted(a), window.images.store_pasted(b)
    assert pa != pb and Path(pa).parent == Path(pb).parent
    assert tuple(load_image(pa).rgb[5, 5]) == (255, 0, 0)
    assert tuple(load_image(pb).rgb[5, 5]) == (0, 0, 255)


def test_an_unexpected_error_shows_the_dialog_with_details(window, qtbot, monkeypatch, messages):
    from nst_gui.error_dialog import ErrorDialog

    fail_with(monkeypatch, ZeroDivisionError("a bug"))
    with qtbot.waitSignal(window.failed, timeout=60000):
        window.start()
    wait_idle(qtbot, window)
    dialog = window.error_dialog
    assert isinstance(dialog, ErrorDialog) and dialog.isVisible()
    assert "Traceback" in dialog.details.toPlainText()
    assert "ZeroDivisionError" in dialog.details.toPlainText()
    assert messages == []  # not a raw traceback in a warning box
    dialog.close()
    assert window.start_action.text() == "Start"  # still usable


def test_a_history_that_cannot_be_written_is_said_at_once(make_window, qtbot, tmp_path,
                                                          messages):
    data = tmp_path / "data"
    data.mkdir()
    (data / "history").write_text("a file where the history folder should be")
    w = make_window(data_dir=data)
    w.params.size.setValue(64)
    w.params.iterations.setValue(2)
    w.params.multiscale.setChecked(False)
    with qtbot.waitSignal(w.finished, timeout=60000):
        w.start()
    wait_idle(qtbot, w)
    title, text = messages[-1]
    assert title == "The picture is not in the history" and "Save As" in text
    assert w.current is not None and w.save_action.isEnabled()  # the picture is kept
    assert w.results.save_to(str(tmp_path / "rescued.png"))


# ---- damaged app state (issue: reliability) -----------------------------------------------
def test_the_window_starts_past_a_damaged_history_entry(make_window, tmp_path, tiny_settings):
    import json as _json

    from nst_app.history import HistoryStore
    from nst_core.kinds.still import StillResult

    store = HistoryStore(tmp_path / "data" / "history")
    for created in (None, "yesterday", 9e15):
        e = store.add(StillResult(make_photo(), tiny_settings, iterations=2))
        meta = Path(e.image_path[:-4] + ".json")
        meta.write_text(_json.dumps({**_json.loads(meta.read_text()), "created": created}))
    good = store.add(StillResult(make_photo(), tiny_settings, iterations=2))
    w = make_window()
    assert w.history_list.count() == 4  # the window started, and no picture is hidden:
    entries = [w.history_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(4)]
    assert [e.status for e in entries].count("done") == 1  # the good sidecar
    assert [e.status for e in entries].count("unknown") == 3  # the others, from their PNGs
    assert all(e.settings == tiny_settings for e in entries)
    assert good.image_path in [e.image_path for e in entries]


def test_saved_settings_out_of_range_are_skipped_not_fatal(make_window, tmp_path):
    from PySide6.QtCore import QSettings

    ini = tmp_path / "settings.ini"
    store = QSettings(str(ini), QSettings.Format.IniFormat)
    store.setValue("last_settings", '{"size": 10000000000000, "seed": 1' + "0" * 40 +
                   ', "style_weight": 321.0, "iterations": "many", "scales": 3}')
    store.sync()
    w = make_window(ini=ini)
    v = w.params.values()
    assert v["size"] == 512 and v["seed"] == 0  # the defaults, not a crash
    assert v["style_weight"] == 321.0 and v["scales"] == 3  # the good values are kept


def test_open_result_with_settings_out_of_range_changes_nothing(window, tmp_path, messages):
    from nst_core.media.images import save_image

    bad = window.current_settings().to_dict()
    bad.update(size=100000, style_weight=555.0)
    import json as _json

    out = save_image(tmp_path / "odd.png", make_painting(),
                     _json.dumps({"nst_studio_settings": 1, **bad}))
    before = window.current_settings()
    assert not window.results.open_result_file(str(out))
    assert "size: must be between" in messages[-1][1] and "kept" in messages[-1][1]
    assert window.current_settings() == before  # no half-updated panels


def test_restore_with_settings_out_of_range_changes_nothing(window, messages, tiny_settings):
    from nst_app.history import HistoryEntry

    entry = HistoryEntry("/nowhere.png", 0.0, 1, 1.0, "done",
                         settings_data={**tiny_settings.to_dict(), "iterations": 0})
    before = window.current_settings()
    window.history_work.restore(entry)
    assert messages[-1][0] == "Cannot restore these settings"
    assert window.current_settings() == before


def test_every_history_entry_can_be_reached(make_window, tmp_path, tiny_settings):
    from nst_app.history import HistoryStore
    from nst_core.kinds.still import StillResult

    store = HistoryStore(tmp_path / "data" / "history")
    small = make_photo(16, 16)
    for _ in range(203):
        store.add(StillResult(small, tiny_settings, iterations=1))
    w = make_window()
    assert w.history_list.count() == 200 and w.history_strip.older_button.isVisibleTo(w)
    w.history_strip.older_button.click()
    assert w.history_list.count() == 203
    assert not w.history_strip.older_button.isVisibleTo(w)


def test_a_stop_before_the_first_iteration_keeps_nothing(window, qtbot):
    history_before = window.history_list.count()
    window.start()
    window.stop()  # at once: loading the images and the network takes far longer than this
    wait_idle(qtbot, window)
    assert window.current is None
    assert window.history_list.count() == history_before
    assert not window.save_action.isEnabled()
    assert "before the first iteration" in window.statusBar().currentMessage()
