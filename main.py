"""NST Studio. `python main.py` opens the window; `python main.py render ...` runs headless
(`python main.py render --help` lists every option)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "render":
        from nst_core.cli import main as render

        return render(argv[1:])
    from nst_gui.app import main as gui

    return gui(argv)


if __name__ == "__main__":
    sys.exit(main())
