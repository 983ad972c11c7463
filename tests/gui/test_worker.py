"""The worker, through its signals."""
import pytest
from PySide6.QtGui import QImage

from nst_core import TransferSettings
from nst_gui.history import HistoryStore
from nst_gui.worker import ProgressInfo, RunController, RunOutcome, TransferWorker
from tests.conftest import nan_after


@pytest.fixture
def settings(tiny_settings):
    return tiny_settings.replace(iterations=5)


def test_worker_emits_in_order_synchronously(qtbot, settings, tmp_path):
    worker = TransferWorker(settings, HistoryStore(tmp_path / "h"), preview_interval=0.0)
    progress, previews = [], []
    worker.progress.connect(progress.append)
    worker.preview.connect(lambda img, it: previews.append((img, it)))
    with qtbot.waitSignals([worker.started, worker.finished, worker.done], order="strict",
                           check_params_cbs=[lambda total, w, h: (total, w, h) == (5, 48, 40),
                                             lambda outcome: not outcome.stopped, None]):
        with qtbot.assertNotEmitted(worker.failed):
            worker.run()
    assert [p.iteration for p in progress] == [1, 2, 3, 4, 5]
    assert all(isinstance(p, ProgressInfo) and p.total == 5 for p in progress)
    assert [it for _, it in previews] == [1, 2, 3, 4, 5]
    img = previews[-1][0]
    assert isinstance(img, QImage) and (img.width(), img.height()) == (48, 40)


def test_finished_result_is_written_to_history_first(qtbot, settings, tmp_path):
    store = HistoryStore(tmp_path / "h")
    worker = TransferWorker(settings, store)
    with qtbot.waitSignal(worker.finished) as blocker:
        worker.run()
    outcome: RunOutcome = blocker.args[0]
    assert outcome.entry is not None
    assert [e.image_path for e in store.entries()] == [outcome.entry.image_path]
    assert outcome.entry.settings == settings
    assert outcome.rgb.shape == (40, 48, 3) and outcome.iterations == 5


def test_bad_input_fails_with_message_and_no_result(qtbot, settings, tmp_path):
    worker = TransferWorker(settings.replace(content=str(tmp_path / "missing.png")))
    with qtbot.waitSignals([worker.failed, worker.done], order="strict",
                           check_params_cbs=[lambda msg, out: "not found" in msg and out is None,
                                             None]):
        with qtbot.assertNotEmitted(worker.finished):
            worker.run()


@pytest.fixture
def controller():
    c = RunController()
    yield c
    c.shutdown()  # never leave a run going into the next test


def test_stop_in_a_real_thread_keeps_an_image(qtbot, settings, controller):
    seen = []

    def on_progress(p):
        seen.append(p.iteration)
        if p.iteration == 2:
            controller.stop()

    controller.progress.connect(on_progress)
    with qtbot.waitSignal(controller.finished, timeout=60000) as blocker:
        with qtbot.assertNotEmitted(controller.failed):
            assert controller.start(settings.replace(iterations=200))
            assert not controller.start(settings)  # one run at a time
    outcome = blocker.args[0]
    assert outcome.stopped and outcome.iterations <= 3  # stops within one iteration
    assert max(seen) <= 3
    assert not outcome.image.isNull()
    qtbot.waitUntil(lambda: not controller.running)


def test_nan_reaches_failed_with_the_last_good_image(qtbot, settings, monkeypatch, tmp_path):
    nan_after(monkeypatch, 2)
    worker = TransferWorker(settings, HistoryStore(tmp_path / "h"))
    with qtbot.waitSignal(worker.failed) as blocker:
        worker.run()
    message, outcome = blocker.args
    assert "loss became nan" in message
    assert outcome is not None and outcome.iterations == 2 and outcome.entry is not None


def test_unexpected_exception_becomes_failed_not_a_crash(qtbot, settings, monkeypatch):
    from nst_core import transfer as transfer_mod

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(transfer_mod, "tv_loss", boom)
    worker = TransferWorker(settings)
    with qtbot.waitSignals([worker.failed, worker.done], order="strict"):
        worker.run()


def test_settings_the_worker_receives(qtbot, settings):
    worker = TransferWorker(settings.replace(style_weight=123.0))
    assert worker.settings == settings.replace(style_weight=123.0)
    assert isinstance(worker.settings, TransferSettings)
