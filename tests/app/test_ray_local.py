"""The app's private Ray cluster ("local"): started in a process of its own, whatever this
process's other threads hold, and gone with it."""
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the cluster extra is installed by the test command")

from nst_app import ray_executor  # noqa: E402


class _FreedOnlyWithTheLock:
    """Freeing it waits for `lock`, as a PyAV frame converter waits for FFmpeg's threads."""

    def __init__(self, lock: threading.Lock):
        self.lock = lock

    def __del__(self):
        with self.lock:
            pass


def _alive(pids) -> list[int]:
    import psutil  # Ray's own dependency

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_local_starts_while_another_thread_holds_what_a_forked_child_cannot_free():
    """Forked from here with Python code to run before exec (Ray's preexec_fn), a child
    frees the other threads' objects, and this one would wait forever for a lock held by a
    thread the child does not have: before the private cluster ran in a process of its own,
    `ray.init` hung on exactly that (the window's batch after a video)."""
    assert not ray.is_initialized()
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    before = current.read_text() if current.is_file() else None
    lock, held, release = threading.Lock(), threading.Event(), threading.Event()
    local = threading.local()

    def holder():
        with lock:
            local.value = _FreedOnlyWithTheLock(lock)
            held.set()
            release.wait()
        local.value = None

    t = threading.Thread(target=holder, daemon=True)
    t.start()
    held.wait()
    connected = threading.Thread(target=ray_executor.connect, args=("local", 1), daemon=True)
    try:
        connected.start()  # from a thread that ends, as the window's worker does
        connected.join(120)
        assert not connected.is_alive(), "the private cluster did not start"
        assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 1

        @ray.remote
        def pid():
            return os.getpid()

        assert ray.get(pid.remote()) != os.getpid()  # a worker of the cluster ran it
        # not named the machine's current cluster, which a plain ray.init() would join
        assert (current.read_text() if current.is_file() else None) == before
        import psutil

        head = ray_executor._head.pid
        cluster = [head, *(c.pid for c in psutil.Process(head).children(recursive=True))]
        assert len(cluster) >= 3  # the head's process, Ray's GCS and raylet at least
    finally:
        release.set()
        t.join()
        ray_executor.stop_private_cluster()
    assert not ray.is_initialized() and ray_executor._head is None
    deadline = time.monotonic() + 30
    while _alive(cluster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(cluster) == []  # Ray's processes went with the head


def test_a_private_cluster_that_cannot_start_is_refused_in_one_line(tmp_path, monkeypatch):
    """What the head's process said last is the reason given; nothing is left running."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'ray start: some ports are taken' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(ray_executor.sys, "executable", str(fake))
    with pytest.raises(ray_executor.ClusterError) as e:
        ray_executor.connect("local", 1)
    assert str(e.value).startswith("the private Ray cluster did not start (ray start: some "
                                   "ports are taken)") and "\n" not in str(e.value)
    assert ray_executor._head is None and not ray.is_initialized()
