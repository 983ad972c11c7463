"""Files written safely: in one step (a temporary file beside the target, synced, then renamed
over it, so a crash or a full disk never leaves half a file), never over another file unless
asked, with the permissions a file would get; and an OSError told in words a person
understands.
"""
from __future__ import annotations

import errno
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nst_core.base.errors import OutputExistsError, SettingsError


def os_reason(e: OSError) -> str:
    """An OSError in a few words a person understands."""
    words = {errno.ENAMETOOLONG: "the file name is too long for this file system",
             errno.EROFS: "the disk is read-only", errno.ENOSPC: "the disk is full",
             errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.EDQUOT: "the disk quota is used up", errno.ENOTDIR: "a part of the path "
             "is a file, not a folder", errno.EISDIR: "it is a folder"}
    return words.get(e.errno, e.strerror or str(e))


@contextmanager
def replacing(p: Path, overwrite: bool = True, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside `p` for the block to write the new file to. When the block ends,
    the file takes `p`'s place in one step (replacing a file there only with `overwrite`,
    else OutputExistsError), with the permissions of the file it replaces or, for a new one,
    what the umask gives; when the block fails, the temporary file is removed. A crash or a
    full disk never leaves half a file."""
    mode = _mode_for(p, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:64]}.", suffix=suffix, dir=p.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)  # mkstemp makes it 0600
        put_in_place(tmp, p, overwrite)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mode_for(p: Path, overwrite: bool) -> int:
    """The permissions a file written at `p` gets: those of the file it replaces, else what the
    umask gives a new file (mkstemp's temporary files are 0600)."""
    try:
        return p.stat().st_mode & 0o7777 if overwrite and p.is_file() else 0o666 & ~_umask()
    except OSError:
        return 0o666 & ~_umask()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` in one step (a temporary file beside it, synced, then renamed
    over it): a crash or a full disk never leaves half a file, and a file it replaces keeps
    its permissions."""
    with replacing(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def put_in_place(tmp: str | os.PathLike, p: Path, overwrite: bool) -> None:
    """Move a finished temporary file onto `p` in one step: replacing it with `overwrite`,
    else only if nothing is there (OutputExistsError)."""
    if overwrite:
        os.replace(tmp, p)
    else:
        _rename_no_clobber(str(tmp), p)


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _umask() -> int:
    """The process's umask: read from /proc on Linux (setting it to read it back, the only
    portable way, could give a file another thread creates at that instant the wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def probe_writable(p: Path) -> None:
    """Raise SettingsError unless a file named like `p` can be made in its folder (the only
    test that holds for read-only disks, full disks and names too long)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:64]}.", suffix=".probe", dir=p.parent)
        os.close(fd)
        os.unlink(tmp)
        if len(os.fsencode(p.name)) > _name_max(p.parent):
            raise OSError(errno.ENAMETOOLONG, "File name too long")
    except OSError as e:
        raise SettingsError("output", f"cannot write {p} ({os_reason(e)}); choose another "
                                      "folder or name") from None


def _rename_no_clobber(tmp: str, p: Path) -> None:
    try:
        os.link(tmp, p)  # atomic, and fails if p appeared meanwhile
    except FileExistsError:
        raise OutputExistsError(f"{p} already exists; choose another name or allow "
                                "overwriting") from None
    except OSError:  # filesystems without hard links
        if p.exists():
            raise OutputExistsError(f"{p} already exists; choose another name or allow "
                                    "overwriting") from None
        os.replace(tmp, p)
        return
    os.unlink(tmp)


def unique_path(path: str | os.PathLike) -> Path:
    """`path` itself if free, else the first free `stem-2.ext`, `stem-3.ext`, ..."""
    p = Path(path)
    n = 2
    while p.exists():
        p = p.with_name(f"{Path(path).stem}-{n}{p.suffix}")
        n += 1
    return p
