"""The one generic worker, through its signals: any source of events, any kind of job."""
import threading

import pytest
from PySide6.QtGui import QImage

from nst_app.history import HistoryStore
from nst_app.runs import Finished, run_and_record
from nst_core import LIVE, NSTError, Preview, Progress, PreviewPolicy, StillJob
from nst_gui.worker import JobController, JobWorker
from tests.conftest import fail_with, nan_after


@pytest.fixture
def settings(tiny_settings):
    return tiny_settings.replace(iterations=5)


def still(settings, history=None, previews=PreviewPolicy(every=1)):
    return lambda stop: run_and_record(StillJob(settings), history, "test", previews, stop)


def test_worker_emits_every_event_in_order_and_previews_as_images(qtbot, settings, tmp_path):
    worker = JobWorker(still(settings, HistoryStore(tmp_path / "h")))
    events, previews = [], []
    worker.event.connect(events.append)
    worker.preview.connect(lambda img, it, item: previews.append((img, it, item)))
    with qtbot.waitSignal(worker.done):
        with qtbot.assertNotEmitted(worker.failed), qtbot.assertNotEmitted(worker.crashed):
            worker.run()
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.iteration for p in progress] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in progress)
    assert not any(isinstance(e, Preview) for e in events)  # those came as QImages
    assert [it for _, it, _ in previews] == [1, 2, 3, 4, 5] and previews[0][2] == ""
    img = previews[-1][0]
    assert isinstance(img, QImage) and (img.width(), img.height()) == (48, 40)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.status == "done"


def test_the_result_is_in_the_history_before_the_window_hears_of_it(qtbot, settings, tmp_path):
    store = HistoryStore(tmp_path / "h")
    worker = JobWorker(still(settings, store))
    seen = []
    worker.event.connect(lambda e: isinstance(e, Finished) and seen.append(
        [x.image_path for x in store.entries()]))
    with qtbot.waitSignal(worker.done):
        worker.run()
    assert len(seen) == 1 and len(seen[0]) == 1
    assert store.entries()[0].settings == settings


def test_live_previews_follow_the_engines_policy(qtbot, settings):
    """LIVE asks for one a quarter second at most: a fast 5-step run sends first and last."""
    worker = JobWorker(still(settings.replace(iterations=5), previews=LIVE))
    steps = []
    worker.preview.connect(lambda img, it, item: steps.append(it))
    with qtbot.waitSignal(worker.done):
        worker.run()
    assert steps[0] == 1 and steps[-1] == 5 and len(steps) < 5


def test_bad_input_fails_with_one_line_and_nothing_else(qtbot, settings, tmp_path):
    worker = JobWorker(still(settings.replace(content=str(tmp_path / "missing.png"))))
    with qtbot.waitSignals([worker.failed, worker.done], order="strict",
                           check_params_cbs=[lambda e: "not found" in str(e), None]):
        with qtbot.assertNotEmitted(worker.event), qtbot.assertNotEmitted(worker.crashed):
            worker.run()


def test_nan_ends_in_a_failed_finish_with_the_last_good_image(qtbot, settings, monkeypatch,
                                                              tmp_path):
    nan_after(monkeypatch, 2)
    worker = JobWorker(still(settings, HistoryStore(tmp_path / "h")))
    events = []
    worker.event.connect(events.append)
    with qtbot.waitSignal(worker.done):
        worker.run()
    f = events[-1]
    assert isinstance(f, Finished) and f.status == "failed" and "loss became nan" in f.message
    assert f.result.iterations == 2 and f.entry is not None and f.entry.status == "failed"


def test_an_unexpected_exception_crashes_with_details_not_the_app(qtbot, settings, monkeypatch):
    fail_with(monkeypatch, ZeroDivisionError("a bug"))
    worker = JobWorker(still(settings))
    with qtbot.waitSignals([worker.crashed, worker.done], order="strict", check_params_cbs=[
            lambda summary, details: summary == "ZeroDivisionError: a bug"
            and "Traceback" in details and "ZeroDivisionError" in details, None]):
        with qtbot.assertNotEmitted(worker.failed):
            worker.run()


def test_any_source_of_events_works(qtbot):
    """The worker knows no kind of job: a plain generator is drained the same way."""
    def source(stop):
        yield "one"
        yield {"two": 2}
        raise NSTError("the source refused")

    worker = JobWorker(source)
    got = []
    worker.event.connect(got.append)
    with qtbot.waitSignal(worker.failed, check_params_cb=lambda e: str(e) == "the source refused"):
        worker.run()
    assert got == ["one", {"two": 2}]


@pytest.fixture
def controller():
    c = JobController()
    yield c
    c.shutdown()  # never leave a run going into the next test


def test_stop_in_a_real_thread_keeps_an_image(qtbot, settings, controller):
    seen, finished = [], []

    def on_event(e):
        if isinstance(e, Progress):
            seen.append(e.iteration)
            if e.iteration == 2:
                controller.stop()
        elif isinstance(e, Finished):
            finished.append(e)

    controller.event.connect(on_event)
    with qtbot.waitSignal(controller.running_changed, timeout=60000,
                          check_params_cb=lambda running: not running):
        assert controller.start(still(settings.replace(iterations=200)))
        assert not controller.start(still(settings))  # one at a time
    f, = finished
    assert f.status == "stopped" and f.result.iterations <= 3  # within one iteration
    assert max(seen) <= 3 and f.result.image.shape == (40, 48, 3)
    assert not controller.running


def test_a_stop_before_the_source_starts_is_honoured(qtbot, controller):
    started = threading.Event()

    def source(stop):
        started.set()
        n = 0
        while not stop.is_set():
            n += 1
            yield n

    with qtbot.waitSignal(controller.running_changed, timeout=10000,
                          check_params_cb=lambda running: not running):
        controller.start(source)
        started.wait(5)
        controller.stop()
