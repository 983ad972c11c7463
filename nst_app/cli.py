"""The command line: `main.py render` (one picture) and `main.py batch` (many).

    python main.py render                                   # the bundled sample pair
    python main.py render --content photo.jpg --style a.jpg --style b.jpg --blend 0.7,0.3 \\
        -o out.png --size 512 --iters 300
    python main.py render --settings-from out.png -o again.png   # rerun a saved picture
    python main.py batch --content photos/ --style a.jpg --style b.jpg -o out/ --size 256
    python main.py batch --jobs jobs.json -o out/ --ray auto      # on a Ray cluster

Every picture option's default, range and help come from `TransferSettings`. Every result goes
to the history too (the app's data folder), like the window's. Exit codes as for every verb
(nst_app.command): 0 done, 1 a run (or a batch item) failed (the last good image is still
saved), 2 bad input (a one-line reason on stderr), 130 interrupted by Ctrl-C or SIGTERM (the best
image so far is saved).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from nst_core import (NONE, Note, NSTError, OutputExistsError, Progress, SettingsError,
                      TransferSettings, Tuning)

from . import paths
from .command import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Bar, absolute,
                      common_flags, error, exit_code, given, history_for, interruptible,
                      printable, report_json, setup_logging, stop_on_signals, time_left, warn)
from .picture_options import add_settings_options, paintings_given
from .samples import default_settings

_PATH_FIELDS = ("content", "init_image", "weights_path")


def _common_options(p: argparse.ArgumentParser) -> None:
    common_flags(p)
    p.add_argument("--settings-from", metavar="FILE", help="Start from the settings embedded "
                   "in a PNG this app saved (or a .json file); other options override them")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py render", argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint a photograph in the style of one or more paintings "
                    "(neural style transfer, Gatys et al.). With no options, renders the "
                    "bundled sample pair.")
    add_settings_options(p)
    p.add_argument("-o", "--output", metavar="PATH", help="Where to save: .png (with the "
                   "settings embedded), .jpg, .webp or .tiff (16-bit, for print) (default: "
                   "<content>_<style>.png here)")
    p.add_argument("--checkpoint-every", type=float, metavar="SECONDS", default=120.0,
                   help="Keep the render's checkpoint beside the output (.<name>.checkpoint) "
                   "this often and when stopped, so that the same command continues after a "
                   "crash, a restart or Ctrl-C; 0: keep none")
    _common_options(p)
    return p


def checkpoint_for(out: Path) -> Path:
    """Where a render to `out` keeps its checkpoint: beside it, hidden."""
    return out.with_name(f".{out.name}.checkpoint")


def _continues(out: Path, settings: TransferSettings) -> bool:
    """Whether `out` is this very render's picture, saved when it stopped, with its checkpoint
    beside it: the same command continues and replaces it (it clobbers nothing of anyone's)."""
    from nst_core.painting.checkpoint import unfinished

    kept = unfinished(checkpoint_for(out))
    if kept is None or not out.is_file():
        return False
    try:
        from nst_core.media.images import read_settings_json

        text = read_settings_json(out)
    except NSTError:
        return False
    return text is not None and TransferSettings.from_json(text) == kept[0] == settings


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


def settings_from_args(args: argparse.Namespace) -> TransferSettings:
    src = vars(args).get("settings_from")
    base = load_settings_file(src) if src else default_settings()
    changes = given(args, TransferSettings)
    for key in _PATH_FIELDS:
        if changes.get(key):
            changes[key] = absolute(changes[key])
    paintings_given(changes)
    if changes.get("init_image") and "init" not in changes:
        changes["init"] = "image"
    return base.replace(**changes).validate()


def load_settings_file(path: str) -> TransferSettings:
    from .settings_io import read_settings_file

    return read_settings_file(path)


def default_output(settings: TransferSettings) -> Path:
    from nst_core.media.files import unique_path

    name = f"{Path(settings.content).stem[:60]}_{Path(settings.styles[0]).stem[:60]}.png"
    return unique_path(Path.cwd() / name)


def _losses_text(p: Progress) -> str:
    return (f"loss {p.losses['total']:.3g} (content {p.losses['content']:.3g}, style "
            f"{p.losses['style']:.3g}, tv {p.losses['tv']:.3g})")


# ---- render --------------------------------------------------------------------------------
@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    """`main.py render`."""
    args = build_parser().parse_args(argv)
    setup_logging(args)
    from nst_core.media.files import os_reason
    from nst_core.media.images import check_output, save_image
    from nst_core.kinds.still import StillJob

    from .runs import Finished, run_and_record

    stop = threading.Event()
    try:
        settings = settings_from_args(args)
        out = Path(absolute(args.output)) if vars(args).get("output") \
            else default_output(settings)
        overwrite = args.overwrite or _continues(out, settings)
        check_output(out, overwrite)  # before the run, not after it
        every = float(args.checkpoint_every)
        if every < 0:
            raise SettingsError("checkpoint-every", "give 0 (no checkpoint) or more seconds")
        checkpoint = str(checkpoint_for(out)) if every > 0 else ""
        job = StillJob(settings, dataclasses.replace(Tuning(), checkpoint_every=every)
                       if checkpoint else Tuning(), checkpoint)
        events = run_and_record(job, history_for(args), "cli", NONE, stop)
        with stop_on_signals(stop):
            first = next(events)  # prepares: bad input fails here, before any work
    except NSTError as e:
        error(f"{e}{' (--overwrite)' if isinstance(e, OutputExistsError) else ''}")
        return EXIT_BAD_INPUT
    except OSError as e:  # a path the file system refuses, found outside the engine's checks
        error(f"{e.filename or ''}: {os_reason(e)}".lstrip(": "))
        return EXIT_BAD_INPUT

    bar = Bar(settings.iterations, enabled=not args.quiet)
    finished: Finished | None = None
    with stop_on_signals(stop):
        try:
            for event in _chain(first, events):
                if isinstance(event, Progress):
                    w, h = event.size
                    bar.show(event.iteration, f"scale {event.scale + 1}/{event.scales} {w}x{h} "
                             f"| {_losses_text(event)} | {time_left(event.eta)}",
                             total=event.total)
                elif isinstance(event, Note):
                    bar.note(event.text)
                elif isinstance(event, Finished):
                    finished = event
        finally:
            bar.close()
    assert finished is not None
    result = finished.result
    code = exit_code(finished.status)
    saved = None
    if result is not None:
        try:
            saved = save_image(out, result.image, settings.to_json(), overwrite=overwrite,
                               alpha=result.alpha, deep=result.deep)
        except (NSTError, OSError) as e:
            reason = os_reason(e) if isinstance(e, OSError) else str(e)
            rescued = _rescue(result, settings, out, finished)
            error(f"cannot write {printable(out)} ({reason}); the picture is kept in "
                   f"{printable(rescued)}" if rescued else
                   f"cannot write {printable(out)} ({reason}), nor anywhere else")
            code = EXIT_FAILED
    if finished.message:
        error(finished.message)
    if finished.history_error:
        warn(finished.history_error)
    _report(args, result, saved, code, finished.message)
    if finished.status != "done" and checkpoint and Path(checkpoint).is_file() \
            and not args.quiet:
        print("The render's checkpoint is kept: run the same command again to continue it.",
              file=sys.stderr)
    return code


def _rescue(result, settings, out: Path, finished) -> str:
    """Where a picture that could not be saved where asked is kept: its history entry, or a
    file in the app's data folder, or one in the temporary folder. Empty if nowhere."""
    if finished.entry is not None:
        return finished.entry.image_path
    import tempfile

    from nst_core.media.files import unique_path
    from nst_core.media.images import save_image

    for folder in (paths.data_dir() / "rescued", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = out.stem[:80] + "-rescued.png"
            return str(save_image(unique_path(folder / name), result.image, settings.to_json(),
                                  alpha=result.alpha))
        except (NSTError, OSError):
            continue
    return ""


def _chain(first, rest):
    yield first
    yield from rest


def _report(args, result, saved: Path | None, code: int, failure: str | None) -> None:
    if args.json:
        summary: dict[str, Any] = {"output": str(saved) if saved else None,
                                   "error": failure or None}
        if result is not None:
            summary.update(
                width=int(result.image.shape[1]), height=int(result.image.shape[0]),
                iterations=result.iterations, status=result.status, reason=result.reason,
                stopped=result.stopped, device=result.device,
                seconds={k: round(v, 3) for k, v in result.timings.items()},
                final_losses=result.final_losses or None,
                settings=result.settings.to_dict())
        report_json(code, **summary)
        return
    if result is None or saved is None:
        return
    h, w = result.image.shape[:2]
    what = {"stopped": "Stopped early; saved the best image so far",
            "failed": "Saved the last good image"}.get(result.status, "Saved")
    losses = result.final_losses  # the kept picture's, not the last step's
    print(f"{what} to {printable(saved)}\n  {w}x{h} px, {result.iterations} iterations on "
          f"{result.device} in {result.timings.get('total', 0):.1f} s"
          + (f", final loss {losses['total']:.4g}" if losses else "")
          + (f" ({result.reason})" if result.reason and result.status == "done" else ""))


# ---- batch ---------------------------------------------------------------------------------
@interruptible
def batch_main(argv: Sequence[str] | None = None) -> int:
    """`main.py batch`."""
    args = build_batch_parser().parse_args(argv)
    setup_logging(args)
    from .batch import (IMAGE_SUFFIXES, BatchQueue, ItemDone, QueueDone, expand_images,
                        items_from_jobs_file, not_outputs, plan_items, run_queue)
    from .executors import ItemEvent, ItemRequeued, ItemStarted, LocalExecutor

    stop = threading.Event()
    try:
        outdir = Path(args.output).expanduser().absolute()
        if outdir.exists() and not outdir.is_dir():
            raise SettingsError("output", f"{outdir} is a file; give a folder")
        if not outdir.exists() and outdir.suffix.lower() in IMAGE_SUFFIXES:
            raise SettingsError("output", f"{outdir.name} names a picture, but a batch writes "
                                "into a folder; give one")
        base = settings_from_args(args)
        if vars(args).get("jobs"):
            items = items_from_jobs_file(args.jobs, outdir, base)
        else:
            styles = expand_images([s for group in vars(args).get("style_inputs") or []
                                    for s in group])
            paintings = [Path(s).stem[:60] for s in styles]
            if args.blend_styles:
                paintings.append("+".join(paintings)[:120])
            contents = not_outputs(expand_images(vars(args).get("contents") or []), paintings)
            if not contents:
                raise SettingsError("content", "give photos or folders of photos (--content), "
                                    "or a --jobs file")
            if not styles:
                raise SettingsError("style", "give paintings or folders of paintings (--style)")
            items = plan_items(contents, styles, outdir, base, blend=args.blend_styles)
        outdir.mkdir(parents=True, exist_ok=True)
        if vars(args).get("ray"):
            from .ray_executor import RayExecutor, connect

            connect(args.ray)
            executor = RayExecutor(args.ray, vars(args).get("workers"))
        else:
            executor = LocalExecutor()
    except NSTError as e:
        error(str(e))
        return EXIT_BAD_INPUT
    except OSError as e:
        error(f"cannot make the output folder {args.output}: {e.strerror or e}")
        return EXIT_BAD_INPUT

    q = BatchQueue()
    q.add(items)
    titles = {it.id: it.title for it in items}
    outcomes: list[ItemDone] = []
    summary: QueueDone | None = None
    bar = Bar(len(items), enabled=not args.quiet, unit="pic")
    current: dict[str, float] = {}
    with stop_on_signals(stop):
        try:
            for event in run_queue(q, executor, history_for(args), stop, args.overwrite, NONE):
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
            error(str(e))
            return EXIT_FAILED
        bar.close()
    assert summary is not None
    failed = [o for o in outcomes if o.state == "failed"]
    code = EXIT_FAILED if failed else EXIT_INTERRUPTED if stop.is_set() else EXIT_OK
    if args.json:
        report_json(code, executor=executor.name, seconds=round(summary.seconds, 3),
                    remaining=summary.remaining,
                    items=[{"title": titles[o.item_id], "state": o.state, "output": o.output,
                            "error": o.error or None, "seconds": round(o.seconds, 3)}
                           for o in outcomes])
        return code
    print(f"{len(items)} pictures on {executor.name} in {summary.seconds:.1f} s: "
          f"{summary.done} done, {summary.skipped} skipped (already complete), "
          f"{summary.failed} failed" + (f", {summary.stopped} stopped" if summary.stopped else "")
          + (f", {summary.remaining} not started" if summary.remaining else ""))
    for o in outcomes:
        if o.state == "failed":
            print(f"  failed: {titles[o.item_id]}: {o.error}", file=sys.stderr)
        elif o.state == "stopped":
            print(f"  stopped: {titles[o.item_id]}: best so far in {printable(o.output)}")
    if stop.is_set():
        print("Stopped; run the same command again to resume.")
    return code


if __name__ == "__main__":
    sys.exit(main())
