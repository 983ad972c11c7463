"""Every benchmark still runs: each script's tiny `--quick` mode, in this process (the window's
in a child process of its own, as it makes its own QApplication)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH))


def test_precision_benchmark_judges_both_precisions(capsys):
    assert _bench("precision").main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert '"precision": "float32"' in out and "bf16/fp32: gram" in out
    assert "bf16 gives the float32 picture for every pair at:" in out


def test_eta_benchmark_compares_the_estimate_with_the_truth(capsys):
    assert _bench("eta").main(["--quick", "--kinds", "still", "train"]) == 0
    out = capsys.readouterr().out
    assert out.count("worst error after the first tenth") == 2
    assert "truly left" in out


@pytest.mark.parametrize("name, args, says", [
    ("speed", ["--quick"], "s/it"),
    ("winograd", ["--quick"], "as the engine runs them now"),
    ("batch", ["--quick"], "12 tiny items in process"),
    ("convergence", ["--quick"], "gram"),
    ("quality_vs_time", ["--quick"], "the candidate reached it"),
    ("two_minutes", ["trace", "--quick"], "gram"),
    ("instant", ["--quick", "speed"], "samples/s"),
    ("gpu", ["--quick", "apply"], "stylize"),
    ("video", ["--quick"], "warping"),
    ("regions", ["--quick", "--methods", "inside", "--cases", "half", "cost"],
     "seconds per iteration"),
])
def test_every_benchmark_runs_in_its_quick_mode(name, args, says, capsys):
    assert _bench(name).main(args) == 0
    assert says in capsys.readouterr().out


def test_the_instant_recipe_benchmark_trains_judges_and_names_the_peak(tmp_path, capsys):
    import json

    instant = _bench("instant")
    assert instant.main(["recipe", "--steps", "2", "--size", "96", "--set", "crop=32",
                         "--set", "width=4", "--set", "blocks=1", "--set", "style_size=64",
                         "--set", "grid_weight=0", "--save", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["changes"] == {"crop": 32, "width": 4, "blocks": 1, "style_size": 64,
                              "grid_weight": 0.0}
    assert out["hatching"] > 0 and len(out["strongest_fine_frequency"]) == 2
    assert (tmp_path / "recipe_starry_night_2_crop32_width4_blocks1_style_size64_grid_weight0.png"
            ).is_file()


def test_the_window_responsiveness_benchmark_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH / "gui_responsiveness.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert "max_gap_ms" in proc.stdout and "first_preview_s" in proc.stdout


def test_the_tiles_benchmark_compares_and_measures_a_large_picture(capsys):
    tiles = _bench("tiles")
    assert tiles.main(["--quick", "compare"]) == 0
    assert tiles.main(["--quick", "large"]) == 0
    assert tiles.main(["--quick", "pace"]) == 0
    assert tiles.main(["--quick", "stroke"]) == 0
    assert tiles.main(["--quick", "pairs"]) == 0
    out = capsys.readouterr().out
    assert "tiled/whole: gram" in out and "seam" in out
    assert '"final_scale_s_per_it"' in out and "tiles" in out
    assert '"s_per_it"' in out and "SSIM against the preview" in out
    assert "5 pairs against 50" in out
    # the seam measure sees a seam: a step of 40 grey levels along a cut
    import numpy as np

    texture = np.random.default_rng(0).integers(0, 60, (64, 64, 3)).astype(np.uint8)
    assert 0.8 < tiles.seam_ratio(texture, [32], [32]) < 1.25
    stepped = texture.copy()
    stepped[:, 32:] += 40
    assert tiles.seam_ratio(stepped, [32], []) > 2


def test_the_hatching_score_tells_a_repeating_texture_from_noise():
    """A diagonal grating (a woven texture at its plainest) concentrates its fine energy in a
    few frequencies; white noise spreads it: the top eight of about 30,000 exponential draws
    against their median is about ln(30000 / 8) / ln 2 = 12."""
    import math

    import torch

    judge = _bench("judge")
    yy, xx = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    grating = (0.5 + 0.4 * torch.sin(2 * math.pi * (xx + yy) / 6.0))[None, None].repeat(1, 3, 1, 1)
    torch.manual_seed(0)
    noise = torch.rand(1, 1, 256, 256).repeat(1, 3, 1, 1)
    assert 8 < judge.hatching(noise) < 25
    assert judge.hatching(grating) > 1000 * judge.hatching(noise)
