"""The command line: `main.py render` (one picture) and `main.py batch` (many).

    python main.py render                                   # the bundled sample pair
    python main.py render --content photo.jpg --style a.jpg --style b.jpg --blend 0.7,0.3 \\
        -o out.png --size 512 --iters 300
    python main.py render --settings-from out.png -o again.png   # rerun a saved picture
    python main.py batch --content photos/ --style a.jpg --style b.jpg -o out/ --size 256
    python main.py batch --jobs jobs.json -o out/ --ray auto      # on a Ray cluster

Every picture option's default, range and help come from `TransferSettings`. Every result goes
to the history too (the app's data folder), like the window's. Exit codes: 0 done, 1 a run
(or a batch item) failed (the last good image is still saved), 2 bad input (a one-line reason
on stderr), 130 interrupted by Ctrl-C or SIGTERM (the best image so far is saved).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator, Sequence

from nst_core import (NONE, NSTError, OutputExistsError, Progress, SettingsError,
                      TransferSettings)

from . import paths
from .samples import default_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# option name -> settings field, for the options whose names differ from the field's
_RENAMED = {"style": "styles", "blend": "style_blend", "iters": "iterations",
            "lr": "learning_rate"}
_PATH_FIELDS = ("content", "init_image", "weights_path")


def _field_option(name: str) -> str:
    for opt, fld in _RENAMED.items():
        if fld == name:
            return opt
    return name


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")


def _names(text: str) -> tuple[str, ...]:
    return tuple(v for v in text.replace(" ", "").split(",") if v)


def add_settings_options(p: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One option per `TransferSettings` field, with its help, range and default."""
    defaults = TransferSettings()
    for f in fields(TransferSettings):
        if f.name in skip:
            continue
        meta = f.metadata
        opt = "--" + _field_option(f.name).replace("_", "-")
        help_ = meta["help"]
        if meta.get("range") and f.type not in ("tuple[str, ...]",):
            help_ += f" Range {meta['range'][0]:g}..{meta['range'][1]:g}."
        kw: dict[str, Any] = {"help": help_}
        value = getattr(defaults, f.name)
        if f.name == "styles":
            kw.update(action="append", metavar="PATH",
                      help=help_ + " Repeat for several (default: the bundled Starry Night).")
        elif f.type == "bool":
            kw.update(action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                      help=help_ + f" (default: {'on' if value else 'off'})")
        elif f.type.startswith("tuple[str"):
            kw.update(type=_names, metavar="L1,L2",
                      help=help_ + f" (default: {','.join(value)})")
        elif f.type.startswith("tuple[float"):
            kw.update(type=_floats, metavar="W1,W2", help=help_ + " (default: equal)")
        elif meta.get("choices"):
            kw.update(choices=meta["choices"], help=help_ + f" (default: {value})")
        elif f.type == "int":
            kw.update(type=int, metavar="N", help=help_ + f" (default: {value})")
        elif f.type.startswith("float"):
            kw.update(type=float, metavar="X", help=help_ + (
                f" (default: {value:g})" if value is not None else ""))
        else:
            kw.update(metavar="PATH", help=help_ + (" (default: the bundled Tübingen photo)"
                                                    if f.name == "content" else ""))
        p.add_argument(opt, dest=f.name, **kw)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="Replace output files that exist")
    p.add_argument("--settings-from", metavar="FILE", help="Start from the settings embedded "
                   "in a PNG this app saved (or a .json file); other options override them")
    p.add_argument("--no-history", action="store_true", default=False,
                   help=f"Do not add the results to the app's history ({paths.history_dir()})")
    p.add_argument("--json", action="store_true", default=False,
                   help="Print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="No progress bar")
    p.add_argument("-v", "--verbose", action="store_true", default=False,
                   help="Log what the engine does")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py render", argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint a photograph in the style of one or more paintings "
                    "(neural style transfer, Gatys et al.). With no options, renders the "
                    "bundled sample pair.")
    add_settings_options(p)
    p.add_argument("-o", "--output", metavar="PATH", help="Where to save: .png (with the "
                   "settings embedded), .jpg or .webp (default: <content>_<style>.png here)")
    _common_options(p)
    return p


