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
import shutil
import tempfile
import threading
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


class _OwnerThread:
    """One thread that lives as long as the process and runs `ray.init` for every other
    thread. Ray starts its own processes (the GCS and the raylet of a private cluster) with
    PR_SET_PDEATHSIG, which Linux fires when the *thread* that started them exits, not the
    process (prctl(2)). Called on a run's worker thread (the window's QThread), `ray.init`
    had them killed the moment that run ended, and the next run on Ray hung on a dead cluster.
    """

    def __init__(self) -> None:
        self._calls: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, daemon=True, name="ray-owner").start()

    def _serve(self) -> None:
        while True:
            fn, done = self._calls.get()
            try:
                done.put((True, fn()))
            except BaseException as e:  # handed to the caller, raised there
                done.put((False, e))

    def call(self, fn):
        done: queue.Queue = queue.Queue(maxsize=1)
        self._calls.put((fn, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value


_owner: _OwnerThread | None = None
_owner_lock = threading.Lock()


def _on_a_lasting_thread(fn):
    """`fn()` on the main thread or on the process's Ray owner thread, never on a thread that
    may end before the process does."""
    global _owner
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _owner_lock:
        if _owner is None:
            _owner = _OwnerThread()
    return _owner.call(fn)


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join a cluster: "auto" (the one started on this machine with `ray start`), "local" (a
    private one in this process), an address such as "10.0.0.2:6379"; None uses the Ray this
    process already started. Safe from any thread (see `_OwnerThread`)."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address not in (None, "local", "auto"):
        _probe(address)
    _on_a_lasting_thread(lambda: _init(ray, address, num_cpus))


def _init(ray, address: str | None, num_cpus: int | None) -> None:
    if ray.is_initialized():  # another thread got there first
        return
    try:
        if address in (None, "local"):
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     object_store_memory=256 * 2**20, logging_level=logging.WARNING,
                     configure_logging=False)
        else:
            ray.init(address=address, logging_level=logging.WARNING, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({first}); start one with "
                           "'ray start --head' or give its address") from None


def _probe(address: str) -> None:
    """Fail at once, in one line, when nothing answers at HOST:PORT (Ray itself retries for
    minutes)."""
    import socket

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
