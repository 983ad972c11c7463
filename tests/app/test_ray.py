"""Batches on a real local Ray instance (2 CPUs): live events, a killed worker, stop."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the cluster extra is installed by the test command")

from nst_app import cli  # noqa: E402
from nst_app.batch import BatchQueue, ItemDone, QueueDone, plan_items, run_queue  # noqa: E402
from nst_app.executors import ItemEvent, ItemRequeued, ItemStarted  # noqa: E402
from nst_app.history import HistoryStore  # noqa: E402
from nst_app.ray_executor import INPUTS_PREFIX, RayExecutor, sweep_inputs_folders  # noqa: E402
from nst_core import Progress, SPARSE  # noqa: E402
from nst_core.media.images import read_settings_json  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20,
             configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def _queue(tmp_path, settings, photos, paintings, **changes):
    q = BatchQueue(tmp_path / "queue.json")
    q.add(plan_items(photos, paintings, tmp_path / "out", settings.replace(**changes)))
    (tmp_path / "out").mkdir(exist_ok=True)
    return q


def _inputs_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(INPUTS_PREFIX + "*"))


def test_items_render_on_two_workers_with_live_events(tmp_path, tiny_settings, painting2_path):
    before = _inputs_folders()
    q = _queue(tmp_path, tiny_settings, [tiny_settings.content],
               [*tiny_settings.styles, str(painting2_path), str(painting2_path)], iterations=4)
    history = HistoryStore(tmp_path / "history")
    events = list(run_queue(q, RayExecutor(None, workers=2), history, threading.Event(),
                            previews=SPARSE))
    started = [e for e in events if isinstance(e, ItemStarted)]
    assert len(started) == 3 and all(e.pid != os.getpid() for e in started)
    assert len({e.pid for e in started}) == 2  # two worker processes
    progress = [e for e in events if isinstance(e, ItemEvent) and isinstance(e.event, Progress)]
    assert len(progress) == 12  # every iteration of every item came back
    done = [e for e in events if isinstance(e, ItemDone)]
    assert [d.state for d in done] == ["done"] * 3
    for it in q.items:
        assert it.state == "done"
        assert read_settings_json(it.output) is not None  # saved by the driver
    assert len(history.entries()) == 3
    assert isinstance(events[-1], QueueDone) and events[-1].done == 3
    assert _inputs_folders() <= before  # the workers removed the files they were sent


def test_a_killed_worker_has_its_item_requeued_and_nothing_is_lost(tmp_path, tiny_settings):
    q = _queue(tmp_path, tiny_settings, [tiny_settings.content], list(tiny_settings.styles),
               iterations=40, early_stop=0.0)
    killed = []
    events = []
    for event in run_queue(q, RayExecutor(None, workers=1), None, threading.Event(),
                           previews=SPARSE):
        events.append(event)
        if isinstance(event, ItemStarted) and not killed:
            pid = event.pid
        if isinstance(event, ItemEvent) and isinstance(event.event, Progress) and not killed \
                and event.event.iteration == 2:
            os.kill(pid, signal.SIGKILL)  # the worker dies mid-item
            killed.append(pid)
    assert killed
    requeued = [e for e in events if isinstance(e, ItemRequeued)]
    assert len(requeued) == 1 and "died" in requeued[0].reason
    starts = [e for e in events if isinstance(e, ItemStarted)]
    assert len(starts) == 2 and starts[1].pid != killed[0]  # a new worker took it
    assert [e.state for e in events if isinstance(e, ItemDone)] == ["done"]
    assert q.items[0].state == "done" and read_settings_json(q.items[0].output) is not None
    # the killed worker ran no clean-up; the worker that replaced it removed its folder
    assert not list(Path(tempfile.gettempdir()).glob(f"{INPUTS_PREFIX}{killed[0]}-*"))


def test_the_input_folders_of_dead_workers_are_swept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: no process has this id now
    dead = tmp_path / f"{INPUTS_PREFIX}{gone.pid}-abc"
    alive = tmp_path / f"{INPUTS_PREFIX}{os.getpid()}-def"
    untagged = tmp_path / f"{INPUTS_PREFIX}x7k2_q9a"  # not a worker's name: left alone
    for folder in (dead, alive, untagged):
        folder.mkdir()
        (folder / "photo.jpg").write_bytes(b"x" * 100)
    assert sweep_inputs_folders(tmp_path) == 1
    assert not dead.exists() and alive.exists() and untagged.exists()


def test_stop_stops_the_running_item_and_starts_no_other(tmp_path, tiny_settings,
                                                         painting2_path):
    q = _queue(tmp_path, tiny_settings, [tiny_settings.content],
               [*tiny_settings.styles, str(painting2_path)], iterations=200, early_stop=0.0)
    stop = threading.Event()
    events = []
    for event in run_queue(q, RayExecutor(None, workers=1), None, stop, previews=SPARSE):
        events.append(event)
        if isinstance(event, ItemEvent) and isinstance(event.event, Progress) \
                and event.event.iteration == 3:
            stop.set()
    done = [e for e in events if isinstance(e, ItemDone)]
    assert [d.state for d in done] == ["stopped"] and done[0].output.endswith(".partial.png")
    progress = [e.event.iteration for e in events
                if isinstance(e, ItemEvent) and isinstance(e.event, Progress)]
    assert max(progress) < 200  # it stopped long before the end
    assert [it.state for it in q.items] == ["stopped", "queued"]
    assert events[-1].remaining == 1


def test_the_command_line_sends_a_batch_to_ray(tmp_path, tiny_settings, painting2_path, capsys):
    out = tmp_path / "out"
    code = cli.batch_main(["--content", tiny_settings.content, "--style",
                           *tiny_settings.styles, str(painting2_path), "-o", str(out),
                           "--size", "48", "--iters", "2", "--no-multiscale", "--ray", "local",
                           "-q"])
    assert code == 0, capsys.readouterr().err
    assert "2 pictures on Ray cluster (local)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["photo__painting.png",
                                                     "photo__painting2.png"]


# ---- a video's frames in chunks on Ray workers -----------------------------------------------
def test_chunks_overlap_by_the_lead_in():
    from nst_app.video_cluster import Chunk, plan_chunks

    assert plan_chunks(20, 3, 4) == [Chunk(0, 0, 7), Chunk(3, 7, 13), Chunk(9, 13, 20)]
    assert plan_chunks(5, 8, 4) == [Chunk(0, 0, 5)]  # too short to share
    chunks = plan_chunks(100, 7, 4)
    assert [c.start for c in chunks[1:]] == [c.end for c in chunks[:-1]]  # every frame once
    assert chunks[-1].end == 100 and all(c.lead == 4 for c in chunks[1:])


def _video(tmp_path, tiny_model, output, **changes):
    from nst_core.kinds.video import VideoJob
    from nst_core.settings.video import VIDEO_PICTURE, VideoSettings
    from tests.conftest import write_clip

    clip = tmp_path / "clip.mp4"
    if not clip.exists():
        write_clip(clip, frames=12, tone=440)
    return VideoJob(VideoSettings(content=str(clip), output=str(tmp_path / output),
                                  method="instant", model=tiny_model,
                                  picture=VIDEO_PICTURE.replace(size=64), **changes))


def test_a_video_renders_in_chunks_on_ray_workers(tmp_path, tiny_model):
    from nst_app.runs import Finished
    from nst_app.video_cluster import render_chunks
    from nst_core.media.video import probe
    from tests.conftest import read_rgb

    # stability 0: every frame on its own, so the chunks must give exactly the local frames
    local = _video(tmp_path, tiny_model, "local", stability=0.0)
    local.prepare().run()
    job = _video(tmp_path, tiny_model, "ray", stability=0.0)
    events = list(render_chunks(job, RayExecutor(None, workers=2), threading.Event(),
                                chunks=3, lead=2))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.status == "done"
    assert "in 3 chunks" in finished.result.reason
    frames = sorted((tmp_path / "ray").glob("frame_*.png"))
    assert len(frames) == 12
    for a, b in zip(frames, sorted((tmp_path / "local").glob("frame_*.png"))):
        assert (read_rgb(a) == read_rgb(b)).all()
    done = [e.iteration for e in events if isinstance(e, Progress)]
    assert sorted(done) == done and done[-1] == 12

    # steadied: an MP4 with the sound, every frame once; listed in the history with its
    # middle frame as the poster (the workers keep the frames)
    from nst_app.history import HistoryStore
    from nst_app.runs import recorded
    from nst_core.media.video import frame_at

    steady = _video(tmp_path, tiny_model, "ray.mp4")
    store = HistoryStore(tmp_path / "history")
    last = list(recorded(render_chunks(steady, RayExecutor(None, workers=2), threading.Event(),
                                       chunks=3, lead=2), steady, store, "window"))[-1]
    assert last.status == "done"
    info = probe(tmp_path / "ray.mp4")
    assert info.frames == 12 and info.audio == "aac"
    assert last.entry is not None and last.entry.kind == "video" and last.entry.frames == 12
    assert store.entries()[0].video == str(tmp_path / "ray.mp4")
    middle = frame_at(tmp_path / "ray.mp4", info.duration / 2).rgb
    assert (read_rgb(last.entry.image_path) == middle).all()


def test_a_stopped_chunked_render_continues_with_the_missing_chunks(tmp_path, tiny_model):
    from nst_app.runs import Finished
    from nst_app.video_cluster import render_chunks
    from nst_core import Note
    from nst_core.media.video import probe
    from nst_core.media.frame_cache import cache_dir

    job = _video(tmp_path, tiny_model, "out.mp4")
    stop = threading.Event()
    events = []
    for event in render_chunks(job, RayExecutor(None, workers=1), stop, chunks=3, lead=2):
        events.append(event)
        if isinstance(event, Progress):
            stop.set()  # after the first chunk
    assert events[-1].status == "stopped" and not (tmp_path / "out.mp4").exists()
    assert "run the same render again" in events[-1].result.reason
    assert len(list(cache_dir(tmp_path / "out.mp4").glob("0*.png"))) == 4
    again = list(render_chunks(job, RayExecutor(None, workers=1), threading.Event(), chunks=3,
                               lead=2))
    assert any(isinstance(e, Note) and "1 of 3 chunks are kept" in e.text for e in again)
    assert isinstance(again[-1], Finished) and again[-1].status == "done"
    assert probe(tmp_path / "out.mp4").frames == 12
