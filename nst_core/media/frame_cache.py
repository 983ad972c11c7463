"""The folder that keeps a video render's finished frames beside its output, so that a stopped
render continues where it stopped: its layout (one PNG per frame, numbered from 0, and the
job's manifest), and the threads that write and read the frames while the next one is painted.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nst_core.base.errors import OtherRenderKeptError, OutputExistsError, RunFailedError
from nst_core.media.files import _umask, os_reason, write_atomic
from nst_core.media.images import load_image, png_bytes, resize

CACHE_SUFFIX = ".frames"
MANIFEST = "job.json"


def cache_dir(output: str | os.PathLike) -> Path:
    """The folder of finished frames beside an output."""
    p = Path(output)
    return p.with_name(p.name + CACHE_SUFFIX)


def frame_path(cache: Path, i: int) -> Path:
    """The kept frame `i` (0-based among the render's frames)."""
    return cache / f"{i:06d}.png"


def lead_path(cache: Path, i: int) -> Path:
    """Frame `i` as a chunk's lead-in painted it (a render shared between workers keeps it to
    cross-fade with the chunk before)."""
    return cache / f"lead_{i:06d}.png"


def kept_frames(cache: Path) -> list[Path]:
    """The frames kept in a cache, in order."""
    return sorted(cache.glob("[0-9]*.png"))


class FrameWriter:
    """Writes the finished frames to the cache in background threads: PNG-encoding and syncing
    a 1080p frame takes longer than repainting it on a GPU (about 0.3 s against 0.02 s,
    benchmarks/RESULTS.md), so the next frame is painted meanwhile. At most twice as many
    frames as threads are outstanding; a write's error (a full disk) is raised by the next
    `submit` or by `flush`, and `close` finishes what was handed over."""

    def __init__(self, save: Callable[[int, np.ndarray], None], workers: int | None = None):
        self._save = save
        self._workers = workers or self.workers()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="nst-frame-writer")
        self._pending: deque[Future] = deque()

    @staticmethod
    def workers() -> int:
        return max(1, min(4, os.cpu_count() or 1))

    def submit(self, index: int, rgb: np.ndarray) -> None:
        self._collect(2 * self._workers - 1)
        self._pending.append(self._pool.submit(self._save, index, rgb))

    def flush(self) -> None:
        """Wait for every frame handed over; raise the first write's error."""
        self._collect(0)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _collect(self, outstanding: int) -> None:
        """Take the finished writes (raising a failed one's error), waiting, oldest first,
        until at most `outstanding` remain."""
        while self._pending and (len(self._pending) > outstanding or self._pending[0].done()):
            self._pending.popleft().result()


def read_ahead(load: Callable[[int], np.ndarray], count: int,
                workers: int) -> Iterator[np.ndarray]:
    """load(0), load(1), ... load(count - 1) in order, each started up to twice `workers`
    items ahead in background threads."""
    with ThreadPoolExecutor(workers, thread_name_prefix="nst-frame-reader") as pool:
        ahead: deque[Future] = deque()
        for i in range(count):
            ahead.append(pool.submit(load, i))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False


def _intact(p: Path) -> bool:
    """Whether a kept frame reads back whole (PNG's checksums; no pixels decoded)."""
    try:
        with Image.open(p) as im:
            im.verify()
        return True
    except Exception:  # PIL raises many kinds for a damaged file
        return False


class FrameCache:
    """The finished frames of one render (of `size`, width by height) beside its `output`,
    with the manifest (`identity`: what the frames depend on) that tells a later run of the
    same render from another's."""

    def __init__(self, output: Path, size: tuple[int, int], identity: dict[str, Any]):
        self.folder = cache_dir(output)
        self.size = size
        self.identity = identity
        self._stale = False
        #: the first kept frame that did not read back whole (painted again), or None
        self.damaged: int | None = None

    def kept(self, planned: int, overwrite: bool) -> int:
        """How many frames, from the first, an earlier run of this render finished and kept
        whole. Frames of another render are refused, or with `overwrite` dropped when the work
        starts (`open`): nothing is written here. A kept frame that does not read back whole
        is painted again, and so is every frame after it."""
        self._stale, self.damaged = False, None
        if not self.folder.exists():
            return 0
        try:
            same = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8")) \
                == self.identity
        except (OSError, ValueError):
            same = False
        if not same:
            if not overwrite:
                raise OtherRenderKeptError(
                    f"{self.folder} holds the frames of an unfinished render with other "
                    "settings; run that render again to finish it, or allow overwriting to "
                    "start afresh")
            self._stale = True
            return 0
        done = 0
        while done < planned and frame_path(self.folder, done).is_file():
            if not _intact(frame_path(self.folder, done)):
                self.damaged = done
                break
            done += 1
        return done

    def open(self) -> None:
        """Make the folder (with the manifest) before the first frame is kept."""
        if self._stale:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._stale = False
        try:
            self.folder.mkdir(exist_ok=True)
            manifest = self.folder / MANIFEST
            if not manifest.exists():
                write_atomic(manifest, json.dumps(self.identity).encode())
        except OSError as e:
            raise RunFailedError(f"Cannot keep the frames in {self.folder} ({os_reason(e)}); "
                                 "choose another folder for the output.") from None

    def load(self, i: int) -> np.ndarray:
        img = load_image(frame_path(self.folder, i))
        return img.rgb if (img.rgb.shape[1], img.rgb.shape[0]) == self.size \
            else resize(img.rgb, self.size)

    def save(self, i: int, rgb: np.ndarray) -> None:
        write_atomic(frame_path(self.folder, i), png_bytes(rgb))

    def read_back(self, count: int) -> Iterator[np.ndarray]:
        """The first `count` frames in order, decoded a few ahead in background threads."""
        return read_ahead(self.load, count, FrameWriter.workers())

    def write_folder(self, out: Path, count: int, overwrite: bool) -> Path:
        """The first `count` frames as a folder of PNG frames (`frame_000001.png` ...), made
        beside `out` and put in place when complete."""
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:64]}.", dir=out.parent))
        try:
            for i in range(count):
                src, dst = frame_path(self.folder, i), tmp / f"frame_{i + 1:06d}.png"
                os.link(src, dst) if same_device(tmp, self.folder) else shutil.copyfile(src, dst)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
            if out.exists():
                if not overwrite and not (out.is_dir() and not any(out.iterdir())):
                    raise OutputExistsError(f"{out} already exists; choose another name or "
                                            "allow overwriting")
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.rename(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
