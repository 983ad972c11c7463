"""What every verb of the command line shares: the table of verbs, options made from a settings
dataclass, the common flags, the progress bar, Ctrl-C, exit codes and the JSON summary.

Exit codes, the same for every verb: 0 done, 1 a run (or an item) failed (what was made is
kept), 2 bad input (one line on stderr, nothing done), 130 stopped by Ctrl-C or SIGTERM (the
best so far is kept; the same command continues where it can).
"""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import paths

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

#: verb -> "module:function" of nst_app; main.py and the installed scripts both read it
VERBS = {"render": "cli:main", "batch": "cli:batch_main", "train": "instant_cli:train_main",
         "apply": "instant_cli:apply_main", "video": "video_cli:video_main"}


def verb(name: str) -> Callable[[Sequence[str] | None], int]:
    module, function = VERBS[name].split(":")
    return getattr(importlib.import_module(f"nst_app.{module}"), function)


def exit_code(status: str) -> int:
    """A run's status as the exit code every verb uses."""
    return {"done": EXIT_OK, "stopped": EXIT_INTERRUPTED}.get(status, EXIT_FAILED)


# ---- options ---------------------------------------------------------------------------------
def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")


def _names(text: str) -> tuple[str, ...]:
    return tuple(v for v in text.replace(" ", "").split(",") if v)


def dataclass_options(p: argparse.ArgumentParser, cls: type, skip: Sequence[str] = (),
                      renamed: dict[str, str] | None = None,
                      extra_help: dict[str, str] | None = None) -> None:
    """One option per field of a settings dataclass, with the field's help, range, choices
    and default (`renamed`: field -> option name; `extra_help`: field -> words added). Options
    not given stay off the namespace (`argparse.SUPPRESS`), so the settings' own defaults and
    a `--settings-from` file apply."""
    defaults, renamed, extra_help = cls(), renamed or {}, extra_help or {}
    for f in fields(cls):
        if f.name in skip:
            continue
        meta, value = f.metadata, getattr(defaults, f.name)
        opt = "--" + renamed.get(f.name, f.name).replace("_", "-")
        help_ = meta["help"] + extra_help.get(f.name, "")
        if meta.get("range") and f.type not in ("tuple[str, ...]",):
            help_ += f" Range {meta['range'][0]:g}..{meta['range'][1]:g}."
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if f.type == "bool":
            kw.update(action=argparse.BooleanOptionalAction,
                      help=f"{help_} (default: {'on' if value else 'off'})")
        elif f.type.startswith("tuple[str"):
            kw.update(type=_names, metavar="A,B", help=f"{help_} (default: {','.join(value)})")
        elif f.type.startswith("tuple[float"):
            kw.update(type=_floats, metavar="W1,W2", help=f"{help_} (default: equal)")
        elif meta.get("choices"):
            kw.update(choices=meta["choices"], help=f"{help_} (default: {value})")
        elif f.type == "int":
            kw.update(type=int, metavar="N", help=f"{help_} (default: {value})")
        elif f.type.startswith("float"):
            kw.update(type=float, metavar="X",
                      help=f"{help_} (default: {value:g})" if value is not None else help_)
        else:
            kw.update(metavar="PATH", help=help_ if value == "" else f"{help_} (default: {value})")
        p.add_argument(opt, **kw)


def given(args: argparse.Namespace, cls: type, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The fields of `cls` the person gave on the command line."""
    return {f.name: vars(args)[f.name] for f in fields(cls)
            if f.name in vars(args) and f.name not in skip}


def common_flags(p: argparse.ArgumentParser, history: bool = True,
                 overwrite: str = "Replace output files that exist") -> None:
    """The flags every verb has: --overwrite, --no-history, --json, -q, -v."""
    p.add_argument("--overwrite", action="store_true", default=False, help=overwrite)
    if history:
        p.add_argument("--no-history", action="store_true", default=False,
                       help=f"Do not add the results to the app's history ({paths.history_dir()})")
    p.add_argument("--json", action="store_true", default=False,
                   help="Print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="No progress bar")
    p.add_argument("-v", "--verbose", action="store_true", default=False,
                   help="Log what the engine does")


def absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def history_for(args: argparse.Namespace):
    """The app's history, unless --no-history."""
    if args.no_history:
        return None
    from .history import HistoryStore

    return HistoryStore(paths.history_dir())


def record_in_history(history, result, job) -> None:
    """Add what `job` made to the history (None: --no-history), as its kind's keeper says; a
    warning on stderr when it cannot be."""
    from .runs import record

    _, problem = record(history, result, "cli", job)
    if problem:
        warn(problem)


# ---- running ---------------------------------------------------------------------------------
class Bar:
    """A tqdm progress bar on stderr (nothing with -q)."""

    def __init__(self, total: float, enabled: bool, unit: str = "it"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=sys.stderr, unit=unit, dynamic_ncols=True,
                            bar_format="{percentage:3.0f}%|{bar}| {n:.4g}/{total_fmt} "
                                       "[{elapsed}<{remaining}] {desc}")

    def show(self, n: float, text: str, total: float | None = None) -> None:
        if self.bar is None:
            return
        if total is not None:
            self.bar.total = total
        self.bar.set_description_str(text, refresh=False)
        self.bar.n = n
        self.bar.refresh()

    def note(self, text: str) -> None:
        """A line above the bar (nothing with -q)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def time_left(eta: float | None) -> str:
    if eta is None:
        return ""
    if eta >= 3600:  # a print-size picture
        return f"{eta // 3600:.0f} h {eta % 3600 // 60:02.0f} min left"
    return f"{eta:.0f}s left"


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (or a SIGTERM) sets `stop`, so the run ends within one step and keeps
    its best so far; a second Ctrl-C aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, previous[signal.SIGINT])  # a second Ctrl-C aborts

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def setup_logging(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def printable(path: Path | str) -> str:
    """A path as text that any terminal encoding can print (undecodable bytes escaped)."""
    text = str(path)
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(enc, "backslashreplace").decode(enc, "replace")


def report_json(code: int, **fields_: Any) -> None:
    """The summary every verb prints with --json: ok and exit_code first, then its own."""
    print(json.dumps({"ok": code == EXIT_OK, "exit_code": code, **fields_}, indent=2))


def interruptible(fn):
    """Ctrl-C before the run has started (imports, loading) ends quietly with 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            print("Interrupted.", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper
