"""`main.py video`: a clip in, a repainted MP4 with its sound out; bad input exits 2 with one line
and writes nothing; Ctrl-C exits 130 and the same command continues."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nst_app import paths
from nst_app.history import HistoryStore
from nst_app.video_cli import video_main
from nst_core.media.video import probe
from nst_core.media.frame_cache import cache_dir
from tests.conftest import read_rgb, write_clip

ROOT = Path(__file__).resolve().parents[2]


def test_video_with_an_instant_style_keeps_the_sound(tmp_path, tiny_model, capsys, app_data):
    clip = write_clip(tmp_path / "c.mp4", frames=5, tone=330)
    out = tmp_path / "out.mp4"
    code = video_main(["--content", str(clip), "--model", tiny_model, "-o", str(out),
                       "--size", "64", "-q", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["frames"] == 5 and summary["output"] == str(out)
    info = probe(out)
    assert info.frames == 5 and info.audio == "aac" and info.size == (64, 48)
    entry, = HistoryStore(paths.history_dir(app_data)).entries()  # listed in the history
    assert entry.kind == "video" and entry.video == str(out) and entry.frames == 5
    assert entry.source == "cli" and entry.video_settings.model == tiny_model
    assert read_rgb(entry.image_path).shape == (48, 64, 3)  # its last frame as the poster


def test_video_optimized_at_a_frame_rate_limit(tmp_path, painting_path, capsys, app_data):
    clip = write_clip(tmp_path / "c.mp4", frames=6, fps=10)
    out = tmp_path / "frames"
    code = video_main(["--content", str(clip), "--style", str(painting_path), "-o", str(out),
                       "--size", "64", "--iters", "4", "--frame-iters", "2", "--fps", "5",
                       "--device", "cpu", "--no-history"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["frame_000001.png", "frame_000002.png",
                                                     "frame_000003.png"]
    assert "Repainted 3 frames" in capsys.readouterr().out
    assert HistoryStore(paths.history_dir(app_data)).entries() == []


def test_a_video_takes_a_painting_with_its_region(tmp_path, painting_path, capsys, app_data):
    """--mask after --style limits the painting in every frame; a mask that cannot be read is
    refused in one line before any frame is painted."""
    import numpy as np
    from PIL import Image

    clip = write_clip(tmp_path / "c.mp4", frames=2, fps=10)
    mask = np.zeros((48, 64), np.uint8)
    mask[:, :32] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    args = ["--content", str(clip), "--style", str(painting_path), "--mask",
            str(tmp_path / "left.png"), "--size", "64", "--iters", "2", "--frame-iters", "1",
            "--device", "cpu", "-q", "--json"]
    assert video_main([*args, "-o", str(tmp_path / "frames")]) == 0
    summary = json.loads(capsys.readouterr().out)
    entry, = HistoryStore(paths.history_dir(app_data)).entries()
    assert summary["ok"] and entry.settings.masks == (str(tmp_path / "left.png"),)
    args[args.index(str(tmp_path / "left.png"))] = str(tmp_path / "gone.png")
    assert video_main([*args, "-o", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err.strip()
    assert "gone.png" in err and "file not found" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize("content", ["empty", "text", "missing"])
def test_a_bad_clip_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys, content):
    clip = tmp_path / "bad.mp4"
    if content == "empty":
        clip.write_bytes(b"")
    elif content == "text":
        clip.write_text("hello\n")
    out = tmp_path / "out.mp4"
    code = video_main(["--content", str(clip), "-o", str(out), "-q"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "bad.mp4" in err
    assert not out.exists() and not cache_dir(out).exists()


def test_an_existing_output_is_not_replaced_without_overwrite(tmp_path, tiny_model, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=2)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    assert video_main(["--content", str(clip), "--model", tiny_model, "-o", str(out),
                       "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert video_main(["--content", str(clip), "--model", tiny_model, "-o", str(out), "-q",
                       "--overwrite", "--size", "64"]) == 0
    assert probe(out).frames == 2


def test_bad_settings_exit_2(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=2)
    assert video_main(["--content", str(clip), "-o", str(tmp_path / "o.mp4"), "--start", "2",
                       "--end", "1", "-q"]) == 2
    assert "end" in capsys.readouterr().err
    assert video_main(["--content", str(clip), "-o", str(tmp_path / "o.gif"), "-q"]) == 2
    assert ".gif" in capsys.readouterr().err


def test_ctrl_c_keeps_the_frames_and_the_same_command_continues(tmp_path, painting_path,
                                                                spawn):
    clip = write_clip(tmp_path / "c.mp4", frames=5, fps=10)
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, str(ROOT / "main.py"), "video", "--content", str(clip), "--style",
           str(painting_path), "-o", str(out), "--size", "64", "--iters", "20",
           "--frame-iters", "20", "--early-stop", "0", "--device", "cpu", "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                 cwd=tmp_path)
    cache = cache_dir(out)
    deadline = time.monotonic() + 120
    while not list(cache.glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = sorted(cache.glob("*.png"))
    assert 1 <= len(kept) < 5 and not out.exists()
    again = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"continuing at frame {len(kept) + 1}" in again.stderr
    assert probe(out).frames == 5 and not cache.exists()