def build_batch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py batch", argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Render every photo with every painting (or each settings object of a "
                    "--jobs file), one output per pair named photo__painting.png. Run it again "
                    "to resume: outputs already complete are skipped.")
    p.add_argument("--content", nargs="+", metavar="PHOTO_OR_DIR", dest="contents",
                   help="Photos, or folders of photos")
    p.add_argument("--style", action="append", nargs="+", metavar="PAINTING_OR_DIR",
                   dest="style_inputs", help="Paintings, or folders of paintings; repeatable")
    p.add_argument("--jobs", metavar="FILE", help="A JSON list of settings objects (missing "
                   "fields take the options given here; \"output\" names a file)")
    p.add_argument("--blend-styles", action="store_true", default=False,
                   help="One picture per photo with all the paintings blended, instead of one "
                        "per painting")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="Folder for the outputs (made if missing)")
    p.add_argument("--ray", metavar="auto|local|ADDRESS", help="Render on a Ray cluster: "
                   "'auto' joins the one started on this machine with 'ray start', an address "
                   "joins that one, 'local' starts a private one here")
    p.add_argument("--workers", type=int, metavar="N", help="Ray workers (default: one per "
                   "CPU of the cluster)")
    add_settings_options(p, skip=("content", "styles"))
    _common_options(p)
    return p


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def settings_from_args(args: argparse.Namespace) -> TransferSettings:
    src = getattr(args, "settings_from", None)
    base = load_settings_file(src) if src else default_settings()
    changes = {f.name: getattr(args, f.name) for f in fields(TransferSettings)
               if hasattr(args, f.name)}
    for key in _PATH_FIELDS:
        if changes.get(key):
            changes[key] = _absolute(changes[key])
    if "styles" in changes:
        changes["styles"] = tuple(_absolute(s) for s in changes["styles"])
    if changes.get("init_image") and "init" not in changes:
        changes["init"] = "image"
    return base.replace(**changes).validate()


def load_settings_file(path: str) -> TransferSettings:
    from .settings_io import read_settings_file

    return read_settings_file(path)


def default_output(settings: TransferSettings) -> Path:
    from nst_core.media.images import unique_path

    name = f"{Path(settings.content).stem[:60]}_{Path(settings.styles[0]).stem[:60]}.png"
    return unique_path(Path.cwd() / name)


def _history(args):
    if args.no_history:
        return None
    from .history import HistoryStore

    return HistoryStore(paths.history_dir())


def _losses_text(p: Progress) -> str:
    return (f"loss {p.losses['total']:.3g} (content {p.losses['content']:.3g}, style "
            f"{p.losses['style']:.3g}, tv {p.losses['tv']:.3g})")


class _Bar:
    """A tqdm progress bar on stderr."""

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

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (or a SIGTERM) sets `stop`, so the run ends within one step and keeps
    its best picture; a second Ctrl-C aborts."""
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


def _setup_logging(args) -> None:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _interruptible(fn):
    """Ctrl-C before the run has started (imports, loading) ends quietly with 130."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            print("Interrupted.", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper


