"""kill -9 in the middle of things: every result finished before the kill is in the history on
restart, and nothing half-written appears (writes go to a hidden temporary file, then a
rename)."""
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
