"""The command line for instant styles: `main.py train` and `main.py apply`.

    python main.py train --style painting.jpg [--photos DIR ...] [-o model.nst] [--steps N]
    python main.py apply --model model.nst --content a.jpg b.jpg -o out/ [--size N]
        [--strength 0..1] [--color keep]

`train` with no `-o` writes `<painting>.nst` into the app's model library, where the window
lists it. Running the same command again resumes a stopped training. Exit codes as for
`render`: 0 done, 1 failed (a NaN: the last good checkpoint is kept), 2 bad input, 130
stopped (the checkpoint is saved; the same command resumes).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from nst_core import NONE, NSTError, Progress
from nst_core.base.errors import ModelError, RunFailedError
from nst_core.media.images import SAVE_FORMATS, check_output, os_reason, save_image
from nst_core.kinds.apply import ApplyJob
from nst_core.kinds.train import TrainJob
from nst_core.settings.training import TrainSettings
from nst_core.networks.model_file import SUFFIX

from . import models
from .cli import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    _Bar,
    _error,
    _interruptible,
    _printable,
    _setup_logging,
    stop_on_signals,
)

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
    defaults = TrainSettings()
    for f in fields(TrainSettings):
        if f.name in _SKIP:
            continue
        opt = "--" + _TRAIN_RENAMED.get(f.name, f.name).replace("_", "-")
        meta = f.metadata
        kind = {"int": int, "float": float}.get(f.type, str)
        kw = {"type": kind, "default": getattr(defaults, f.name), "help": meta["help"],
              "dest": f.name}
        if meta.get("choices"):
            kw["choices"] = meta["choices"]
        p.add_argument(opt, **kw)
    p.add_argument("--restart", action="store_true", default=False,
                   help="Start afresh even if the model file holds a training of this painting")
    p.add_argument("--json", action="store_true", default=False,
                   help="Print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="No progress bar")
    p.add_argument("-v", "--verbose", action="store_true", default=False,
                   help="Log what the engine does")
    return p


def _abs(path: str) -> str:
    return str(Path(path).expanduser().absolute())


@_interruptible
def train_main(argv: Sequence[str] | None = None) -> int:
    args = build_train_parser().parse_args(argv)
    _setup_logging(args)
    stop = threading.Event()
    try:
        photos = models.training_photos(args.photos)
        out = Path(args.output).expanduser().absolute() if args.output else \
            models.user_models_dir() / f"{Path(args.style).stem}{SUFFIX}"
        values = {f.name: getattr(args, f.name) for f in fields(TrainSettings)
                  if f.name not in _SKIP}
        settings = TrainSettings(style=_abs(args.style), photos=photos,
                                 held_out=tuple(_abs(p) for p in args.held_out),
                                 output=str(out), restart=args.restart, **values)
        run = TrainJob(settings).prepare(NONE, stop)
    except NSTError as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    if not args.quiet:
        where = f"resuming at step {run.start_step}" if run.resumed else "from scratch"
        print(f"Training an instant style of {Path(args.style).stem} on {len(run.photos)} "
              f"pictures ({where}); Ctrl-C stops and keeps the checkpoint.", file=sys.stderr)
        if not args.photos:
            print("Using the bundled sample photos; more photos of your own give a more "
                  "general model (--photos DIR).", file=sys.stderr)
    bar = _Bar(settings.steps, enabled=not args.quiet)
    code, message = EXIT_OK, ""
    with stop_on_signals(stop):
        try:
            for event in run.events():
                if isinstance(event, Progress):
                    left = f"{event.eta:.0f}s left" if event.eta is not None else ""
                    bar.show(event.iteration, f"loss {event.losses['total']:.3g} (content "
                             f"{event.losses['content']:.3g}, style {event.losses['style']:.3g})"
                             f" | {event.rate or 0:.1f} samples/s | {left}")
        except RunFailedError as e:
            code, message = EXIT_FAILED, str(e)
            run.result = e.result
        except ModelError as e:  # the checkpoint could not be written
            code, message = EXIT_FAILED, str(e)
        finally:
            bar.close()
    result = run.result
    if result is not None and result.status == "stopped":
        code = EXIT_INTERRUPTED
    if message:
        _error(message)
    if args.json:
        print(json.dumps({"ok": code == EXIT_OK, "exit_code": code, "model": str(out),
                          "steps_done": result.steps_done if result else None,
                          "status": result.status if result else "failed",
                          "reason": result.reason if result else message,
                          "seconds": round(result.timings.get("total", 0), 3) if result
                          else None,
                          "final_losses": result.losses[-1] if result and result.losses
                          else None}, indent=2))
    elif result is not None:
        print(f"{result.reason[:1].upper()}{result.reason[1:]}; model in {_printable(out)}")
    return code


# ---- apply ----------------------------------------------------------------------------------
def build_apply_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py apply", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint photos with an instant style (a model `main.py train` made, or "
                    "the name of one in the app's library).")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="A model file, or the painting name of a model in the library")
    p.add_argument("--content", nargs="+", required=True, metavar="PHOTO", dest="contents")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="An image file (one photo) or a folder")
    p.add_argument("--size", type=int, default=0, metavar="N",
                   help="Long side of the output in pixels (0: the photo's own size)")
    p.add_argument("--strength", type=float, default=1.0, metavar="S",
                   help="0 keeps the photo, 1 is the full style")
    p.add_argument("--color", choices=("style", "keep"), default="style",
                   help="keep: the photo's own colours")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="Replace output files that exist")
    p.add_argument("-q", "--quiet", action="store_true", default=False)
    p.add_argument("-v", "--verbose", action="store_true", default=False)
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


@_interruptible
def apply_main(argv: Sequence[str] | None = None) -> int:
    args = build_apply_parser().parse_args(argv)
    _setup_logging(args)
    out = Path(args.output).expanduser().absolute()
    to_file = len(args.contents) == 1 and out.suffix.lower() in SAVE_FORMATS
    try:
        model = resolve_model(args.model)
        if to_file:
            check_output(out, args.overwrite)
        else:
            out.mkdir(parents=True, exist_ok=True)
    except NSTError as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    except OSError as e:
        _error(f"cannot make the folder {_printable(out)} ({os_reason(e)})")
        return EXIT_BAD_INPUT
    code = EXIT_OK
    for content in args.contents:
        job = ApplyJob(_abs(model), _abs(content), args.size, args.strength, args.color,
                       args.device)
        target = out if to_file else out / f"{Path(content).stem}__{Path(model).stem}.png"
        try:
            result = job.prepare().run()
            saved = save_image(target, result.image, overwrite=args.overwrite)
        except ModelError as e:
            _error(str(e))
            return EXIT_BAD_INPUT
        except NSTError as e:
            _error(str(e))
            code = EXIT_BAD_INPUT
            continue
        except OSError as e:
            _error(f"cannot write {_printable(target)} ({os_reason(e)})")
            code = EXIT_FAILED
            continue
        if not args.quiet:
            h, w = result.image.shape[:2]
            print(f"Saved {_printable(saved)} ({w}x{h}, {result.reason})")
    return code
