"""The README's engine example runs as written (on a tiny photo and painting of those names,
at a size small enough for the suite)."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

from PIL import Image

from tests.conftest import make_painting, make_photo

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_engine_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("The engine in a few lines")
    code = re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)
    assert "size=256" in code and "run.result.image" in code
    Image.fromarray(make_photo(64, 48)).save(tmp_path / "photo.jpg")
    Image.fromarray(make_painting(64, 48)).save(tmp_path / "painting.jpg")
    script = tmp_path / "example.py"
    # the same code at 64 px and 3 iterations, so that the suite stays fast
    script.write_text(code.replace("size=256", "size=64, iterations=3, device='cpu'")
                      + "\nassert image.shape == (48, 64, 3)\n")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out.split("\n")
    assert [line.split()[0] for line in printed if line] == ["1", "2", "3"]
