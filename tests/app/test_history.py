"""The history: written for every kind of ending, listed from sidecars, robust to damage."""
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from nst_app.history import HistoryStore
from nst_app.runs import Finished, run_and_record
from nst_core import NONE, Progress, StillJob
from nst_core.kinds.still import StillResult
from tests.conftest import clip_frame, make_photo, nan_after, read_rgb, write_clip


def _result(settings, iterations=3, status="done"):
    return StillResult(make_photo(), settings, status, "why", [{"total": 1.0}] * iterations,
                       {"total": 1.5}, iterations)


def test_add_writes_png_and_sidecar_with_the_settings(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    entry = store.add(_result(tiny_settings), source="cli")
    sidecar = json.loads((tmp_path / "h" / (entry.image_path.rsplit("/", 1)[1][:-4] + ".json"))
                         .read_text())
    assert sidecar["settings"] == tiny_settings.to_dict() and sidecar["status"] == "done"
    assert sidecar["source"] == "cli" and sidecar["iterations"] == 3
    assert np.array_equal(read_rgb(entry.image_path), make_photo())
    listed, = store.entries()
    assert listed.settings == tiny_settings and listed.seconds == 1.5


def test_listing_decodes_no_image(tmp_path, tiny_settings, monkeypatch):
    store = HistoryStore(tmp_path / "h")
    for _ in range(3):
        store.add(_result(tiny_settings))
    from nst_core.media import images
    def no_decoding(*a, **k):
        raise AssertionError("a PNG was read")

    monkeypatch.setattr(images, "read_settings_json", no_decoding)
    monkeypatch.setattr(images.Image, "open", no_decoding)
    entries = store.entries()
    assert len(entries) == 3 and all(e.settings == tiny_settings for e in entries)


def test_a_stop_before_the_first_iteration_adds_nothing(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    assert store.add(_result(tiny_settings, iterations=0, status="stopped")) is None
    assert store.entries() == []


def test_two_results_in_the_same_second_get_two_entries(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    a, b = store.add(_result(tiny_settings)), store.add(_result(tiny_settings))
    assert a.image_path != b.image_path and len(store.entries()) == 2


@pytest.mark.parametrize("field, value", [("created", None), ("created", "yesterday"),
                                          ("created", 4e12), ("iterations", "many"),
                                          ("status", "exploded"), ("image", 5),
                                          ("image", "../../etc/passwd"), ("settings", [1]),
                                          ("kind", "film"), ("kind", "video"),
                                          ("video_settings", [1])])
def test_one_damaged_sidecar_is_skipped_and_the_rest_listed(tmp_path, tiny_settings, field,
                                                            value, caplog):
    store = HistoryStore(tmp_path / "h")
    good = store.add(_result(tiny_settings))
    bad = store.add(_result(tiny_settings))
    meta = Path(bad.image_path[:-4] + ".json")
    data = json.loads(meta.read_text())
    data[field] = value
    meta.write_text(json.dumps(data))
    paths = [e.image_path for e in store.entries()]
    assert good.image_path in paths
    assert "skipping unreadable history entry" in caplog.text


def test_a_picture_whose_sidecar_was_never_written_is_listed(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    entry = store.add(_result(tiny_settings))
    os.unlink(entry.image_path[:-4] + ".json")  # a crash between the two writes
    listed, = store.entries()
    assert listed.image_path == entry.image_path and listed.status == "unknown"
    assert listed.settings == tiny_settings  # read from the PNG itself


def test_the_first_rounds_sidecars_still_read(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    entry = store.add(_result(tiny_settings))
    meta = Path(entry.image_path[:-4] + ".json")
    meta.write_text(json.dumps({"image_path": entry.image_path, "created": time.time(),
                                      "iterations": 4, "seconds": 2.0, "stopped": True,
                                      "note": ""}))
    listed, = store.entries()
    assert listed.status == "stopped" and listed.iterations == 4
    assert listed.settings == tiny_settings


def test_run_and_record_keeps_done_stopped_and_failed(tmp_path, tiny_settings, monkeypatch):
    store = HistoryStore(tmp_path / "h")
    events = list(run_and_record(StillJob(tiny_settings.replace(iterations=3)), store, "test",
                                 NONE))
    assert [e.iteration for e in events if isinstance(e, Progress)] == [1, 2, 3]
    done = events[-1]
    assert isinstance(done, Finished) and done.status == "done" and done.entry is not None
    nan_after(monkeypatch, 2)
    failed = list(run_and_record(StillJob(tiny_settings.replace(iterations=6)), store, "test",
                                 NONE))[-1]
    assert failed.status == "failed" and "loss became nan" in failed.message
    assert failed.entry is not None and failed.entry.status == "failed"
    assert [e.status for e in store.entries()] == ["done", "failed"]


def test_a_history_that_cannot_be_written_says_so_and_keeps_the_picture(tmp_path,
                                                                         tiny_settings):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    store = HistoryStore(blocked / "h")
    finished = list(run_and_record(StillJob(tiny_settings.replace(iterations=2)), store, "t",
                                   NONE))[-1]
    assert finished.entry is None and finished.result is not None
    assert "could not be written to the history" in finished.history_error
    assert "Save As" in finished.history_error


def _video(tmp_path, tiny_settings, output, last=None, status="done", frames=6):
    from nst_core.kinds.video import VideoResult
    from nst_core.settings.video import VideoSettings

    clip = write_clip(tmp_path / "clip.mp4", frames=frames)
    settings = VideoSettings(content=str(clip), output=str(output),
                             picture=tiny_settings.replace(content="", size=64))
    result = VideoResult(str(output) if status == "done" else "", frames, frames, status,
                         f"repainted {frames} frames", "", 0.5, [4] * frames, last)
    return settings, result


def test_a_finished_video_is_listed_with_its_poster_and_settings(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    out = write_clip(tmp_path / "out.mp4", frames=6)
    poster = make_photo(64, 48)
    settings, result = _video(tmp_path, tiny_settings, out, last=poster)
    entry = store.add_video(result, settings, "window")
    listed, = store.entries()
    assert listed.kind == "video" and listed.video == str(out) and listed.frames == 6
    assert listed.video_settings == settings and listed.settings == settings.picture
    assert listed.iterations == 24 and listed.seconds == 3.0 and listed.source == "window"
    assert listed.image_path == entry.image_path
    assert np.array_equal(read_rgb(listed.image_path), poster)
    label = listed.label()
    assert "video" in label and "clip × " in label and "6 frames · 0.5 s a frame" in label
    out.unlink()
    assert "(no longer there)" in store.entries()[0].label()


def test_a_videos_poster_is_read_from_what_was_written(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    out = write_clip(tmp_path / "out.mp4", frames=6)  # 0.6 s: the middle frame is frame 3
    settings, result = _video(tmp_path, tiny_settings, out)
    entry = store.add_video(result, settings)
    poster = read_rgb(entry.image_path).astype(int)
    distance = [np.abs(poster - clip_frame(i, 64, 48)).mean() for i in range(6)]
    assert int(np.argmin(distance)) == 3, distance
    folder = tmp_path / "frames"
    folder.mkdir()
    from nst_core.media.images import save_image

    for i in range(3):
        save_image(folder / f"frame_{i + 1:06d}.png", clip_frame(i, 64, 48))
    settings, result = _video(tmp_path, tiny_settings, folder, frames=3)
    entry = store.add_video(result, settings)
    assert np.array_equal(read_rgb(entry.image_path), clip_frame(1, 64, 48))


def test_a_video_not_written_is_not_listed(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    settings, result = _video(tmp_path, tiny_settings, tmp_path / "out.mp4",
                              last=make_photo(64, 48), status="stopped")
    assert store.add_video(result, settings) is None and store.entries() == []


def test_a_video_whose_poster_cannot_be_read_says_the_video_is_written(tmp_path,
                                                                        tiny_settings):
    from nst_app.runs import record
    from nst_core.kinds.video import VideoJob

    out = tmp_path / "out.mp4"
    out.write_bytes(b"not a video")
    settings, result = _video(tmp_path, tiny_settings, out)
    entry, problem = record(HistoryStore(tmp_path / "h"), result, "cli", VideoJob(settings))
    assert entry is None
    assert problem.startswith(f"The video is written to {out}, but it could not be listed")


def test_remove_deletes_the_picture_and_its_sidecar_and_nothing_else(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    keep, gone = store.add(_result(tiny_settings)), store.add(_result(tiny_settings))
    store.remove(gone)
    assert [e.image_path for e in store.entries()] == [keep.image_path]
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == sorted(
        [Path(keep.image_path).name, Path(keep.image_path).with_suffix(".json").name])
    store.remove(gone)  # already gone: nothing to do
    out = write_clip(tmp_path / "out.mp4", frames=6)
    settings, result = _video(tmp_path, tiny_settings, out, last=make_photo(64, 48))
    store.remove(store.add_video(result, settings))
    assert len(store.entries()) == 1 and out.is_file()  # the video itself stays


def test_remove_refuses_a_picture_outside_the_history(tmp_path, tiny_settings):
    store = HistoryStore(tmp_path / "h")
    entry = store.add(_result(tiny_settings))
    outside = tmp_path / "run-mine.png"
    outside.write_bytes(b"x")
    from dataclasses import replace

    with pytest.raises(ValueError, match="not in the history"):
        store.remove(replace(entry, image_path=str(outside)))
    assert outside.exists() and len(store.entries()) == 1
