"""The command line end to end, on the bundled samples at 64 px."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_app import cli
from nst_app.history import HistoryStore
from nst_app.samples import default_content, default_style
from nst_core import Progress, TransferSettings
from nst_core.kinds import still as still_mod
from nst_core.painting import sizing as picture_mod
from nst_core.media.images import load_image, read_settings_json
from tests.conftest import image_size, nan_after, read_rgb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_no_inputs_renders_the_bundled_pair(tmp_path, capsys):
    assert cli.main(["--size", "64", "--iters", "2", "-q"]) == 0
    out = tmp_path / "tubingen_starry_night.png"
    assert out.is_file()
    assert f"Saved to {out}" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (64, 48)
    s = TransferSettings.from_json(read_settings_json(out))
    assert s.content == str(default_content()) and s.styles == (str(default_style()),)
    assert s.size == 64 and s.iterations == 2
    # a second run never overwrites the first
    assert cli.main(["--size", "64", "--iters", "1", "-q"]) == 0
    assert (tmp_path / "tubingen_starry_night-2.png").is_file()


def test_every_result_also_goes_to_the_history(tmp_path, app_data, photo_path, painting_path):
    args = ["--content", str(photo_path), "--style", str(painting_path), "--size", "48", "-q"]
    assert cli.main(args + ["--iters", "3", "-o", "a.png"]) == 0
    entries = HistoryStore(app_data / "history").entries()
    assert len(entries) == 1
    e = entries[0]
    assert e.source == "cli" and e.status == "done" and e.iterations == 3
    assert e.settings == TransferSettings.from_json(read_settings_json(tmp_path / "a.png"))
    assert np.array_equal(read_rgb(e.image_path), read_rgb(tmp_path / "a.png"))
    assert cli.main(args + ["--iters", "2", "-o", "b.png", "--no-history"]) == 0
    assert len(HistoryStore(app_data / "history").entries()) == 1


def test_every_option_and_json_summary(tmp_path, capsys, photo_path, painting_path,
                                       painting2_path):
    code = cli.main([
        "--content", str(photo_path), "--style", str(painting_path), "--style",
        str(painting2_path), "--blend", "0.7,0.3", "-o", "out.webp", "--size", "64",
        "--iters", "3", "--content-weight", "2", "--style-weight", "300", "--tv-weight", "0.01",
        "--content-layers", "relu3_2", "--style-layers", "relu1_1,relu2_1,relu3_1",
        "--style-layer-weights", "1,2,1", "--init", "noise", "--optimizer", "adam", "--lr", "0.05",
        "--no-multiscale", "--scales", "2", "--style-scale", "0.8", "--color", "histogram",
        "--pooling", "avg", "--seed", "7", "--device", "cpu", "--weights", "bundled",
        "--json", "-q"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["output"] == str(tmp_path / "out.webp")
    assert (summary["width"], summary["height"]) == (64, 53)
    assert summary["iterations"] == 3 and summary["device"] == "cpu"
    st = summary["settings"]
    assert st["style_blend"] == [0.7, 0.3] and st["optimizer"] == "adam"
    assert st["learning_rate"] == 0.05 and st["multiscale"] is False
    assert st["style_layer_weights"] == [1.0, 2.0, 1.0] and st["color"] == "histogram"
    assert set(summary["final_losses"]) == {"content", "style", "tv", "total"}
    assert read_settings_json(tmp_path / "out.webp") is not None


def test_settings_from_a_saved_png_reruns_them(tmp_path, photo_path, painting_path):
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "--size", "64",
                     "--iters", "2", "--seed", "5", "--pooling", "avg", "-o", "first.png",
                     "-q"]) == 0
    assert cli.main(["--settings-from", "first.png", "-o", "again.png", "-q"]) == 0
    a = TransferSettings.from_json(read_settings_json(tmp_path / "first.png"))
    b = TransferSettings.from_json(read_settings_json(tmp_path / "again.png"))
    assert a == b and b.seed == 5 and b.pooling == "avg"
    # the same settings and seed on the same device give the same picture
    assert np.array_equal(read_rgb("first.png"), read_rgb("again.png"))
    assert cli.main(["--settings-from", "first.png", "--iters", "1", "-o", "third.png", "-q"]) == 0
    assert TransferSettings.from_json(read_settings_json(tmp_path / "third.png")).iterations == 1


@pytest.mark.parametrize("args, words", [
    (["--content", "missing.jpg"], "file not found"),
    (["--size", "8"], "size: must be between 32 and 8192"),
    (["--blend", "0.5,0.5"], "one weight per style"),
    (["--style-layers", "relu9_1"], "unknown layer"),
    (["-o", "out.gif"], "use .png, .jpg, .webp or .tiff"),
    (["-o", "nowhere/out.png"], "does not exist"),
    (["--init-image", "nothing.png"], "file not found"),
    (["--settings-from", "nothing.png"], "file not found"),
    (["--weights", "torchvision", "--weights-path", "none.pth"], "No torchvision VGG19"),
])
def test_bad_input_exits_2_with_one_line_reason(args, words, capsys):
    assert cli.main(args + ["--size", "64", "--iters", "1", "-q"] if "--size" not in args
                    else args + ["-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err
    assert len(err.splitlines()) == 1


def test_settings_from_an_image_without_settings(tmp_path, capsys, photo_path):
    assert cli.main(["--settings-from", str(photo_path), "-q"]) == 2
    assert "carries no NST Studio settings" in capsys.readouterr().err


def test_existing_output_needs_overwrite(tmp_path, capsys):
    (tmp_path / "out.png").write_bytes(b"keep me")
    assert cli.main(["-o", "out.png", "--size", "64", "--iters", "1", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "out.png already exists" in err and err.endswith("allow overwriting (--overwrite)")
    assert (tmp_path / "out.png").read_bytes() == b"keep me"
    assert cli.main(["-o", "out.png", "--size", "64", "--iters", "1", "-q", "--overwrite"]) == 0
    assert image_size(tmp_path / "out.png") == (64, 48)


def test_a_dangling_link_as_output_is_refused_before_the_run(tmp_path, capsys):
    """The check before the run and the save at its end agree: a link to nothing is a taken
    name (no render done for nothing); with --overwrite the picture replaces the link."""
    (tmp_path / "out.png").symlink_to(tmp_path / "gone.png")
    assert cli.main(["-o", "out.png", "--size", "64", "--iters", "1", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "out.png is a link to a missing file" in err and len(err.splitlines()) == 1
    assert cli.main(["-o", "out.png", "--size", "64", "--iters", "1", "-q", "--overwrite"]) == 0
    assert not (tmp_path / "out.png").is_symlink() and image_size(tmp_path / "out.png") == (64, 48)


def test_bad_choice_is_an_argparse_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["--optimizer", "sgd"])
    assert info.value.code == 2


def test_nan_exits_1_and_saves_last_good_image(tmp_path, capsys, monkeypatch, photo_path,
                                               painting_path):
    nan_after(monkeypatch, 2)
    code = cli.main(["--content", str(photo_path), "--style", str(painting_path), "--size", "48",
                     "--iters", "5", "-o", "nan.png", "-q"])
    assert code == 1
    assert "loss became nan" in capsys.readouterr().err
    assert (tmp_path / "nan.png").is_file()
    entry, = HistoryStore(tmp_path / "appdata" / "history").entries()
    assert entry.status == "failed" and entry.iterations == 2  # failed, not "stopped"
    assert "loss became nan" in entry.reason


def test_first_ctrl_c_stops_and_saves_best_so_far(tmp_path, capsys, monkeypatch, photo_path,
                                                  painting_path):
    real_events = still_mod.StillRun.events

    def events_then_sigint(self):
        for ev in real_events(self):
            yield ev
            if isinstance(ev, Progress) and ev.iteration == 2:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(still_mod.StillRun, "events", events_then_sigint)
    code = cli.main(["--content", str(photo_path), "--style", str(painting_path), "--size", "48",
                     "--iters", "50", "-o", "stopped.png", "--json", "-q"])
    assert code == 130
    summary = json.loads(capsys.readouterr().out)
    assert summary["stopped"] and summary["iterations"] == 2
    assert (tmp_path / "stopped.png").is_file()


def test_sigterm_is_handled_like_the_first_ctrl_c(tmp_path, photo_path, painting_path, spawn):
    """A logout or `kill` stops the run and keeps the picture so far (exit 130)."""
    proc = spawn([sys.executable, str(ROOT / "main.py"), "render", "--content",
                  str(photo_path), "--style", str(painting_path), "--size", "64",
                  "--iters", "100000", "--early-stop", "0", "-o", "term.png", "--json"],
                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the bar shows the first iteration (it redraws with \r), then ask it to end
    seen = ""
    while "1/100000" not in seen:
        char = proc.stderr.read(1)
        assert char, "the run ended before it started: " + seen
        seen += char
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["stopped"] and summary["iterations"] >= 1
    assert (tmp_path / "term.png").is_file()


def test_main_py_render_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "render", "--size", "64",
                           "--iters", "2", "-o", "sub.png", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["output"] == str(tmp_path / "sub.png") and (tmp_path / "sub.png").is_file()
    assert "2/2" in proc.stderr  # the progress bar


def test_help_lists_every_setting(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for opt in ("--content", "--style", "--blend", "--size", "--iters", "--content-weight",
                "--style-weight", "--tv-weight", "--content-layers", "--style-layers",
                "--style-layer-weights", "--init", "--init-image", "--optimizer", "--lr",
                "--multiscale", "--scales", "--style-scale", "--color", "--pooling", "--seed",
                "--device", "--weights", "--weights-path", "--settings-from", "--overwrite",
                "--json"):
        assert opt in text


def test_size_too_large_for_memory_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(picture_mod, "available_memory", lambda device: 2**20)
    assert cli.main(["--size", "64", "--iters", "1", "-q"]) == 2
    # 1 MB: not even the network fits, so no smaller size is offered
    assert "close other programs: even the smallest size does not fit" in \
        capsys.readouterr().err


# ---- what a disk can do to a run (issue: reliability) ----------------------------------------
ARGS = ["--size", "48", "--iters", "2", "--no-multiscale", "-q"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def test_an_output_on_a_read_only_disk_is_refused_before_the_run(capsys, photo_path,
                                                                  painting_path):
    code = cli.main(["--content", str(photo_path), "--style", str(painting_path),
                     "-o", "/sys/out.png", *ARGS])  # read-only even for root
    assert code == 2
    assert "cannot write /sys/out.png" in _one_error_line(capsys)


def test_a_folder_as_the_output_is_refused_even_with_overwrite(tmp_path, capsys, photo_path,
                                                               painting_path):
    (tmp_path / "taken.png").mkdir()
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "-o",
                     "taken.png", "--overwrite", *ARGS]) == 2
    assert "is a folder" in _one_error_line(capsys)


def test_a_save_that_fails_at_the_end_keeps_the_picture_and_says_where(
        tmp_path, capsys, monkeypatch, photo_path, painting_path, app_data):
    import errno

    from nst_core.media import images
    real = images.save_image

    def disk_gone(path, *a, **k):
        if Path(path).name == "out.png":
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, *a, **k)

    monkeypatch.setattr(images, "save_image", disk_gone)
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "-o",
                     "out.png", *ARGS]) == 1
    err = _one_error_line(capsys)
    assert "cannot write" in err and "the disk is read-only" in err
    kept = err.split("the picture is kept in ")[1]
    assert Path(kept).is_file() and Path(kept).parent == app_data / "history"
    # and with no history either, it goes to the app's rescue folder
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "-o",
                     "out.png", "--no-history", *ARGS]) == 1
    kept = _one_error_line(capsys).split("the picture is kept in ")[1]
    assert Path(kept).is_file() and Path(kept).parent == app_data / "rescued"


def test_names_too_long_for_the_file_system_are_one_line(tmp_path, capsys, photo_path,
                                                         painting_path):
    long = "x" * 300
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "-o",
                     long + ".png", *ARGS]) == 2
    assert "too long" in _one_error_line(capsys)
    assert cli.main(["--content", str(tmp_path / (long + ".jpg")), "--style",
                     str(painting_path), *ARGS]) == 2
    assert "too long" in _one_error_line(capsys)
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"content": str(photo_path),
                                    "styles": [str(tmp_path / (long + ".png"))]}))
    assert cli.main(["--settings-from", str(settings), *ARGS]) == 2
    assert "too long" in _one_error_line(capsys)


def test_saved_pictures_follow_the_umask_and_overwrite_keeps_the_mode(tmp_path, photo_path,
                                                                      painting_path):
    old = os.umask(0o022)
    try:
        args = ["--content", str(photo_path), "--style", str(painting_path), *ARGS]
        assert cli.main(args + ["-o", "a.png"]) == 0
        assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "a.png", 0o640)
        assert cli.main(args + ["-o", "a.png", "--overwrite"]) == 0
        assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("make, words", [
    (lambda p: Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(p, "PNG"),
     "is not a VGG19 weights file (torch cannot read it"),
    (lambda p: __import__("torch").save({"features.0.weight": 3, "features.0.bias": 1.5}, p),
     "holds int, not a tensor"),
    (lambda p: __import__("torch").save([1, 2, 3], p), "it holds a list, not named tensors"),
])
def test_a_weights_file_that_is_not_weights_is_one_line(tmp_path, capsys, make, words):
    p = tmp_path / "vgg19.pth"
    make(p)
    assert cli.main(["--weights", "torchvision", "--weights-path", str(p), "--size", "64",
                     "--iters", "1", "-q"]) == 2
    err = _one_error_line(capsys)
    assert words in err and "weights_only" not in err


def test_a_path_that_is_not_utf8_prints_after_saving(tmp_path):
    name = b"caf\xe9.png"  # Latin-1 bytes: not valid UTF-8
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "render", "--size", "64",
                           "--iters", "1", "--no-multiscale", "-q", "-o", name],
                          capture_output=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert name in os.listdir(bytes(tmp_path))
    assert b"Saved to" in proc.stdout and b"caf\\udce9.png" in proc.stdout


def test_ctrl_c_while_starting_up_is_one_line(tmp_path, spawn):
    proc = spawn([sys.executable, str(ROOT / "main.py"), "render", "--size", "64"],
                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time

    time.sleep(0.6)  # importing torch takes longer than this
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_oom_after_some_iterations_keeps_the_last_good_picture(tmp_path, capsys, monkeypatch,
                                                               photo_path, painting_path,
                                                               app_data):
    import torch

    from tests.conftest import fail_after

    fail_after(monkeypatch, 2, torch.OutOfMemoryError("CUDA out of memory"))
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "-o",
                     "oom.png", *ARGS[:2], "--iters", "6", "-q"]) == 1
    assert "smaller output size" in capsys.readouterr().err
    assert (tmp_path / "oom.png").is_file()
    entry, = HistoryStore(app_data / "history").entries()
    assert entry.status == "failed" and entry.iterations == 2


def test_a_cut_out_photo_comes_back_cut_out_and_a_tiff_keeps_16_bits(tmp_path, painting_path,
                                                                      app_data):
    """A photo with a transparent left third: the PNG and the TIFF give it back transparent;
    the TIFF holds the optimized picture at 16 bits (values 8 bits cannot say), with the sRGB
    profile, and the history's copy is transparent too."""
    import tifffile

    from nst_core.media.formats import SRGB_ICC
    from tests.conftest import make_photo

    rgba = np.dstack([make_photo(), np.full((40, 48), 255, np.uint8)])
    rgba[:, :16, 3] = 0
    photo = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(photo)
    args = ["--content", str(photo), "--style", str(painting_path), "--size", "48", "--iters",
            "3", "--no-multiscale", "-q"]
    assert cli.main(args + ["-o", str(tmp_path / "out.png")]) == 0
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "RGBA" and im.info["icc_profile"] == SRGB_ICC
        alpha = np.asarray(im)[..., 3]
    assert (alpha[:, :15] == 0).all() and (alpha[:, 17:] == 255).all()
    assert cli.main(args + ["-o", str(tmp_path / "print.tiff")]) == 0
    with tifffile.TiffFile(tmp_path / "print.tiff") as t:
        page = t.pages[0]
        data = page.asarray()
        assert page.bitspersample == 16 and data.shape == (40, 48, 4)
        assert page.iccprofile == SRGB_ICC
    assert (data[:, :15, 3] == 0).all() and (data[:, 17:, 3] == 65535).all()
    assert (data[..., :3] % 257 != 0).mean() > 0.5  # finer than an 8-bit picture widened
    entry = HistoryStore(app_data / "history").entries()[0]
    assert load_image(entry.image_path).alpha[:, :15].max() == 0


