"""`main.py render`: the engine from the command line.

    python main.py render                                   # the bundled sample pair
    python main.py render --content photo.jpg --style a.jpg --style b.jpg --blend 0.7,0.3 \\
        -o out.png --size 512 --iters 300
    python main.py render --settings-from out.png -o again.png   # rerun a saved picture

Every option's default, range and help come from `TransferSettings`. Exit codes: 0 done,
1 the run failed (the last good image is still saved), 2 bad input (one-line reason on stderr),
130 interrupted (the best image so far is saved).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Sequence

from .errors import NSTError, OutputExistsError, RunFailedError, SettingsError
from .settings import TransferSettings

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


def build_parser() -> argparse.ArgumentParser:
    defaults = TransferSettings()
    p = argparse.ArgumentParser(
        prog="main.py render", argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint a photograph in the style of one or more paintings "
                    "(neural style transfer, Gatys et al.). With no options, renders the "
                    "bundled sample pair.")
    for f in fields(TransferSettings):
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
            kw.update(type=_floats, metavar="W1,W2",
                      help=help_ + " (default: equal)")
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
    p.add_argument("-o", "--output", metavar="PATH", help="Where to save: .png (with the "
                   "settings embedded), .jpg or .webp (default: <content>_<style>.png here)")
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="Replace the output file if it exists")
    p.add_argument("--settings-from", metavar="FILE", help="Start from the settings embedded "
                   "in a PNG this app saved (or a .json file); other options override them")
    p.add_argument("--json", action="store_true", default=False,
                   help="Print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", default=False,
                   help="No progress bar")
    p.add_argument("-v", "--verbose", action="store_true", default=False,
                   help="Log what the engine does")
    return p


def settings_from_args(args: argparse.Namespace) -> TransferSettings:
    base = TransferSettings()
    src = getattr(args, "settings_from", None)
    if src:
        base = load_settings_file(src)
    changes = {f.name: getattr(args, f.name) for f in fields(TransferSettings)
               if hasattr(args, f.name)}
    for key in _PATH_FIELDS:
        if changes.get(key):
            changes[key] = str(Path(changes[key]).expanduser().absolute())
    if "styles" in changes:
        changes["styles"] = tuple(str(Path(s).expanduser().absolute()) for s in changes["styles"])
    if changes.get("init_image") and "init" not in changes:
        changes["init"] = "image"
    return base.replace(**changes).validate()


def load_settings_file(path: str) -> TransferSettings:
    from .images import read_settings_json

    p = Path(path)
    if p.suffix.lower() == ".json":
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise SettingsError("settings_from", f"cannot read {p} ({e.strerror})") from None
    else:
        text = read_settings_json(p)
        if text is None:
            raise SettingsError("settings_from", f"{p} carries no NST Studio settings "
                                "(only PNGs this app saved do)")
    return TransferSettings.from_json(text)


def default_output(settings: TransferSettings) -> Path:
    from .images import unique_path

    name = f"{Path(settings.content).stem}_{Path(settings.styles[0]).stem}.png"
    return unique_path(Path.cwd() / name)


class _Bar:
    """A tqdm progress bar on stderr showing scale, losses and time left."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=sys.stderr, unit="it", dynamic_ncols=True,
                            bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed}, {rate_fmt}] {postfix}")

    def update(self, p) -> None:
        if self.bar is None:
            return
        w, h = p.size
        left = f"{p.eta:.0f}s left" if p.eta is not None else ""
        self.bar.set_postfix_str(
            f"scale {p.scale + 1}/{p.scales} {w}x{h} | loss {p.losses['total']:.3g} (content "
            f"{p.losses['content']:.3g}, style {p.losses['style']:.3g}, tv {p.losses['tv']:.3g})"
            f" | {left}", refresh=False)
        self.bar.update(p.iteration - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from .images import check_output, save_image
    from .transfer import StyleTransfer

    try:
        settings = settings_from_args(args)
        out = Path(args.output).expanduser().absolute() if getattr(args, "output", None) \
            else default_output(settings)
        check_output(out, args.overwrite)  # before the run, not after it
        job = StyleTransfer(settings)
    except NSTError as e:
        hint = " (--overwrite)" if isinstance(e, OutputExistsError) else ""
        print(f"error: {e}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT

    # The first Ctrl-C stops the run and keeps the best image so far; a second one aborts.
    previous = signal.getsignal(signal.SIGINT)

    def _stop(signum, frame):
        job.request_stop()
        signal.signal(signal.SIGINT, previous)

    in_main_thread = _is_main_thread()
    if in_main_thread:
        signal.signal(signal.SIGINT, _stop)
    bar = _Bar(job.total_iterations, enabled=not args.quiet)
    code, failure = EXIT_OK, None
    try:
        for event in job.events():
            bar.update(event)
        result = job.result
    except RunFailedError as e:
        result, failure, code = e.result, str(e), EXIT_FAILED
    finally:
        bar.close()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    if result is not None and result.stopped and failure is None:
        code = EXIT_INTERRUPTED
    saved = None
    if result is not None:
        try:
            saved = save_image(out, result.image, settings.to_json(), overwrite=args.overwrite)
        except NSTError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as e:
            print(f"error: cannot write {out}: {e.strerror or e}", file=sys.stderr)
            return EXIT_FAILED
    if failure:
        print(f"error: {failure}", file=sys.stderr)
    _report(args, result, saved, code, failure)
    return code


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _report(args, result, saved: Path | None, code: int, failure: str | None) -> None:
    if args.json:
        summary: dict[str, Any] = {"ok": code == EXIT_OK, "exit_code": code,
                                   "output": str(saved) if saved else None, "error": failure}
        if result is not None:
            summary.update(
                width=int(result.image.shape[1]), height=int(result.image.shape[0]),
                iterations=result.iterations, stopped=result.stopped, device=result.device,
                seconds={k: round(v, 3) for k, v in result.timings.items()},
                final_losses=result.losses[-1] if result.losses else None,
                settings=result.settings.to_dict())
        print(json.dumps(summary, indent=2))
        return
    if result is None or saved is None:
        return
    h, w = result.image.shape[:2]
    what = "Stopped early; saved the best image so far" if result.stopped else "Saved"
    losses = result.losses[-1] if result.losses else {}
    print(f"{what} to {saved}\n  {w}x{h} px, {result.iterations} iterations on "
          f"{result.device} in {result.timings.get('total', 0):.1f} s"
          + (f", final loss {losses['total']:.4g}" if losses else ""))


if __name__ == "__main__":
    sys.exit(main())
