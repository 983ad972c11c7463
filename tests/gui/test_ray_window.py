"""The window on a real private Ray cluster: a batch, then a video, in one window session."""
from __future__ import annotations

from pathlib import Path

import pytest

from nst_app.ray_executor import stop_private_cluster
from nst_core.media.video import probe
from tests.gui.conftest import wait_idle
from tests.gui.test_batch_panel import run_queue
from tests.gui.test_instant import _with_model
from tests.gui.test_video import _open


def test_a_batch_then_a_video_run_on_one_ray_cluster_from_the_window(
        batch_window, qtbot, tmp_path, tiny_model, photo_path):
    """Both join Ray from a run's worker thread, which ends with the run; the private cluster
    runs in a process of its own (nst_app.ray_head), so it outlives the batch's thread and the
    video runs on it."""
    ray = pytest.importorskip("ray")
    w = batch_window
    w.batch.add_photos([str(photo_path)])
    w.batch.ray_check.setChecked(True)
    w.batch.ray_address.setText("local")  # a private cluster in this process
    out = tmp_path / "ray.mp4"
    try:
        run_queue(qtbot, w, timeout=120000)
        assert w.batch.states() == ["done"]
        assert "Ray cluster" in w.batch.status.text() or "1 done" in w.batch.status.text()
        assert Path(w.batch.queue.items[0].output).is_file()
        assert ray.cluster_resources().get("CPU", 0) >= 1  # the cluster outlived the batch

        model = _with_model(w, tiny_model)
        _open(w, tmp_path, frames=4)  # one chunk: the window's path to Ray, kept short
        w.video.reload_models()
        w.video.method.setCurrentIndex(w.video.method.findData("instant"))
        w.video.model.setCurrentIndex(w.video.model.findData(model))
        w.video.ray_check.setChecked(True)
        w.video.ray_address.setText("local")
        assert w.videos.render_video(str(out))
        wait_idle(qtbot, w, timeout=120000)
    finally:
        stop_private_cluster()
    assert probe(out).frames == 4
    assert "Done: 4 frames" in w.video.status.text()
