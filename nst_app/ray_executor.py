"""Batch items on a Ray cluster (an optional extra: pip install -e ".[cluster]").

Each worker is a Ray actor holding one process that loads the network once (the engine caches
it per process) and renders items one after another; its events stream back through a Ray
generator, so the bar and the window stay live. The driver sends each item's input files with
it, so workers need no shared folder, and keeps the results (it saves them). Stop asks the
running items to stop (each keeps its best picture) and starts no other. A worker that dies has
its item put back in the queue and is replaced.

    ray start --head                      # on the first machine
    ray start --address HEAD_IP:6379      # on each other machine
    python main.py batch ... --ray auto   # from any machine of the cluster
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from nst_core import NSTError, PreviewPolicy, SPARSE
from nst_core.catalogue import job_from_dict
from nst_core.job import Job

from .executors import ItemFinished, ItemRequeued, ItemStarted, run_item
from .keepers import keeper_for

log = logging.getLogger(__name__)

#: A worker that dies this many times on the same item fails the item instead of retrying.
MAX_ATTEMPTS = 3


#: A worker keeps the input files it is sent in a folder of its own, named with this prefix and
#: its process id (nst-ray-inputs-PID-xxxxxxxx) in the system's temporary folder.
INPUTS_PREFIX = "nst-ray-inputs-"


def sweep_inputs_folders(root: str | Path | None = None) -> int:
    """Remove the input folders of workers that are no longer running on this machine, and
    say how many. A worker removes its own when its batch ends (`close`), but a worker that
    was killed or crashed runs no clean-up, and a video sent to it can be gigabytes. POSIX
    only: elsewhere nothing is removed (there `os.kill(pid, 0)` would not test the process)."""
    if os.name != "posix":
        return 0
    removed = 0
    for folder in Path(root or tempfile.gettempdir()).glob(INPUTS_PREFIX + "*"):
        pid = folder.name[len(INPUTS_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += not folder.exists()
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: running
        return True
    return True


class ClusterError(NSTError):
    """Ray is missing, or the cluster cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed; install the cluster extra: "
                           "pip install -e \".[cluster]\"") from None
    return ray


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join a cluster: "auto" (the one started on this machine with `ray start`), "local" (a
    private one on this machine, which ends with this process), an address such as
    "10.0.0.2:6379"; None uses the Ray this process already started. Safe from any thread:
    "local" starts its cluster in a process of its own (nst_app.ray_head), so it outlives the
    thread that asked."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address not in (None, "local", "auto"):
        _probe(address)
    with _connect_lock:
        _init(ray, address, num_cpus)


def _init(ray, address: str | None, num_cpus: int | None) -> None:
    if ray.is_initialized():  # another thread got there first
        return
    try:
        if address in (None, "local"):
            address = _private_head(num_cpus or os.cpu_count() or 1)
            _use_the_access_token()
        ray.init(address=address, logging_level=logging.WARNING, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if address in (None, "local") or _head is not None:
            stop_private_cluster()
            raise ClusterError(f"the private Ray cluster did not start ({first}); run "
                               "'ray start --head' and choose auto instead") from None
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({first}); start one with "
                           "'ray start --head' or give its address") from None


_connect_lock = threading.Lock()
#: The private cluster's process (nst_app.ray_head) while it runs.
_head: subprocess.Popen | None = None
#: Seconds a private cluster may take to start.
HEAD_START_SECONDS = 120


def _private_head(num_cpus: int) -> str:
    """Start this app's private cluster in a process of its own and return its address, once
    it answers. It ends with this process (it watches the pipe to its standard input)."""
    global _head
    stop_private_cluster()
    _ensure_access_token()
    port = _free_port()
    folder = tempfile.mkdtemp(prefix="nst-ray-")  # short: Ray's sockets are made in it
    with tempfile.TemporaryFile() as log:  # what the head says, for the line if it fails
        _head = subprocess.Popen(
            [sys.executable, "-m", "nst_app.ray_head", str(port), str(num_cpus),
             str(256 * 2**20), folder], stdin=subprocess.PIPE, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)  # Ctrl-C stops runs, not it
        deadline = time.monotonic() + HEAD_START_SECONDS
        while not _answers("127.0.0.1", port):
            if _head.poll() is not None or time.monotonic() > deadline:
                stop_private_cluster()
                log.seek(0)
                said = [ln for ln in log.read().decode(errors="replace").splitlines()
                        if ln.strip()]
                raise RuntimeError(said[-1].strip() if said else "its process ended at once")
            time.sleep(0.2)
    return f"127.0.0.1:{port}"


