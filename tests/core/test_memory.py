"""Freed memory kept for reuse while a CPU run computes, and given back when it ends
(nst_core.runtime.memory). The allocator is process-wide, so its effects are measured in a fresh
process each time."""
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from nst_core import SettingsError, StillJob, TransferSettings, Tuning
from nst_core.runtime import memory
from nst_core.runtime.devices import estimate_memory

ROOT = Path(__file__).resolve().parents[2]
glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the allocator switch exists only with glibc")

_PROBE = r"""
import json, resource, threading, torch
from nst_core.runtime import memory
def faults_of_one_block():  # allocate, touch and free 64 MB: the page faults it took
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(16 * 2**20)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

base = rss_mb()
default = [faults_of_one_block() for _ in range(3)]
kept = memory.keep_freed_memory()
reused = [faults_of_one_block() for _ in range(12)]
on_a_thread = []  # a run on a worker thread started afterwards (the window's, a Ray actor's)
worker = threading.Thread(target=lambda: on_a_thread.extend(faults_of_one_block()
                                                            for _ in range(16)))
worker.start()
worker.join()
blocks = [torch.ones(16 * 2**20) for _ in range(8)]  # 512 MB
del blocks
held = rss_mb()  # every block is freed by now
memory.release()
print(json.dumps({"default": default, "kept": kept, "reused": reused,
                  "on_a_thread": on_a_thread, "base": base,
                  "held": held, "released": rss_mb()}))
"""


@pytest.fixture(scope="module")
def probe():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_a_freed_block_is_reused_without_page_faults(probe):
    # glibc's default: a 64 MB block is a fresh mapping each time, 16384 pages of 4 kB.
    assert min(probe["default"]) >= 16000
    assert probe["kept"] is True
    # Kept: once the heap has grown to hold it (a few rounds: each block asks for a little
    # more than it takes, for its alignment), the block comes back already in memory.
    assert max(probe["reused"][-4:]) < 500
    # ... and on a thread started later too, which shares the main heap.
    assert max(probe["on_a_thread"][-4:]) < 500


@glibc_only
def test_release_gives_the_kept_memory_back(probe):
    assert probe["held"] - probe["base"] >= 400  # all freed, but kept
    assert probe["held"] - probe["released"] >= 400


def test_released_after_releases_however_the_events_end(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "release", lambda: calls.append(1))

    @memory.released_after
    def events(n, fail=False):
        for i in range(n):
            yield i
        if fail:
            raise RuntimeError("boom")
        return "result"

    gen = events(3)
    assert list(gen) == [0, 1, 2] and calls == [1]

    def drain(g):
        return (yield from g)

    outer = drain(events(1))
    next(outer)
    with pytest.raises(StopIteration) as stop:
        next(outer)
    assert stop.value.value == "result" and calls == [1, 1]

    gen = events(5)
    next(gen)
    gen.close()  # a consumer that stops draining
    assert calls == [1, 1, 1]

    with pytest.raises(RuntimeError, match="boom"):
        list(events(1, fail=True))
    assert calls == [1, 1, 1, 1]


def test_a_cpu_still_run_keeps_freed_memory_and_gives_it_back(tiny_settings, monkeypatch):
    kept, released = [], []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: kept.append(1) or True)
    monkeypatch.setattr(memory, "release", lambda: released.append(1))
    s = tiny_settings.replace(iterations=2, multiscale=False)
    run = StillJob(s, Tuning()).prepare()
    events = run.events()
    next(events)
    assert kept == [1] and released == []  # kept while it runs
    for _ in events:
        pass
    assert released == [1] and run.result.status == "done"
    # Switched off in the tuning (the benchmarks' old default): not kept.
    StillJob(s, Tuning(keep_freed_memory=False)).prepare().run()
    assert kept == [1]


def test_the_switch_is_tuning_data():
    assert Tuning().keep_freed_memory is True
    off = Tuning(keep_freed_memory=False)
    assert Tuning.from_dict(off.to_dict()) == off
    with pytest.raises(SettingsError):
        Tuning.from_dict({"keep_freed_memory": 1})


def test_the_memory_estimate_allows_for_the_kept_heap():
    s = TransferSettings(content="a.png", styles=("b.png",), content_layers=("relu1_1",),
                         style_layers=("relu1_1",))
    f32 = Tuning().with_precision("cpu", "float32")
    on = estimate_memory(s, (64, 32), "cpu", f32)
    off = estimate_memory(s, (64, 32), "cpu", f32.replace(keep_freed_memory=False))
    # the image, conv1_1 and relu1_1 at 64x32 in float32; half of it is the heap's slack
    activations = 4 * (3 * 64 * 32 + 64 * 64 * 32 + 64 * 64 * 32)
    assert on - off == (activations // 2 if memory.supported() else 0)
    # the GPU's memory is not the heap's
    assert estimate_memory(s, (64, 32), "cuda", f32) == \
        estimate_memory(s, (64, 32), "cuda", f32.replace(keep_freed_memory=False))
