"""NST Studio. `python main.py` opens the window; `python main.py render ...` renders one picture
and `python main.py batch ...` many, headless; `python main.py train ...` makes an instant style
and `python main.py apply ...` repaints photos with one; `python main.py video ...` repaints a clip
(`--help` after any lists its options)."""
from __future__ import annotations

import sys


def _load_torch() -> bool:
    """Import torch with Ctrl-C held back: a KeyboardInterrupt raised inside torch's native
    start-up code aborts the process ("terminate called after throwing ..."). False when
    Ctrl-C came meanwhile."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        import torch  # noqa: F401

        return True
    hits: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
    try:
        import torch  # noqa: F401
    finally:
        signal.signal(signal.SIGINT, previous)
    return not hits


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not _load_torch():
            print("Interrupted.", file=sys.stderr)
            return 130
        from nst_core.runtime import memory
        memory.keep_freed_memory()  # before any thread starts (nst_core.runtime.memory says why)
        from nst_app.command import VERBS, verb

        if argv and argv[0] in VERBS:
            return verb(argv[0])(argv[1:])
        from nst_app.qt_check import missing_qt_libraries

        problem = missing_qt_libraries()
        if problem:
            print(problem, file=sys.stderr)
            return 1
        from nst_gui.app import main as gui

        return gui(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up (torch and Qt take a few seconds)
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
