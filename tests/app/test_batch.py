"""Batches on this machine: planning, naming, resuming, failures, stopping, the queue file."""
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from nst_app import cli
from nst_app.batch import (BatchItem, BatchQueue, ItemDone, QueueDone, output_name,
                           partial_path, plan_items, run_queue)
from nst_app.executors import ItemEvent, ItemStarted, LocalExecutor
from nst_app.history import HistoryStore
from nst_core import NONE, Progress, StillJob, TransferSettings
from nst_core.kinds import still as still_mod
from nst_core.media.images import read_settings_json
from tests.conftest import make_painting, make_photo


@pytest.fixture
def folders(tmp_path):
    photos, paintings = tmp_path / "photos", tmp_path / "paintings"
    photos.mkdir()
    paintings.mkdir()
    Image.fromarray(make_photo()).save(photos / "alpha.png")
    Image.fromarray(make_photo(seed=3)[::-1].copy()).save(photos / "beta.jpg")
    (photos / "notes.txt").write_text("not an image: ignored in a folder")
    Image.fromarray(make_painting()).save(paintings / "waves.png")
    Image.fromarray(make_painting(seed=5)).save(paintings / "stars.png")
    return photos, paintings


BASE = ["--size", "48", "--iters", "3", "--no-multiscale", "--device", "cpu", "-q"]


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_every_photo_with_every_painting_then_resume_skips(tmp_path, folders, app_data,
                                                           capsys):
    photos, paintings = folders
    out = tmp_path / "out"
    code = cli.batch_main(["--content", str(photos), "--style", str(paintings / "waves.png"),
                           str(paintings / "stars.png"), "-o", str(out), *BASE])
    assert code == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["alpha__stars.png", "alpha__waves.png", "beta__stars.png",
                     "beta__waves.png"]
    s = TransferSettings.from_json(read_settings_json(out / "beta__waves.png"))
    assert s.content == str(photos / "beta.jpg") and s.styles == (str(paintings / "waves.png"),)
    assert s.size == 48 and s.iterations == 3
    assert "4 done, 0 skipped" in capsys.readouterr().out
    assert len(HistoryStore(app_data / "history").entries()) == 4
    assert all(e.source == "batch" for e in HistoryStore(app_data / "history").entries())
    before = _mtimes(out)
    assert cli.batch_main(["--content", str(photos), "--style", str(paintings), "-o", str(out),
                           *BASE, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [i["state"] for i in summary["items"]] == ["skipped"] * 4
    assert _mtimes(out) == before  # nothing rewritten


def test_an_unusable_photo_fails_its_items_and_the_rest_go_on(tmp_path, folders, capsys):
    photos, paintings = folders
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    code = cli.batch_main(["--content", str(photos), "--style", str(paintings / "waves.png"),
                           "-o", str(out), *BASE])
    assert code == 1
    captured = capsys.readouterr()
    assert "2 done, 0 skipped (already complete), 1 failed" in captured.out
    assert "failed: broken × waves:" in captured.err and "not an image file" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["alpha__waves.png", "beta__waves.png"]


def test_a_different_picture_in_the_way_is_not_overwritten(tmp_path, folders, capsys):
    photos, paintings = folders
    out = tmp_path / "out"
    out.mkdir()
    (out / "alpha__waves.png").write_bytes(b"someone else's file")
    args = ["--content", str(photos / "alpha.png"), "--style", str(paintings / "waves.png"),
            "-o", str(out), *BASE]
    assert cli.batch_main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "alpha__waves.png").read_bytes() == b"someone else's file"
    assert cli.batch_main(args + ["--overwrite"]) == 0
    assert read_settings_json(out / "alpha__waves.png") is not None


def test_jobs_file_is_a_list_of_settings(tmp_path, folders, capsys):
    photos, paintings = folders
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([
        {"content": str(photos / "alpha.png"), "styles": [str(paintings / "waves.png")],
         "seed": 4, "output": "first.png"},
        {"content": str(photos / "beta.jpg"), "styles": [str(paintings / "waves.png"),
                                                         str(paintings / "stars.png")],
         "style_blend": [0.8, 0.2]},
    ]))
    out = tmp_path / "out"
    assert cli.batch_main(["--jobs", str(jobs), "-o", str(out), *BASE]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["beta__waves+stars.png", "first.png"]
    first = TransferSettings.from_json(read_settings_json(out / "first.png"))
    assert first.seed == 4 and first.size == 48  # the options fill in what the file leaves out
    blended = TransferSettings.from_json(read_settings_json(out / "beta__waves+stars.png"))
    assert blended.style_blend == (0.8, 0.2)


@pytest.mark.parametrize("content, words", [
    ("[]", "non-empty list"), ("{not json", "not a JSON file"),
    ('[{"size": 5}]', "entry 1 of jobs.json: size: must be between"),
    ('[{"kind": "paint"}]', "unknown kind of job"), ('[3]', "entry 1 of jobs.json is not"),
])
def test_a_bad_jobs_file_exits_2_with_one_line(tmp_path, content, words, capsys):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(content)
    assert cli.batch_main(["--jobs", str(jobs), "-o", str(tmp_path / "out"), *BASE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1


def test_no_photos_exits_2(tmp_path, folders, capsys):
    _, paintings = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.batch_main(["--content", str(empty), "--style", str(paintings), "-o",
                           str(tmp_path / "out"), *BASE]) == 2
    assert "give photos" in capsys.readouterr().err


def test_ctrl_c_saves_the_current_items_best_and_the_next_run_finishes(
        tmp_path, folders, monkeypatch, capsys):
    photos, paintings = folders
    real_events = still_mod.StillRun.events
    calls = {"n": 0}

    def events_then_sigint(self):
        calls["n"] += 1
        for ev in real_events(self):
            yield ev
            if calls["n"] == 2 and isinstance(ev, Progress) and ev.iteration == 2:
                os.kill(os.getpid(), signal.SIGINT)  # during the second picture

    monkeypatch.setattr(still_mod.StillRun, "events", events_then_sigint)
    out = tmp_path / "out"
    args = ["--content", str(photos), "--style", str(paintings / "waves.png"),
            str(paintings / "stars.png"), "-o", str(out), "--size", "48", "--iters", "30",
            "--no-multiscale", "--early-stop", "0", "-q"]
    assert cli.batch_main(args) == 130
    text = capsys.readouterr().out
    assert "1 done" in text and "1 stopped" in text and "2 not started" in text
    assert sorted(p.name for p in out.iterdir()) == ["alpha__stars.partial.png",
                                                     "alpha__waves.png"]
    monkeypatch.setattr(still_mod.StillRun, "events", real_events)
    assert cli.batch_main(args) == 0
    assert "3 done, 1 skipped" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["alpha__stars.png", "alpha__waves.png",
                                                     "beta__stars.png", "beta__waves.png"]


def test_the_queue_file_round_trips_and_survives_damage(tmp_path, tiny_settings, caplog):
    path = tmp_path / "queue.json"
    q = BatchQueue(path)
    items = plan_items([tiny_settings.content], tiny_settings.styles * 1, tmp_path / "out",
                       tiny_settings)
    items[0].state = "running"  # the app ended while it ran
    q.add(items + [BatchItem(StillJob(tiny_settings.replace(seed=2)), str(tmp_path / "x.png"),
                             state="failed", error="it broke")])
    back = BatchQueue.load(path)
    assert [(it.id, it.job, it.output, it.error) for it in back.items] == \
        [(it.id, it.job, it.output, it.error) for it in q.items]
    assert [it.state for it in back.items] == ["queued", "failed"]
    data = json.loads(path.read_text())
    data["items"].insert(0, {"id": 5})
    path.write_text(json.dumps(data))
    assert len(BatchQueue.load(path).items) == 2
    assert "skipping item 1 of the batch queue" in caplog.text
    path.write_text("{ damaged")
    assert BatchQueue.load(path).items == []


def test_run_queue_events_and_states(tmp_path, tiny_settings, monkeypatch):
    q = BatchQueue(tmp_path / "queue.json")
    q.add(plan_items([tiny_settings.content, str(tmp_path / "gone.png")],
                     tiny_settings.styles, tmp_path, tiny_settings.replace(iterations=2)))
    events = list(run_queue(q, LocalExecutor(), None, __import__("threading").Event(),
                            previews=NONE))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ItemStarted" and kinds[-1] == "QueueDone"
    progress = [e for e in events if isinstance(e, ItemEvent) and isinstance(e.event, Progress)]
    assert [e.event.iteration for e in progress] == [1, 2]
    done = [e for e in events if isinstance(e, ItemDone)]
    assert [d.state for d in done] == ["done", "failed"] and "not found" in done[1].error
    assert [it.state for it in BatchQueue.load(tmp_path / "queue.json").items] == \
        ["done", "failed"]
    summary = events[-1]
    assert isinstance(summary, QueueDone) and (summary.done, summary.failed) == (1, 1)
    assert partial_path(tmp_path / "a.png").name == "a.partial.png"
    assert output_name(tiny_settings) == "photo__painting.png"
    started = [e for e in events if isinstance(e, ItemStarted)]
    assert started[0].pid == os.getpid() and started[0].worker == "local"


@pytest.mark.parametrize("address, words", [("127.0.0.1:1", "nothing answers at 127.0.0.1:1"),
                                            ("no-port-here", "is not a Ray address")])
def test_a_ray_address_where_nothing_answers_exits_2_at_once(tmp_path, folders, capsys,
                                                            address, words):
    pytest.importorskip("ray")
    photos, paintings = folders
    assert cli.batch_main(["--content", str(photos), "--style", str(paintings), "-o",
                           str(tmp_path / "out"), "--ray", address, *BASE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1


def test_an_executor_that_fails_leaves_no_item_running(tmp_path, tiny_settings):
    import threading

    from nst_core import NSTError

    class Unreachable:
        name = "a cluster out of reach"

        def run(self, items, stop, previews=None):
            yield ItemStarted(items[0][0], "somewhere")
            raise NSTError("the cluster went away")

    q = BatchQueue(tmp_path / "queue.json")
    q.add(plan_items([tiny_settings.content], tiny_settings.styles, tmp_path, tiny_settings))
    with pytest.raises(NSTError, match="went away"):
        list(run_queue(q, Unreachable(), None, threading.Event()))
    assert [it.state for it in BatchQueue.load(tmp_path / "queue.json").items] == ["queued"]


def test_a_queue_keeps_each_kind_as_its_keeper_says(tmp_path, tiny_model, app_data, photo_path,
                                                     painting_path):
    """An instant-style item writes its picture (no settings embedded: it has none to paint
    again) and is listed with its photo; a still item writes its picture with its settings
    and is listed."""
    import threading

    from nst_core.kinds.apply import ApplyJob

    photo = photo_path
    still = StillJob(TransferSettings(content=str(photo), styles=(str(painting_path),),
                                      size=48, iterations=2, multiscale=False, device="cpu"))
    q = BatchQueue()
    q.add([BatchItem(ApplyJob(tiny_model, str(photo)), str(tmp_path / "instant.png")),
           BatchItem(still, str(tmp_path / "still.png"))])
    history = HistoryStore(tmp_path / "history")
    done = [e for e in run_queue(q, LocalExecutor(), history, threading.Event(), previews=NONE)
            if isinstance(e, ItemDone)]
    assert [(d.state, d.error) for d in done] == [("done", ""), ("done", "")]
    with Image.open(tmp_path / "instant.png") as im:
        assert im.size == (48, 40)
    assert read_settings_json(tmp_path / "instant.png") is None
    assert TransferSettings.from_json(read_settings_json(tmp_path / "still.png")) == still.settings
    instant, painted = history.entries()
    assert instant.reason.startswith("instant style: ") and instant.settings.content == str(photo)
    assert painted.settings == still.settings


def test_a_batch_writing_into_its_photo_folder_does_not_feed_on_itself(tmp_path, folders,
                                                                        capsys):
    """Run three times into the photo folder: the second and third runs find the pictures
    complete and skip them; none of the batch's own pictures is taken as a photo."""
    photos, paintings = folders
    args = ["--content", str(photos), "--style", str(paintings / "waves.png"), "-o",
            str(photos), *BASE, "--no-history"]
    for _ in range(3):
        assert cli.batch_main(args) == 0
    assert sorted(p.name for p in photos.glob("*.png")) == ["alpha.png", "alpha__waves.png",
                                                           "beta__waves.png"]
    assert sorted(p.name for p in photos.glob("*.jpg")) == ["beta.jpg"]
    assert "0 done, 2 skipped" in capsys.readouterr().out.splitlines()[-1]


def test_two_jobs_naming_one_output_are_refused_before_any_work(tmp_path, folders, capsys):
    photos, paintings = folders
    jobs = tmp_path / "jobs.json"
    entry = {"content": str(photos / "alpha.png"), "styles": [str(paintings / "waves.png")],
             "output": "same.png"}
    jobs.write_text(json.dumps([entry, {**entry, "seed": 3}]))
    for extra in ([], ["--overwrite"]):
        assert cli.batch_main(["--jobs", str(jobs), "-o", str(tmp_path / "out"), *BASE,
                               *extra]) == 2
        assert "entries 1 and 2 of jobs.json both write same.png" in capsys.readouterr().err
        assert not (tmp_path / "out" / "same.png").exists()


def test_batch_items_tile_like_a_render(tmp_path, folders, app_data):
    """A batch item asked for tiles is painted in them: the picture a render in tiles makes,
    which is the untiled one (the tiles' own tests), listed in the history like any other."""
    photos, paintings = folders
    out = tmp_path / "out"
    args = ["--content", str(photos / "alpha.png"), "--style", str(paintings / "waves.png"),
            "-o", str(out), "--size", "80", "--iters", "2", "--no-multiscale", "--device",
            "cpu", "-q"]
    assert cli.batch_main(args + ["--tile", "32"]) == 0
    tiled = next(out.glob("*.png"))
    settings = TransferSettings.from_json(read_settings_json(tiled))
    assert settings.tile == 32
    whole = tmp_path / "whole.png"
    assert cli.main(["--content", str(photos / "alpha.png"), "--style",
                     str(paintings / "waves.png"), "--size", "80", "--iters", "2",
                     "--no-multiscale", "-o", str(whole), "-q", "--no-history"]) == 0
    a = np.asarray(Image.open(tiled).convert("RGB")).astype(int)
    b = np.asarray(Image.open(whole).convert("RGB")).astype(int)
    assert a.shape == b.shape and np.abs(a - b).mean() < 1.0
    assert [e.settings.tile for e in HistoryStore(app_data / "history").entries()] == [32]


def test_a_damaged_output_of_the_same_item_is_painted_again(tmp_path, folders, capsys,
                                                             caplog):
    """A finished picture cut short afterwards (its settings, which come first, still read) is
    not taken as done: the rerun says so and paints it again, and it decodes whole."""
    from nst_core.media.images import load_image

    photos, paintings = folders
    out = tmp_path / "out"
    args = ["--content", str(photos / "alpha.png"), "--style", str(paintings / "waves.png"),
            "-o", str(out), *BASE, "--no-history"]
    assert cli.batch_main(args) == 0
    picture = next(out.glob("*.png"))
    data = picture.read_bytes()
    picture.write_bytes(data[: len(data) * 2 // 3])
    assert read_settings_json(picture) is not None  # still looks like this item's
    capsys.readouterr()
    assert cli.batch_main(args + ["--json"]) == 0
    assert "is damaged (it does not decode); painting it again" in caplog.text  # on stderr
    assert [i["state"] for i in json.loads(capsys.readouterr().out)["items"]] == ["done"]
    assert load_image(picture).rgb.shape == (40, 48, 3)
