"""Make the instant styles the app ships (resources/models/), with the app's own training.

    .venv/bin/python scripts/ship_instant_styles.py --train      # train, then ship
    .venv/bin/python scripts/ship_instant_styles.py --from DIR   # ship models trained into DIR

Each is trained with the defaults of `main.py train` on the bundled sample photos (Tübingen,
the last by name, is held out for the previews and never trained on); the shipped file drops the
optimizer state and names its painting and photos relative to the project, not by the paths of
the machine that trained it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAINTINGS = ("starry_night", "great_wave", "the_scream", "udnie")


def ship(src: Path, dst: Path) -> None:
    from nst_core.networks.model_file import load_model, save_model

    m = load_model(src)
    settings = dict(m.meta["settings"])

    def rel(p: str) -> str:
        try:
            return str(Path(p).resolve().relative_to(ROOT))
        except ValueError:
            return Path(p).name

    settings["style"] = rel(settings["style"])
    settings["photos"] = [rel(p) for p in settings["photos"]]
    settings["output"] = str(dst.relative_to(ROOT))
    meta = {**m.meta, "settings": settings}
    save_model(dst, m.network(), meta, m.thumbnail)  # no optimizer state
    print(f"shipped {dst.relative_to(ROOT)}: {m.steps_done} steps")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--from", dest="src", default="/tmp/models")
    args = ap.parse_args()
    src = Path(args.src)
    if args.train:
        src.mkdir(parents=True, exist_ok=True)
        for name in PAINTINGS:
            subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--style",
                            str(ROOT / "resources/samples/style" / f"{name}.jpg"), "-o",
                            str(src / f"{name}.nst")], check=True)
    out = ROOT / "resources" / "models"
    out.mkdir(exist_ok=True)
    for name in PAINTINGS:
        ship(src / f"{name}.nst", out / f"{name}.nst")
    return 0


if __name__ == "__main__":
    sys.exit(main())
