"""The benchmarks that measure precision and time left still run (tiny `--quick` runs)."""
from __future__ import annotations

import sys
from pathlib import Path

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