def _ensure_access_token() -> None:
    """Ray's clusters admit only holders of this account's token (~/.ray/auth_token) once it
    exists; `ray.init` makes it for the clusters it starts itself, `ray start` does not."""
    if "RAY_AUTH_TOKEN" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if path.is_file():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
    except OSError:  # a read-only home: the cluster starts without a token, as Ray would
        pass


def _use_the_access_token() -> None:
    """Present the token to the private cluster as `ray start` asked for it there (Ray uses it
    by itself only for clusters it finds with "auto")."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available)
    except ImportError:  # a Ray without access tokens
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def stop_private_cluster() -> None:
    """Leave Ray and end the private cluster, if this process started one."""
    global _head
    if _head is None:
        return
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()
    head, _head = _head, None
    head.stdin.close()  # the head's watcher sees the end of its input and exits
    try:
        head.wait(30)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait()
    shutil.rmtree(_head_folder(head), ignore_errors=True)


def _head_folder(head: subprocess.Popen) -> str:
    return head.args[-1]  # the last argument of nst_app.ray_head


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _probe(address: str) -> None:
    """Fail at once, in one line, when nothing answers at HOST:PORT (Ray itself retries for
    minutes)."""
    text = address.split("://", 1)[-1]
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"{address!r} is not a Ray address; give HOST:PORT (the head's "
                           "address that 'ray start --head' printed), auto or local")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterError(f"nothing answers at {address} ({e.strerror or e}); start the "
                           "cluster with 'ray start --head' there, or check the address") \
            from None


_Worker = None


def _worker_class():
    """The actor class, made on first use so that importing this module needs no Ray."""
    global _Worker
    if _Worker is not None:
        return _Worker
    ray = _ray()

    @ray.remote(max_concurrency=2)  # a second thread answers stop() while render() runs
    class RenderWorker:
        def __init__(self, threads: int):
            import torch

            from nst_core.runtime import memory
            torch.set_num_threads(max(1, threads))
            memory.keep_freed_memory()
            self._stops: dict[str, threading.Event] = {}
            self._files: dict[str, str] = {}
            sweep_inputs_folders()  # those of workers that died on this machine
            self._folder = Path(tempfile.mkdtemp(prefix=f"{INPUTS_PREFIX}{os.getpid()}-"))

        def where(self) -> tuple[str, int]:
            return ray.util.get_node_ip_address(), os.getpid()

        def _materialize(self, inputs: dict[str, bytes]) -> dict[str, str]:
            mapping = {}
            for path, data in inputs.items():
                digest = hashlib.sha1(data).hexdigest()
                local = self._files.get(digest)
                if local is None:
                    local = str(self._folder / (digest + Path(path).suffix.lower()))
                    Path(local).write_bytes(data)
                    self._files[digest] = local
                mapping[path] = local
            return mapping

        def render(self, item_id: str, job_data: dict, inputs: dict[str, bytes],
                   previews: PreviewPolicy | None):
            stop = self._stops.setdefault(item_id, threading.Event())  # stop() may come first
            try:
                job = job_from_dict(job_data)
                local = job.with_input_files(self._materialize(inputs))
                keeper = keeper_for(job)
                for event in run_item(item_id, local, stop, previews):
                    if isinstance(event, ItemFinished):  # the paths as the person gave them
                        event = dataclasses.replace(event,
                                                    result=keeper.as_given(event.result, job))
                    yield event
            finally:
                self._stops.pop(item_id, None)

        def stop(self, item_id: str) -> None:
            self._stops.setdefault(item_id, threading.Event()).set()

        def close(self) -> None:
            """Remove the input files: the batch is over (ray.kill runs no clean-up)."""
            self._files.clear()
            shutil.rmtree(self._folder, ignore_errors=True)

    _Worker = RenderWorker
    return _Worker


def _read_inputs(job: Job) -> dict[str, bytes]:
    """The bytes of the files a job reads; a file that cannot be read is left out, so the
    worker reports it as the item's error."""
    out = {}
    for path in job.input_files():
        try:
            out[path] = Path(path).read_bytes()
        except OSError:
            pass
    return out


