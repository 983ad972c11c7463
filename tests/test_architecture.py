"""The engine knows nothing of Qt, and the window does no tensor maths."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_qt():
    assert not {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "nst_gui", "qtpy"} & _imports("nst_core")


def test_gui_does_no_tensor_maths():
    assert not {"torch", "torchvision"} & _imports("nst_gui")


def test_importing_the_engine_loads_no_qt():
    code = ("import sys, nst_core, nst_core.cli, nst_core.transfer; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
