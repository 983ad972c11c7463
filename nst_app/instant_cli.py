"""The command line for instant styles: `main.py train` and `main.py apply`.

    python main.py train --style painting.jpg [--photos DIR ...] [-o model.nst] [--steps N]
    python main.py apply --model model.nst --content a.jpg photos/ -o out/ [--size N]
        [--strength 0..1] [--color keep]

`train` with no `-o` writes `<painting>.nst` into the app's model library, where the window
lists it, and a finished training's previews into the history. Running the same command again
resumes a stopped training. `apply` takes photos and
folders of photos, names each picture `photo__model.png` (distinct within the run, checked
before any work) and repaints them one by one, each into the history too: a photo that cannot
be read fails only itself.
Exit codes as for every verb (nst_app.command).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from nst_core import NONE, Note, NSTError, Progress
from nst_core.base.errors import ModelError, RunFailedError, SettingsError
from nst_core.kinds.apply import ApplyJob
from nst_core.kinds.train import TrainJob
from nst_core.media.files import os_reason
from nst_core.media.images import SAVE_FORMATS, check_output, made_by, save_image
from nst_core.networks.model_file import SUFFIX
from nst_core.networks.stylize import cached_model
from nst_core.settings.training import TrainSettings

from . import models
from .batch import expand_images, not_outputs
from .command import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Bar, absolute, common_flags,
                      dataclass_options, error, exit_code, given, history_for, interruptible,
                      printable, record_in_history, report_json, setup_logging,
                      stop_on_signals, time_left, warn)

_TRAIN_RENAMED = {"crop": "size", "learning_rate": "lr"}
_SKIP = ("style", "photos", "held_out", "output", "restart")


def build_train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py train", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an instant style: a network that repaints any photo in a "
                    "painting's style in one pass (Johnson et al. 2016). Stop with Ctrl-C; "
                    "the same command resumes.")
    p.add_argument("--style", required=True, metavar="PAINTING", help="The painting to learn")
    p.add_argument("--photos", nargs="+", metavar="DIR_OR_FILE", default=[],
                   help="Training photos: folders (their images and videos), image files or "
                        "videos (default: the bundled sample photos; more photos give a more "
                        "general model)")
    p.add_argument("--held-out", nargs="+", metavar="FILE", default=[],
                   help="Photos never trained on, used for the previews")
    p.add_argument("-o", "--output", metavar="MODEL.nst",
                   help="The model file (default: <painting>.nst in the app's model library)")
    dataclass_options(p, TrainSettings, skip=_SKIP, renamed=_TRAIN_RENAMED)
    p.add_argument("--restart", action="store_true", default=False,
                   help="Start afresh even if the model file holds a training of this painting")
    common_flags(p, overwrite="Replace the model file: the same as --restart")
    return p


@interruptible
def train_main(argv: Sequence[str] | None = None) -> int:
    args = build_train_parser().parse_args(argv)
    setup_logging(args)
    stop = threading.Event()
    try:
        photos = models.training_photos(args.photos)
        out = Path(absolute(args.output)) if args.output else \
            models.user_models_dir() / f"{Path(args.style).stem}{SUFFIX}"
        settings = TrainSettings(style=absolute(args.style), photos=photos,
                                 held_out=tuple(absolute(p) for p in args.held_out),
                                 output=str(out), restart=args.restart or args.overwrite,
                                 **given(args, TrainSettings, skip=_SKIP))
        job = TrainJob(settings)
        run = job.prepare(NONE, stop)
    except NSTError as e:
        error(str(e))
        return EXIT_BAD_INPUT
    if not args.quiet:
        where = f"resuming at step {run.start_step}" if run.resumed else "from scratch"
        print(f"Training an instant style of {Path(args.style).stem} on {len(run.photos)} "
              f"pictures ({where}); Ctrl-C stops and keeps the checkpoint.", file=sys.stderr)
        if not args.photos:
            print("Using the bundled sample photos; more photos of your own give a more "
                  "general model (--photos DIR).", file=sys.stderr)
    bar = Bar(settings.steps, enabled=not args.quiet)
    code, message = EXIT_OK, ""
    with stop_on_signals(stop):
        try:
            for event in run.events():
                if isinstance(event, Note):  # a damaged checkpoint trained again
                    warn(event.text)
                elif isinstance(event, Progress):
                    bar.show(event.iteration, f"loss {event.losses['total']:.3g} (content "
                             f"{event.losses['content']:.3g}, style {event.losses['style']:.3g})"
                             f" | {event.rate or 0:.1f} samples/s | {time_left(event.eta)}")
        except RunFailedError as e:
            code, message = EXIT_FAILED, str(e)
            run.result = e.result
        except ModelError as e:  # the checkpoint could not be written
            code, message = EXIT_FAILED, str(e)
        finally:
            bar.close()
    result = run.result
    if result is not None and result.status == "stopped":
        code = exit_code("stopped")
    if message:
        error(message)
    record_in_history(history_for(args), result, job)
    if args.json:
        report_json(code, model=str(out), steps_done=result.steps_done if result else None,
                    status=result.status if result else "failed",
                    reason=result.reason if result else message,
                    seconds=round(result.timings.get("total", 0), 3) if result else None,
                    final_losses=result.losses[-1] if result and result.losses else None)
    elif result is not None:
        print(f"{result.reason[:1].upper()}{result.reason[1:]}; model in {printable(out)}")
    return code


# ---- apply ----------------------------------------------------------------------------------
def build_apply_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py apply", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint photos with an instant style (a model `main.py train` made, or "
                    "the name of one in the app's library).")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="A model file, or the painting name of a model in the library")
    p.add_argument("--content", nargs="+", required=True, metavar="PHOTO_OR_DIR",
                   dest="contents", help="Photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="A picture file (.png, .jpg, .webp: one photo) or a folder")
    p.add_argument("--size", type=int, default=0, metavar="N",
                   help="Long side of the output in pixels (0: the photo's own size)")
    p.add_argument("--strength", type=float, default=1.0, metavar="S",
                   help="0 keeps the photo, 1 is the full style")
    p.add_argument("--color", choices=("style", "keep"), default="style",
                   help="keep: the photo's own colours")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    common_flags(p)
    return p


def resolve_model(name: str) -> str:
    """A path, or the painting name (or file stem) of a model in the library."""
    p = Path(name).expanduser()
    if p.suffix == SUFFIX or p.exists() or "/" in name:
        return str(p)
    entries = models.library()
    for entry in entries:
        if name in (entry.path.stem, entry.name):
            return str(entry.path)
    known = ", ".join(sorted({e.path.stem for e in entries})) or "none"
    raise ModelError(f"no model file {name!r} and no model of that name in the library "
                     f"(it has: {known})")


def _names_a_picture(out: Path) -> bool:
    """`-o` names one picture (it has a suffix and is no existing folder), else a folder."""
    return bool(out.suffix) and not out.is_dir()


def plan_targets(photos: Sequence[str], out: Path, model: str,
                 overwrite: bool) -> list[tuple[str, Path]]:
    """(photo, picture) pairs: into `out` itself when it names a picture file (one photo),
    else `photo__model.png` inside the folder `out`, distinct within the run. Photos that are
    this command's own pictures (or a run's .partial ones) are left out. Every target is
    checked before any work; SettingsError or OutputExistsError says why not."""
    stem = Path(model).stem
    photos = not_outputs(photos, [stem[:60]])
    if not photos:
        raise SettingsError("content", "no photos: give image files or folders holding them")
    if _names_a_picture(out):
        if out.suffix.lower() not in SAVE_FORMATS:
            raise SettingsError("output", f"cannot write a picture as {out.suffix}; use .png, "
                                ".jpg, .webp or .tiff, or a folder")
        if len(photos) > 1:
            raise SettingsError("output", f"{out.name} names one picture, but {len(photos)} "
                                "photos were given; give a folder")
        check_output(out, overwrite)
        return [(photos[0], out)]
    if out.exists() and not out.is_dir():
        raise SettingsError("output", f"{out} is a file; give a folder")
    pairs, taken = [], set()
    for photo in photos:
        name, n = f"{Path(photo).stem[:60]}__{stem[:60]}", 2
        target = out / f"{name}.png"
        while target in taken:
            target, n = out / f"{name}-{n}.png", n + 1
        taken.add(target)
        pairs.append((photo, target))
    return pairs


@interruptible
def apply_main(argv: Sequence[str] | None = None) -> int:
    args = build_apply_parser().parse_args(argv)
    setup_logging(args)
    out = Path(absolute(args.output))
    try:
        model = absolute(resolve_model(args.model))
        cached_model(model)  # a damaged model is refused before anything is written
        pairs = plan_targets(expand_images(args.contents), out, model, args.overwrite)
        jobs = [ApplyJob(model, photo, args.size, args.strength, args.color, args.device)
                for photo, _ in pairs]
        done = {target for job, (_, target) in zip(jobs, pairs)
                if not args.overwrite and made_by(target) == _made_by(job)}
        if not _names_a_picture(out):
            out.mkdir(parents=True, exist_ok=True)
            for _, target in pairs:
                if target not in done:
                    check_output(target, args.overwrite)
    except NSTError as e:
        error(f"{e}{' (--overwrite)' if isinstance(e, FileExistsError) else ''}")
        return EXIT_BAD_INPUT
    except OSError as e:
        error(f"cannot make the folder {printable(out)} ({os_reason(e)})")
        return EXIT_BAD_INPUT
    bar = Bar(len(pairs), enabled=not args.quiet and len(pairs) > 1, unit="pic")
    items, stop, history = [], threading.Event(), history_for(args)
    with stop_on_signals(stop):
        for k, (job, (photo, target)) in enumerate(zip(jobs, pairs)):
            if stop.is_set():
                break
            if target in done:  # an earlier run of this same command made it
                items.append({"photo": photo, "output": str(target), "state": "skipped",
                              "error": None})
            else:
                items.append(_apply_one(job, target, args, history))
            bar.show(k + 1, Path(photo).name)
    bar.close()
    failed = [it for it in items if it["state"] == "failed"]
    code = EXIT_FAILED if failed else exit_code("stopped") if stop.is_set() else EXIT_OK
    for it in failed:
        error(it["error"])
    if args.json:
        report_json(code, model=model, items=items)
    elif not args.quiet:
        for it in items:
            if it["state"] == "done":
                print(f"Saved {printable(it['output'])} ({it['width']}x{it['height']}, "
                      f"{it['reason']})")
            elif it["state"] == "skipped":
                print(f"Kept {printable(it['output'])} (already made by this command)")
    return code


def _made_by(job: ApplyJob) -> str:
    """What a picture of `job` carries to be known again by a rerun: the job, and the model
    file's size and time (a model trained further since paints other pictures)."""
    st = Path(job.model).stat()
    return json.dumps({"job": job.to_dict(), "model": [st.st_size, st.st_mtime_ns]},
                      sort_keys=True)


def _apply_one(job: ApplyJob, target: Path, args, history) -> dict:
    """One photo repainted, saved and listed in the history; what happened, for the
    summary."""
    item = {"photo": job.content, "output": None, "state": "failed", "error": None}
    try:
        result = job.prepare().run()
        item["output"] = str(save_image(target, result.image, overwrite=args.overwrite,
                                        made_by=_made_by(job)))
    except NSTError as e:
        item["error"] = str(e)
    except OSError as e:
        item["error"] = f"cannot write {printable(target)} ({os_reason(e)})"
    else:
        h, w = result.image.shape[:2]
        item.update(state="done", width=w, height=h, reason=result.reason,
                    seconds=round(result.timings.get("total", 0.0), 3))
        record_in_history(history, result, job)
    return item