# ---- render --------------------------------------------------------------------------------
@_interruptible
def main(argv: Sequence[str] | None = None) -> int:
    """`main.py render`."""
    args = build_parser().parse_args(argv)
    _setup_logging(args)
    from nst_core.media.images import check_output, os_reason, save_image
    from nst_core.kinds.still import StillJob

    from .runs import Finished, run_and_record

    stop = threading.Event()
    try:
        settings = settings_from_args(args)
        out = Path(args.output).expanduser().absolute() if getattr(args, "output", None) \
            else default_output(settings)
        check_output(out, args.overwrite)  # before the run, not after it
        events = run_and_record(StillJob(settings), _history(args), "cli", NONE, stop)
        with stop_on_signals(stop):
            first = next(events)  # prepares: bad input fails here, before any work
    except NSTError as e:
        _error(f"{e}{' (--overwrite)' if isinstance(e, OutputExistsError) else ''}")
        return EXIT_BAD_INPUT
    except OSError as e:  # a path the file system refuses, found outside the engine's checks
        _error(f"{e.filename or ''}: {os_reason(e)}".lstrip(": "))
        return EXIT_BAD_INPUT

    bar = _Bar(settings.iterations, enabled=not args.quiet)
    finished: Finished | None = None
    with stop_on_signals(stop):
        try:
            for event in _chain(first, events):
                if isinstance(event, Progress):
                    w, h = event.size
                    left = f"{event.eta:.0f}s left" if event.eta is not None else ""
                    bar.show(event.iteration, f"scale {event.scale + 1}/{event.scales} {w}x{h} "
                             f"| {_losses_text(event)} | {left}", total=event.total)
                elif isinstance(event, Finished):
                    finished = event
        finally:
            bar.close()
    assert finished is not None
    result = finished.result
    code = {"done": EXIT_OK, "stopped": EXIT_INTERRUPTED}.get(finished.status, EXIT_FAILED)
    saved = None
    if result is not None:
        try:
            saved = save_image(out, result.image, settings.to_json(), overwrite=args.overwrite)
        except (NSTError, OSError) as e:
            reason = os_reason(e) if isinstance(e, OSError) else str(e)
            rescued = _rescue(result, settings, out, finished)
            _error(f"cannot write {_printable(out)} ({reason}); the picture is kept in "
                   f"{_printable(rescued)}" if rescued else
                   f"cannot write {_printable(out)} ({reason}), nor anywhere else")
            code = EXIT_FAILED
    if finished.message:
        _error(finished.message)
    if finished.history_error:
        print(f"warning: {finished.history_error}", file=sys.stderr)
    _report(args, result, saved, code, finished.message)
    return code