class RayExecutor:
    """Items on Ray workers, `workers` at a time (default: one per CPU of the cluster)."""

    def __init__(self, address: str | None = "auto", workers: int | None = None,
                 cpus_per_worker: int = 1):
        self.address = address
        self.workers = workers
        self.cpus_per_worker = max(1, int(cpus_per_worker))
        self.name = f"Ray cluster ({address or 'this process'})"

    def run(self, items: Sequence[tuple[str, Job]], stop: threading.Event,
            previews: PreviewPolicy | None = None) -> Iterator[Any]:
        connect(self.address)
        ray = _ray()
        previews = previews or SPARSE
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n = self.workers or max(1, cpus // self.cpus_per_worker)
        n = max(1, min(n, len(items)))
        pending = collections.deque(items)
        attempts: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        out: queue.Queue = queue.Queue()
        running: dict[int, tuple[Any, str]] = {}  # slot -> (actor, item id)
        Worker = _worker_class()

        def new_actor():
            return Worker.options(num_cpus=self.cpus_per_worker).remote(self.cpus_per_worker)

        def retire(actor) -> None:
            try:
                ray.get(actor.close.remote(), timeout=30)
            except Exception:  # a dead worker: the next one on its machine sweeps
                pass
            try:
                ray.kill(actor)
            except Exception:
                pass

        def slot(k: int) -> None:
            actor = new_actor()
            try:
                while not stop.is_set():
                    with lock:
                        if not pending:
                            return
                        item_id, job = pending.popleft()
                    attempts[item_id] += 1
                    try:
                        node, pid = ray.get(actor.where.remote())
                        running[k] = (actor, item_id)
                        out.put(ItemStarted(item_id, f"ray {node} pid {pid}", pid))
                        gen = actor.render.remote(item_id, job.to_dict(), _read_inputs(job),
                                                  previews)
                        for ref in gen:
                            out.put(ray.get(ref))
                    except ray.exceptions.RayTaskError as e:  # a bug in the worker's code
                        out.put(ItemFinished(item_id, None, f"the worker failed: {e}"))
                    except ray.exceptions.RayError as e:  # the worker died
                        reason = type(e).__name__
                        log.warning("Ray worker died on item %s (%s)", item_id, reason)
                        if attempts[item_id] >= MAX_ATTEMPTS:
                            out.put(ItemFinished(item_id, None, f"its worker died "
                                                 f"{MAX_ATTEMPTS} times ({reason})"))
                        else:
                            out.put(ItemRequeued(item_id, f"the worker died ({reason})"))
                            with lock:
                                pending.appendleft((item_id, job))
                        retire(actor)
                        actor = new_actor()
                    finally:
                        running.pop(k, None)
            except Exception as e:  # never leave the driver waiting on a dead thread
                log.exception("Ray slot %d failed", k)
                out.put(e)
            finally:
                retire(actor)

        threads = [threading.Thread(target=slot, args=(k,), daemon=True, name=f"ray-slot-{k}")
                   for k in range(n)]
        for t in threads:
            t.start()
        stopped: set[str] = set()  # items already asked to stop
        while any(t.is_alive() for t in threads) or not out.empty():
            if stop.is_set():  # also items that started just as the stop came
                for actor, item_id in list(running.values()):
                    if item_id not in stopped:
                        stopped.add(item_id)
                        actor.stop.remote(item_id)
            try:
                event = out.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(event, Exception):
                raise NSTError(f"the Ray executor failed: {event}")
            yield event
