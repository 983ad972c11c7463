"""The batch queue in the window: add, run, stop, fail, survive a restart (Ray: test_ray_window)."""
import shutil

import numpy as np

from nst_core.media.images import load_image, read_settings_json
from nst_gui.qtimage import to_array


def run_queue(qtbot, window, timeout=60000):
    with qtbot.waitSignal(window.batch.controller.running_changed, timeout=timeout,
                          check_params_cb=lambda running: not running):
        assert window.batch.start()
        assert not window.start_action.isEnabled()  # no single run while the queue runs
        assert not window.start()
    assert window.start_action.isEnabled()


def test_added_photos_render_and_show_their_state(batch_window, qtbot, photo_path, tmp_path,
                                                  messages):
    w = batch_window  # the current photo is the bundled Tübingen
    second = tmp_path / "second.png"
    shutil.copy(photo_path, second)
    assert w.batch.add_photos([str(photo_path), str(second)]) == 2
    assert w.batch.add_current() == 1
    assert w.batch.states() == ["queued"] * 3
    assert w.batch.list.count() == 3 and "queued" in w.batch.list.item(0).text()
    history_before = w.history_list.count()
    run_queue(qtbot, w)
    assert w.batch.states() == ["done"] * 3
    outputs = sorted(p.name for p in (tmp_path / "batch-out").iterdir())
    assert outputs == ["photo__painting.png", "second__painting.png", "tubingen__painting.png"]
    assert all(read_settings_json(tmp_path / "batch-out" / n) for n in outputs)
    assert "done" in w.batch.list.item(0).text()
    assert not w.batch.list.item(0).icon().isNull()  # the thumbnail
    assert "3 done" in w.batch.status.text()
    assert w.history_list.count() == history_before + 3  # each is in the history too
    w.batch.list.itemClicked.emit(w.batch.list.item(1))  # a click shows that picture
    assert w.current_path == w.batch.queue.items[1].output
    assert np.array_equal(to_array(w.canvas.image()), load_image(w.current_path).rgb)
    assert len(messages) == 1 and "batch queue is running" in messages[0][1]  # Start refused


def test_a_failed_item_says_why_and_the_rest_go_on(batch_window, qtbot, photo_path, tmp_path):
    w = batch_window
    doomed = tmp_path / "doomed.png"
    shutil.copy(photo_path, doomed)
    w.batch.add_photos([str(doomed), str(photo_path)])
    doomed.unlink()  # gone before the queue runs
    run_queue(qtbot, w)
    assert w.batch.states() == ["failed", "done"]
    text = w.batch.list.item(0).text()
    assert "failed" in text and "file not found" in text


def test_stop_keeps_the_running_items_best_and_the_queue_survives_a_restart(
        batch_window, make_window, qtbot, photo_path, tmp_path):
    w = batch_window
    w.params.iterations.setValue(400)
    w.params.early_stop.setValue(0.0)
    w.batch.add_photos([str(photo_path)])
    w.batch.add_current()
    from nst_app.executors import ItemEvent

    def stop_early(ev):
        if isinstance(ev, ItemEvent) and getattr(ev.event, "iteration", 0) == 2:
            w.batch.stop()

    w.batch.controller.event.connect(stop_early)
    run_queue(qtbot, w)
    assert w.batch.states() == ["stopped", "queued"]
    assert (tmp_path / "batch-out" / "photo__painting.partial.png").is_file()
    ids = [it.id for it in w.batch.queue.items]
    w.close()
    w2 = make_window()  # same data folder
    assert [it.id for it in w2.batch.queue.items] == ids
    assert w2.batch.states() == ["stopped", "queued"]
    assert w2.batch.list.count() == 2
