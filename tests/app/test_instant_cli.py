"""`main.py train` and `main.py apply` end to end, and the model library."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_app import models
from nst_app.instant_cli import apply_main, train_main
from nst_core.networks.model_file import load_model
from tests.conftest import image_size, make_photo, read_rgb, tiny_train_settings

TINY = ["--steps", "2", "--batch", "2", "--size", "48", "--style-size", "64", "--width", "4",
        "--blocks", "1", "--device", "cpu", "-q"]


def _photos_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(make_photo(80, 64, seed=i)[:, ::(1 if i % 2 else -1)].copy()).save(
            folder / f"p{i}.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_train_then_resume_from_the_command_line(tmp_path, capsys):
    s = tiny_train_settings(tmp_path)
    out = tmp_path / "m.nst"
    args = ["--style", s.style, "--photos", str(_photos_dir(tmp_path)), "-o", str(out), *TINY]
    assert train_main(args + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps_done"] == 2 and summary["status"] == "done"
    model = load_model(out)
    assert model.steps_done == 2 and model.meta["photos"] == 3
    steps = args.index("--steps")
    args[steps + 1] = "3"
    assert train_main(args) == 0
    assert load_model(out).steps_done == 3  # resumed from 2, not started over


def test_train_into_the_library_by_default(tmp_path, app_data):
    s = tiny_train_settings(tmp_path)
    assert train_main(["--style", s.style, "--photos", *s.photos, *TINY]) == 0
    listed = models.library()
    mine = [e for e in listed if not e.bundled]
    assert [e.path for e in mine] == [app_data / "models" / "style.nst"]
    assert mine[0].model.steps_done == 2


@pytest.mark.parametrize("bad", ["missing-style", "empty-folder", "zero-steps", "foreign-out"])
def test_train_bad_input_exits_2_with_one_line(tmp_path, capsys, bad):
    s = tiny_train_settings(tmp_path)
    args = ["--style", s.style, "--photos", *s.photos, "-o", str(tmp_path / "m.nst"), *TINY]
    if bad == "missing-style":
        args[1] = str(tmp_path / "nope.jpg")
    elif bad == "empty-folder":
        (tmp_path / "empty").mkdir()
        args[3:3 + len(s.photos)] = [str(tmp_path / "empty")]
    elif bad == "zero-steps":
        args[args.index("--steps") + 1] = "0"
    else:
        (tmp_path / "m.nst").write_bytes(b"something else entirely")
    assert train_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_apply_one_photo_and_many(tmp_path, tiny_model, photo_path, capsys):
    out = tmp_path / "out.png"
    assert apply_main(["--model", tiny_model, "--content", str(photo_path), "-o", str(out),
                       "--size", "64", "-q"]) == 0
    assert image_size(out) == (64, 53)
    photo = Image.open(photo_path).convert("RGB").resize((64, 53))
    assert np.abs(read_rgb(out).astype(int) - np.asarray(photo).astype(int)).mean() > 5
    # An existing file is not replaced without --overwrite.
    assert apply_main(["--model", tiny_model, "--content", str(photo_path), "-o", str(out),
                       "-q"]) == 2
    second = tmp_path / "second.jpg"
    Image.fromarray(make_photo(30, 20)).save(second)
    folder = tmp_path / "outs"
    code = apply_main(["--model", tiny_model, "--content", str(photo_path), str(second),
                       str(tmp_path / "missing.png"), "-o", str(folder), "--strength", "0.5",
                       "--color", "keep", "-q"])
    assert code == 1  # one photo was missing: it alone failed, the others are done
    assert sorted(p.name for p in folder.iterdir()) == ["photo__tiny.png", "second__tiny.png"]
    assert image_size(folder / "second__tiny.png") == (30, 20)
    assert "missing.png" in capsys.readouterr().err


def test_apply_with_a_bad_model_exits_2(tmp_path, photo_path, capsys):
    bad = tmp_path / "bad.nst"
    bad.write_bytes(b"\x00" * 100)
    assert apply_main(["--model", str(bad), "--content", str(photo_path), "-o",
                       str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an instant-style model" in err and "\n" not in err
    assert not (tmp_path / "o.png").exists()
    assert apply_main(["--model", "no-such-style", "--content", str(photo_path), "-o",
                       str(tmp_path / "o.png")]) == 2


def test_apply_by_library_name(tmp_path, tiny_model, photo_path):
    models.import_model(tiny_model)
    out = tmp_path / "o.png"
    assert apply_main(["--model", "tiny", "--content", str(photo_path), "-o", str(out),
                       "-q"]) == 0
    assert out.is_file()


def test_the_library_import_export_and_damaged_files(tmp_path, tiny_model, app_data):
    path = models.import_model(tiny_model)
    again = models.import_model(tiny_model)
    assert path != again and path.is_file() and again.is_file()  # never overwritten
    junk = tmp_path / "junk.nst"
    junk.write_bytes(b"junk")
    with pytest.raises(Exception, match="not an instant-style model"):
        models.import_model(junk)
    (app_data / "models" / "broken.nst").write_bytes(b"broken")
    entries = {e.path.name: e for e in models.library()}
    assert entries["broken.nst"].model is None and entries["broken.nst"].problem
    exported = models.export_model(path, tmp_path / "shared.nst")
    assert load_model(exported).optimizer is None


def test_the_bundled_instant_styles_load_and_paint(photo_path):
    bundled = [e for e in models.library() if e.bundled]
    assert len(bundled) >= 4  # The Starry Night, The Great Wave, The Scream, Udnie
    for entry in bundled:
        assert entry.model is not None, entry.problem
        assert entry.model.finished and entry.model.optimizer is None
        from nst_core.networks.stylize import stylize

        photo = read_rgb(photo_path)
        out = stylize(entry.model.network(), photo)
        assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 10


# ---- apply treats its inputs and outputs as every verb does ------------------------------------
def _two_photos_and_a_damaged_one(tmp_path: Path) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir()
    Image.fromarray(make_photo(48, 40, seed=1)).save(folder / "a.png")
    Image.fromarray(make_photo(48, 40, seed=2)).save(folder / "b.jpg")
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    return folder


def test_apply_takes_a_folder_and_a_damaged_photo_fails_only_itself(tmp_path, tiny_model,
                                                                     capsys):
    folder = _two_photos_and_a_damaged_one(tmp_path)
    code = apply_main(["--model", tiny_model, "--content", str(folder), "-o",
                       str(tmp_path / "out"), "--json", "-q"])
    assert code == 1  # some items failed, as `batch` says it
    summary = json.loads(capsys.readouterr().out)
    assert [it["state"] for it in summary["items"]] == ["done", "done", "failed"]
    assert "c.png" in summary["items"][2]["error"]
    stem = Path(tiny_model).stem
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"a__{stem}.png",
                                                                    f"b__{stem}.png"]


def test_two_photos_of_one_name_keep_both_pictures_even_with_overwrite(tmp_path, tiny_model):
    assert not np.array_equal(make_photo(seed=1), make_photo(seed=3))  # two different photos
    one, two = tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"
    for p, seed in ((one, 1), (two, 3)):
        p.parent.mkdir()
        Image.fromarray(make_photo(48, 40, seed=seed)).save(p)
    out = tmp_path / "out"
    assert apply_main(["--model", tiny_model, "--content", str(one), str(two), "-o", str(out),
                       "--overwrite", "-q"]) == 0
    stem = Path(tiny_model).stem
    first, second = read_rgb(out / f"a__{stem}.png"), read_rgb(out / f"a__{stem}-2.png")
    assert not np.array_equal(first, second)  # neither replaced the other


@pytest.mark.parametrize("name, photos, words", [
    ("result.gif", 1, "cannot write a picture as .gif"),
    ("result.png", 2, "names one picture, but 2 photos"),
])
def test_an_output_name_that_cannot_be_written_is_refused_before_work(tmp_path, tiny_model,
                                                                     capsys, name, photos,
                                                                     words):
    shots = [str(tmp_path / f"p{i}.png") for i in range(photos)]
    for i, p in enumerate(shots):
        Image.fromarray(make_photo(48, 40, seed=i)).save(p)
    assert apply_main(["--model", tiny_model, "--content", *shots, "-o",
                       str(tmp_path / name), "-q"]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / name).exists()


def test_apply_into_its_photo_folder_does_not_feed_on_itself(tmp_path, tiny_model):
    folder = tmp_path / "cats"
    folder.mkdir()
    Image.fromarray(make_photo(48, 40)).save(folder / "cat.png")
    for _ in range(3):
        assert apply_main(["--model", tiny_model, "--content", str(folder), "-o", str(folder),
                           "--overwrite", "-q"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["cat.png",
                                                        f"cat__{Path(tiny_model).stem}.png"]


def test_an_existing_folder_with_a_dot_in_its_name_is_a_folder(tmp_path, tiny_model):
    out = tmp_path / "pictures.v2"
    out.mkdir()
    Image.fromarray(make_photo(48, 40)).save(tmp_path / "p.png")
    assert apply_main(["--model", tiny_model, "--content", str(tmp_path / "p.png"), "-o",
                       str(out), "-q"]) == 0
    assert [p.name for p in out.iterdir()] == [f"p__{Path(tiny_model).stem}.png"]


def test_an_interrupted_apply_run_again_finishes_what_it_left(tmp_path, tiny_model, capsys):
    """The same command again keeps the pictures it made (it knows them by the job they
    carry) and makes the rest; a picture it did not make, or made with other settings, is
    still refused without --overwrite."""
    folder = _photos_dir(tmp_path)
    out = tmp_path / "out"
    args = ["--model", tiny_model, "--content", str(folder), "-o", str(out), "--size", "32"]
    assert apply_main(args + ["-q"]) == 0
    made = sorted(out.iterdir())
    assert len(made) >= 2
    made[-1].unlink()  # as if the run had been stopped before its last picture
    before = {p: p.stat().st_mtime_ns for p in made[:-1]}
    capsys.readouterr()
    assert apply_main(args + ["--json", "-q"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [it["state"] for it in items] == ["skipped"] * (len(made) - 1) + ["done"]
    assert made[-1].is_file()
    assert {p: p.stat().st_mtime_ns for p in made[:-1]} == before  # untouched
    # other settings: these pictures are not theirs to keep
    assert apply_main(args[:-1] + ["48", "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # a picture someone else put there is not taken for one of ours either
    Image.fromarray(make_photo(32, 24)).save(made[0])
    assert apply_main(args + ["-q"]) == 2


def test_a_damaged_checkpoint_is_trained_again_and_said_so(tmp_path, capsys):
    """A model file of this app cut short (a crash while the disk was full) is no dead end:
    training starts again, says why in one line, and replaces it; a file of another kind
    under that name is still refused."""
    s = tiny_train_settings(tmp_path)
    out = tmp_path / "m.nst"
    args = ["--style", s.style, "--photos", str(_photos_dir(tmp_path)), "-o", str(out), *TINY]
    assert train_main(args + ["-q"]) == 0
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) // 2])
    capsys.readouterr()
    assert train_main(args + ["-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "starts again" in err[0]
    assert load_model(out).steps_done == 2
    other = tmp_path / "notes.nst"
    other.write_bytes(b"PK but not ours")
    assert train_main(args[:-len(TINY)] [:5] + [str(other), *TINY]) == 2
    assert other.read_bytes() == b"PK but not ours"


def test_train_and_apply_record_to_the_history_like_render(tmp_path, tiny_model, photo_path,
                                                           app_data):
    """A finished training lists its previews, each applied picture itself, with the photo
    and painting named; --no-history lists nothing; a stopped training is not listed."""
    from nst_app.history import HistoryStore

    history = HistoryStore(app_data / "history")
    s = tiny_train_settings(tmp_path)
    assert train_main(["--style", s.style, "--photos", *s.photos, "-o",
                       str(tmp_path / "m.nst"), *TINY]) == 0
    [trained] = history.entries()
    assert trained.iterations == 2 and trained.status == "done"
    assert trained.settings.styles == (s.style,) and trained.settings.content in s.photos
    assert "instant style trained in 2 steps" in trained.reason
    assert str(tmp_path / "m.nst") in trained.reason
    assert read_rgb(trained.image_path).shape[2] == 3

    out = tmp_path / "outs"
    assert apply_main(["--model", tiny_model, "--content", str(photo_path), "-o", str(out),
                       "--size", "64", "-q"]) == 0
    applied = history.entries()[-1]
    assert applied.settings.content == str(photo_path) and applied.settings.size == 64
    assert applied.reason.startswith("instant style: ")
    assert np.array_equal(read_rgb(applied.image_path), read_rgb(out / "photo__tiny.png"))
    assert "photo ×" in applied.label()

    before = len(history.entries())
    assert apply_main(["--model", tiny_model, "--content", str(photo_path), "-o", str(out),
                       "--overwrite", "--no-history", "-q"]) == 0
    assert train_main(["--style", s.style, "--photos", *s.photos, "-o",
                       str(tmp_path / "n.nst"), *TINY, "--no-history"]) == 0
    assert len(history.entries()) == before
    from nst_app.keepers import keeper_for
    from nst_core.kinds.train import TrainJob, TrainResult

    stopped = TrainResult(path=str(tmp_path / "m.nst"), steps_done=1, status="stopped",
                          preview=np.zeros((8, 8, 3), np.uint8))
    job = TrainJob(s)
    assert keeper_for(job).record(history, job, stopped, "cli") is None
    assert len(history.entries()) == before