def test_a_16_bit_photo_keeps_its_16_bits_to_a_16_bit_tiff(tmp_path, painting_path):
    """A 16-bit photo painted with no style at all gives itself back: in a TIFF, every one of
    its 16 bits (an 8-bit path would round them to multiples of 257)."""
    import cv2
    import tifffile

    ramp = np.linspace(0, 65535, 40 * 48 * 3).reshape(40, 48, 3).astype(np.uint16)
    photo = tmp_path / "deep.png"
    cv2.imwrite(str(photo), ramp[..., ::-1])  # OpenCV writes BGR
    assert cli.main(["--content", str(photo), "--style", str(painting_path), "--size", "48",
                     "--iters", "2", "--no-multiscale", "--style-weight", "0", "--tv-weight",
                     "0", "-o", str(tmp_path / "deep.tiff"), "-q", "--no-history"]) == 0
    back = tifffile.imread(tmp_path / "deep.tiff")
    assert back.dtype == np.uint16 and back.shape == (40, 48, 3)
    assert np.abs(back.astype(int) - ramp.astype(int)).max() <= 1
    assert (back % 257 != 0).mean() > 0.9


def _half_mask(path, size, left=True):
    w, h = size
    m = np.zeros((h, w), np.uint8)
    if left:
        m[:, : w // 2] = 255
    else:
        m[:, w // 2:] = 255
    Image.fromarray(m).save(path)
    return str(path)


def test_a_mask_after_a_style_limits_it_and_travels_with_the_settings(tmp_path, capsys,
                                                                      photo_path, painting_path,
                                                                      painting2_path):
    left = _half_mask(tmp_path / "left.png", (32, 16))  # another size: scaled to the photo
    args = ["--content", str(photo_path), "--style", str(painting_path), "--mask", "left.png",
            "--style", str(painting2_path), "--size", "48", "--iters", "2", "--no-multiscale",
            "-q"]
    assert cli.main(args + ["-o", "a.png"]) == 0
    s = TransferSettings.from_json(read_settings_json(tmp_path / "a.png"))
    assert s.masks == (left, "") and s.regional
    # --settings-from brings the regions back; a new --style without masks clears them
    assert cli.main(["--settings-from", "a.png", "-o", "b.png", "-q"]) == 0
    assert TransferSettings.from_json(read_settings_json(tmp_path / "b.png")).masks == s.masks
    assert cli.main(["--settings-from", "a.png", "--style", str(painting_path), "-o", "c.png",
                     "-q"]) == 0
    assert TransferSettings.from_json(read_settings_json(tmp_path / "c.png")).masks == ()


@pytest.mark.parametrize("mask, words", [
    ("missing.png", "file not found"),
    ("black.png", "all black"),
    ("broken.png", "damaged or truncated"),
])
def test_a_bad_mask_is_refused_in_one_line_before_work(tmp_path, capsys, photo_path,
                                                       painting_path, mask, words):
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "whole.png")
    (tmp_path / "broken.png").write_bytes((tmp_path / "whole.png").read_bytes()[:60])
    assert cli.main(["--content", str(photo_path), "--style", str(painting_path), "--mask",
                     mask, "--size", "48", "--iters", "1", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("photo_*.png"))


def test_a_mask_needs_a_style_before_it(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--mask", "m.png", "--size", "48", "-q"])
    assert e.value.code == 2 and "after that --style" in capsys.readouterr().err