def _rescue(result, settings, out: Path, finished) -> str:
    """Where a picture that could not be saved where asked is kept: its history entry, or a
    file in the app's data folder, or one in the temporary folder. Empty if nowhere."""
    if finished.entry is not None:
        return finished.entry.image_path
    import tempfile

    from nst_core.media.images import save_image, unique_path

    for folder in (paths.data_dir() / "rescued", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = out.stem[:80] + "-rescued.png"
            return str(save_image(unique_path(folder / name), result.image, settings.to_json()))
        except (NSTError, OSError):
            continue
    return ""


def _chain(first, rest):
    yield first
    yield from rest


def _report(args, result, saved: Path | None, code: int, failure: str | None) -> None:
    if args.json:
        summary: dict[str, Any] = {"ok": code == EXIT_OK, "exit_code": code,
                                   "output": str(saved) if saved else None,
                                   "error": failure or None}
        if result is not None:
            summary.update(
                width=int(result.image.shape[1]), height=int(result.image.shape[0]),
                iterations=result.iterations, status=result.status, reason=result.reason,
                stopped=result.stopped, device=result.device,
                seconds={k: round(v, 3) for k, v in result.timings.items()},
                final_losses=result.final_losses or None,
                settings=result.settings.to_dict())
        print(json.dumps(summary, indent=2))
        return
    if result is None or saved is None:
        return
    h, w = result.image.shape[:2]
    what = {"stopped": "Stopped early; saved the best image so far",
            "failed": "Saved the last good image"}.get(result.status, "Saved")
    losses = result.final_losses  # the kept picture's, not the last step's
    print(f"{what} to {_printable(saved)}\n  {w}x{h} px, {result.iterations} iterations on "
          f"{result.device} in {result.timings.get('total', 0):.1f} s"
          + (f", final loss {losses['total']:.4g}" if losses else "")
          + (f" ({result.reason})" if result.reason and result.status == "done" else ""))


def _printable(path: Path | str) -> str:
    """A path as text that any terminal encoding can print (undecodable bytes escaped)."""
    text = str(path)
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(enc, "backslashreplace").decode(enc, "replace")


# ---- batch ---------------------------------------------------------------------------------
@_interruptible
def batch_main(argv: Sequence[str] | None = None) -> int:
    """`main.py batch`."""
    args = build_batch_parser().parse_args(argv)
    _setup_logging(args)
    from .batch import (BatchQueue, ItemDone, QueueDone, expand_images, items_from_jobs_file,
                        plan_items, run_queue)
    from .executors import ItemEvent, ItemRequeued, ItemStarted, LocalExecutor

    stop = threading.Event()
    try:
        outdir = Path(args.output).expanduser().absolute()
        if outdir.exists() and not outdir.is_dir():
            raise SettingsError("output", f"{outdir} is a file; give a folder")
        base = settings_from_args(args)
        if getattr(args, "jobs", None):
            items = items_from_jobs_file(args.jobs, outdir, base)
        else:
            contents = expand_images(getattr(args, "contents", []) or [])
            styles = expand_images([s for group in getattr(args, "style_inputs", []) or []
                                    for s in group])
            if not contents:
                raise SettingsError("content", "give photos or folders of photos (--content), "
                                    "or a --jobs file")
            if not styles:
                raise SettingsError("style", "give paintings or folders of paintings (--style)")
            items = plan_items(contents, styles, outdir, base, blend=args.blend_styles)
        outdir.mkdir(parents=True, exist_ok=True)
        if getattr(args, "ray", None):
            from .ray_executor import RayExecutor, connect

            connect(args.ray)
            executor = RayExecutor(args.ray, getattr(args, "workers", None))
        else:
            executor = LocalExecutor()
    except NSTError as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    except OSError as e:
        _error(f"cannot make the output folder {args.output}: {e.strerror or e}")
        return EXIT_BAD_INPUT

    q = BatchQueue()
    q.add(items)
    titles = {it.id: it.title for it in items}
    outcomes: list[ItemDone] = []
    summary: QueueDone | None = None
    bar = _Bar(len(items), enabled=not args.quiet, unit="pic")
    current: dict[str, float] = {}
    with stop_on_signals(stop):
        try:
            for event in run_queue(q, executor, _history(args), stop, args.overwrite, NONE):
                if isinstance(event, ItemStarted):
                    current[event.item_id] = 0.0
                elif isinstance(event, ItemEvent) and isinstance(event.event, Progress):
                    p = event.event
                    current[event.item_id] = p.iteration / max(1, p.total)
                    bar.show(len(outcomes) + sum(current.values()),
                             f"{titles[event.item_id]}: {p.iteration}/{p.total} it")
                elif isinstance(event, ItemRequeued):
                    current.pop(event.item_id, None)
                    print(f"\nrequeued {titles[event.item_id]}: {event.reason}", file=sys.stderr)
                elif isinstance(event, ItemDone):
                    current.pop(event.item_id, None)
                    outcomes.append(event)
                    bar.show(len(outcomes) + sum(current.values()),
                             f"{titles[event.item_id]}: {event.state}")
                elif isinstance(event, QueueDone):
                    summary = event
        except NSTError as e:  # the executor itself failed (a cluster lost on the way)
            bar.close()
            _error(str(e))
            return EXIT_FAILED
        bar.close()
    assert summary is not None
    failed = [o for o in outcomes if o.state == "failed"]
    code = EXIT_FAILED if failed else EXIT_INTERRUPTED if stop.is_set() else EXIT_OK
    if args.json:
        print(json.dumps({
            "ok": code == EXIT_OK, "exit_code": code, "executor": executor.name,
            "seconds": round(summary.seconds, 3), "remaining": summary.remaining,
            "items": [{"title": titles[o.item_id], "state": o.state, "output": o.output,
                       "error": o.error or None, "seconds": round(o.seconds, 3)}
                      for o in outcomes]}, indent=2))
        return code
    print(f"{len(items)} pictures on {executor.name} in {summary.seconds:.1f} s: "
          f"{summary.done} done, {summary.skipped} skipped (already complete), "
          f"{summary.failed} failed" + (f", {summary.stopped} stopped" if summary.stopped else "")
          + (f", {summary.remaining} not started" if summary.remaining else ""))
    for o in outcomes:
        if o.state == "failed":
            print(f"  failed: {titles[o.item_id]}: {o.error}", file=sys.stderr)
        elif o.state == "stopped":
            print(f"  stopped: {titles[o.item_id]}: best so far in {_printable(o.output)}")
    if stop.is_set():
        print("Stopped; run the same command again to resume.")
    return code


if __name__ == "__main__":
    sys.exit(main())
