"""The command line for video: `main.py video`.

    python main.py video                                        # the bundled clip, Starry Night
    python main.py video --content clip.mp4 --style painting.jpg -o out.mp4 [--size 384]
        [--iters 200] [--temporal-weight 50] [--fps 12] [--start 2 --end 6] [render options]
    python main.py video --content clip.mp4 --model starry_night -o out.mp4   # instant, fast

The output is H.264 with the clip's sound (or PNG frames when `-o` names a folder). Finished
frames are kept beside the output while it renders: Ctrl-C stops (exit 130) and the same command
continues. Exit codes as for `render`: 0 done, 1 failed (the finished frames are kept), 2 bad
input (nothing written), 130 stopped.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from nst_core import NONE, NSTError, Note, OutputExistsError, Progress
from nst_core.base.errors import RunFailedError
from nst_core.media.files import os_reason, unique_path

from .picture_options import add_settings_options, paintings_given
from .command import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Bar, absolute, common_flags,
                      dataclass_options, error, exit_code, given, history_for, interruptible,
                      printable, record_in_history, report_json, setup_logging, stop_on_signals,
                      time_left)

_RENAMED = {"max_fps": "fps", "frame_iterations": "frame-iters"}
_OWN = ("content", "output", "overwrite", "picture")


def build_video_parser() -> argparse.ArgumentParser:
    from nst_core.settings.video import VIDEO_PICTURE, VideoSettings

    p = argparse.ArgumentParser(
        prog="main.py video", argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Repaint a clip in a painting's style, frame by frame, held steady along "
                    "the motion (Ruder et al. 2016), keeping its sound. With no options, "
                    "repaints the bundled sample clip. Ctrl-C stops; the same command "
                    "continues.")
    p.add_argument("--content", metavar="CLIP", help="The clip (MP4, MOV, MKV, WebM ...; "
                   "default: the bundled sample clip)")
    p.add_argument("-o", "--output", metavar="PATH", help="The video to write (.mp4, .mov, "
                   ".mkv), or a folder for PNG frames (default: <clip>_<painting>.mp4 here)")
    dataclass_options(p, VideoSettings, skip=_OWN, renamed=_RENAMED)
    add_settings_options(p, skip=("content", "init_image"))
    p.set_defaults(size=VIDEO_PICTURE.size, iterations=VIDEO_PICTURE.iterations)
    p.add_argument("--ray", metavar="auto|local|ADDRESS", help="Share the frames between the "
                   "workers of a Ray cluster, in chunks that overlap and are cross-faded: "
                   "'auto' joins the one started on this machine with 'ray start', an address "
                   "HOST:PORT another, 'local' starts a private one here")
    p.add_argument("--workers", type=int, metavar="N", help="Ray workers (default: one per "
                   "CPU of the cluster)")
    common_flags(p, overwrite="Replace an existing output (and frames kept from another "
                              "render)")
    return p


def settings_from_args(args: argparse.Namespace):
    from nst_core import TransferSettings
    from nst_core.settings.video import VideoSettings

    from .instant_cli import resolve_model
    from .samples import default_clip, default_settings

    picture = default_settings()
    changes = given(args, TransferSettings, skip=("content", "init_image"))
    paintings_given(changes)
    if changes.get("weights_path"):
        changes["weights_path"] = absolute(changes["weights_path"])
    picture = picture.replace(**changes)
    video = given(args, VideoSettings, skip=_OWN)
    if video.get("model"):
        video["model"] = absolute(resolve_model(video["model"]))
        video.setdefault("method", "instant")
    clip = absolute(vars(args).get("content") or str(default_clip()))
    if vars(args).get("output"):
        out = absolute(args.output)
    else:
        what = Path(video["model"]).stem if video.get("method") == "instant" and \
            video.get("model") else Path(picture.styles[0]).stem
        out = str(unique_path(Path.cwd() / f"{Path(clip).stem[:60]}_{what[:60]}.mp4"))
    return VideoSettings(content=clip, output=out, overwrite=args.overwrite, picture=picture,
                         **video).validate()


@interruptible
def video_main(argv: Sequence[str] | None = None) -> int:
    args = build_video_parser().parse_args(argv)
    setup_logging(args)
    from nst_core.kinds.video import VideoJob

    stop = threading.Event()
    if vars(args).get("ray"):
        return _on_cluster(args, stop)
    try:
        settings = settings_from_args(args)
        job = VideoJob(settings)
        with stop_on_signals(stop):
            run = job.prepare(NONE, stop)
    except NSTError as e:
        error(f"{e}{' (--overwrite)' if isinstance(e, OutputExistsError) else ''}")
        return EXIT_BAD_INPUT
    except OSError as e:
        error(f"{e.filename or ''}: {os_reason(e)}".lstrip(": "))
        return EXIT_BAD_INPUT
    n = len(run.times)
    if not args.quiet:
        w, h = run.size
        how = "instant" if settings.method == "instant" else "optimized"
        where = f", continuing at frame {run.done + 1}" if run.done else ""
        print(f"Repainting {n} frames at {w}x{h} ({how}{where}) into "
              f"{printable(settings.output)}; Ctrl-C stops and keeps the finished frames.",
              file=sys.stderr)
    bar = Bar(n, enabled=not args.quiet, unit="frame")
    code, message = EXIT_OK, ""
    frame_start = {"frame": -1, "iteration": 0}
    with stop_on_signals(stop):
        try:
            for event in run.events():
                if isinstance(event, Progress):
                    if event.scale != frame_start["frame"]:
                        frame_start.update(frame=event.scale, iteration=event.iteration - 1)
                    it = event.iteration - frame_start["iteration"]
                    its = f" | iteration {it}" if settings.method == "optimize" else ""
                    bar.show(event.scale + (1 if not event.losses else 0),
                             f"frame {event.scale + 1}/{n}{its} | {time_left(event.eta)}")
                elif isinstance(event, Note) and not args.quiet:
                    print(event.text, file=sys.stderr)
        except RunFailedError as e:
            code, message = EXIT_FAILED, str(e)
            run.result = e.result
        except NSTError as e:  # the clip turned out to be unreadable
            bar.close()
            error(str(e))
            return EXIT_BAD_INPUT
        finally:
            bar.close()
    result = run.result
    if result is not None and result.status == "stopped":
        code = exit_code("stopped")
    if message:
        error(message)
    record_in_history(history_for(args), result, job)
    if args.json:
        report_json(code, output=result.output if result else None,
                    status=result.status if result else "failed",
                    reason=result.reason if result else message,
                    frames=result.frames if result else 0, planned=n,
                    frames_kept_in=result.cache if result else None,
                    seconds_per_frame=round(result.seconds_per_frame, 3) if result else None,
                    size=list(run.size))
    elif result is not None:
        print(f"{result.reason[:1].upper()}{result.reason[1:]}"
              + (f" ({result.seconds_per_frame:.2f} s a frame)" if result.seconds_per_frame
                 else "")
              + (f"; {printable(result.output)}" if result.output else ""))
    return code


def _on_cluster(args, stop: threading.Event) -> int:
    """`--ray`: the frames in chunks on a Ray cluster's workers."""
    from nst_core.kinds.video import VideoJob

    from .ray_executor import RayExecutor, connect
    from .runs import Finished
    from .video_cluster import render_chunks

    try:
        settings = settings_from_args(args)
        connect(args.ray)
        executor = RayExecutor(args.ray, vars(args).get("workers"))
        job = VideoJob(settings)
        events = render_chunks(job, executor, stop)
        with stop_on_signals(stop):
            first = next(events)  # checks the input before any work
    except NSTError as e:
        error(f"{e}{' (--overwrite)' if isinstance(e, OutputExistsError) else ''}")
        return EXIT_BAD_INPUT
    bar = Bar(1, enabled=not args.quiet, unit="frame")
    finished = None
    with stop_on_signals(stop):
        try:
            for event in itertools.chain([first], events):
                if isinstance(event, Progress):
                    bar.show(event.iteration, f"{event.iteration}/{event.total} frames | "
                             f"{time_left(event.eta)}", total=event.total)
                elif isinstance(event, Note) and not args.quiet:
                    print(event.text, file=sys.stderr)
                elif isinstance(event, Finished):
                    finished = event
        finally:
            bar.close()
    result = finished.result if finished else None
    code = exit_code(finished.status if finished else "failed")
    if finished and finished.message:
        error(finished.message)
    record_in_history(history_for(args), result, job)
    if args.json:
        report_json(code, output=result.output if result else None,
                    status=result.status if result else "failed",
                    reason=result.reason if result else "",
                    frames=result.frames if result else 0)
    elif result is not None and code != EXIT_FAILED:
        print(f"{result.reason[:1].upper()}{result.reason[1:]}"
              + (f"; {printable(result.output)}" if result.output else ""))
    return code


