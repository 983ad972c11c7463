"""kill -9 in the middle of things: every result finished before the kill is in the history on
restart, and nothing half-written appears (writes go to a hidden temporary file, then a
rename)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nst_app.history import HistoryStore
from nst_core.media.images import load_image

ROOT = Path(__file__).resolve().parents[2]


def test_kill_9_during_a_run_and_during_a_write_loses_nothing_finished(
        tmp_path, photo_path, painting_path, painting2_path):
    data = tmp_path / "appdata"
    out = tmp_path / "out"
    env = {**os.environ, "NST_STUDIO_DATA": str(data),
           "NST_STUDIO_TEST_WRITE_DELAY": "0.8"}  # a test hook: each write lingers
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "batch", "--content",
                             str(photo_path), "--style", str(painting_path),
                             str(painting2_path), str(painting_path), "-o", str(out),
                             "--size", "48", "--iters", "3", "--no-multiscale", "-q"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history = data / "history"
    deadline = time.time() + 120
    killed_while_writing = False
    try:
        # wait for one finished entry, then for a write in progress, and kill in the middle
        while time.time() < deadline and proc.poll() is None:
            done = list(history.glob("run-*.json")) if history.is_dir() else []
            writing = [p for folder in (history, out) if folder.is_dir()
                       for p in folder.glob(".*.tmp")]
            if done and writing:
                proc.send_signal(signal.SIGKILL)
                killed_while_writing = True
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
    assert killed_while_writing, err.decode(errors="replace")
    entries = HistoryStore(history).entries()  # "restart": list what is there
    assert entries, "a result finished before the kill is missing"
    for e in entries:
        img = load_image(e.image_path)  # every listed picture is whole
        assert img.rgb.shape == (40, 48, 3)
        assert e.settings is not None
    for p in out.glob("*.png"):  # and every visible output is whole
        assert load_image(p).rgb.shape == (40, 48, 3)
    assert all(not p.name.startswith(".") for p in map(lambda e: Path(e.image_path), entries))


def test_a_render_killed_with_sigkill_continues_from_its_checkpoint(tmp_path, photo_path,
                                                                    painting_path):
    """kill -9 mid-render, then the same command: it continues from the checkpoint (not from
    the photo), finishes every iteration, saves, and leaves no checkpoint behind."""
    env = {**os.environ, "NST_STUDIO_DATA": str(tmp_path / "appdata")}
    out = tmp_path / "print.png"
    checkpoint = tmp_path / ".print.png.checkpoint"
    command = [sys.executable, str(ROOT / "main.py"), "render", "--content", str(photo_path),
               "--style", str(painting_path), "--size", "48", "--iters", "150", "--settle", "0",
               "--early-stop", "0", "--no-multiscale", "-o", str(out),
               "--checkpoint-every", "0.2", "--json"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None and not checkpoint.is_file():
            time.sleep(0.05)
        time.sleep(0.5)  # a few more steps, and perhaps a checkpoint being written
        assert proc.poll() is None, "the render ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert not out.exists() and checkpoint.is_file()
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    said = again.stderr.replace("\r", "\n")
    assert "Continuing from the checkpoint at iteration" in said, said[-2000:]
    step = int(said.split("Continuing from the checkpoint at iteration ")[1].split()[0])
    assert 0 < step < 150
    summary = json.loads(again.stdout)
    assert summary["iterations"] == 150 and summary["status"] == "done"
    assert out.is_file() and not checkpoint.exists()


def test_pause_ctrl_c_and_the_same_command_continues_replacing_its_own_picture(
        tmp_path, photo_path, painting_path, spawn):
    """Ctrl-Z (SIGTSTP) pauses a render where it is and SIGCONT resumes it; Ctrl-C saves the
    picture so far and keeps the checkpoint; the same command continues and replaces that
    picture, its own (a picture of other settings is still refused)."""
    env = {**os.environ, "NST_STUDIO_DATA": str(tmp_path / "appdata")}
    out = tmp_path / "stopped.png"
    checkpoint = tmp_path / ".stopped.png.checkpoint"
    command = [sys.executable, str(ROOT / "main.py"), "render", "--content", str(photo_path),
               "--style", str(painting_path), "--size", "48", "--iters", "120", "--settle",
               "0", "--early-stop", "0", "--no-multiscale", "-o", str(out),
               "--checkpoint-every", "0.05", "--json"]
    # Its own process group, as a shell puts each job: SIGTSTP to a process whose group is
    # orphaned (a test suite run as a background job) is discarded by the kernel.
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    proc = spawn(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                 **group)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not checkpoint.is_file():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTSTP)
    time.sleep(0.5)
    state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    written = checkpoint.stat().st_mtime_ns
    time.sleep(1.0)
    paused = checkpoint.stat().st_mtime_ns == written  # no step while paused
    proc.send_signal(signal.SIGCONT)
    assert state == "T" and paused  # stopped by the kernel, where it was
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert json.loads(stdout)["status"] == "stopped"
    assert out.is_file() and checkpoint.is_file()
    assert "run the same command again to continue" in stderr
    other = subprocess.run(command[:-1] + ["--iters", "119", "-q"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 2 and "already exists" in other.stderr
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Continuing from the checkpoint" in again.stderr
    assert json.loads(again.stdout)["iterations"] == 120
    assert not checkpoint.exists()
