"""The layers hold: the engine knows nothing of Qt, Ray or the app, and inside it each layer
imports only those below (the kinds of job above everything they use); the app layer has no Qt;
the window does no tensor maths. Checked by import-linter (contracts in pyproject.toml), by
grimp's import graph and by importing each layer in a fresh process."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    here = Path(sys.executable).parent / "lint-imports"
    return str(here) if here.exists() else shutil.which("lint-imports") or "lint-imports"


def test_import_contracts_are_kept():
    proc = subprocess.run([_lint_imports(), "--config", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 kept, 0 broken" in proc.stdout


def _broken(tmp_path, module: str, text: str) -> str:
    """lint-imports' report on a copy of the tree with one module added to the engine."""
    bad = tmp_path / "nst_core"
    shutil.copytree(ROOT / "nst_core", bad)
    (bad / module).write_text(text)
    for name in ("nst_app", "nst_gui"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    proc = subprocess.run([_lint_imports(), "--config", str(tmp_path / "pyproject.toml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    return proc.stdout


def test_a_broken_contract_is_caught(tmp_path):
    """The check can fail: an engine module that imports Qt breaks it."""
    assert "nst_core.sneaky -> PySide6" in _broken(tmp_path, "sneaky.py", "import PySide6\n")


def test_painting_that_imports_a_kind_of_job_breaks_the_layers(tmp_path):
    """Below the kinds nothing imports one, not even lazily inside a function."""
    report = _broken(tmp_path, "painting/sneaky.py",
                     "def f():\n    from nst_core.kinds.still import StillJob\n")
    assert "nst_core.painting.sneaky -> nst_core.kinds.still" in report


@pytest.mark.parametrize("package", ["nst_core", "nst_app", "nst_gui"])
def test_no_module_imports_one_that_imports_it(package):
    """No circle in the engine, the application or the window, lazy imports included (grimp
    reads those too); an import for type checking only is no circle."""
    import grimp

    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    circles = [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
               if b != a and graph.chain_exists(importer=b, imported=a)]
    assert circles == []


def _loaded(code: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", code + "; import sys; print(sorted({m.split('.')[0]"
                           " for m in sys.modules}))"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip().splitlines()[-1])


def test_importing_the_engine_loads_no_qt_no_ray_no_app():
    mods = _loaded("import nst_core, nst_core.catalogue, nst_core.objective.perceptual")
    assert not {"PySide6", "pyqtgraph", "ray", "nst_app", "nst_gui"} & set(mods)


def test_importing_the_command_line_loads_no_qt_and_no_ray():
    mods = _loaded("import nst_app.cli, nst_app.batch, nst_app.history, nst_app.executors")
    assert not {"PySide6", "pyqtgraph", "ray", "nst_gui"} & set(mods)


def test_every_package_folder_is_installed():
    """A wheel carries only the packages pyproject.toml lists: a new subpackage must be there."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("nst_core", "nst_app", "nst_gui") for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


def test_main_and_the_installed_scripts_read_one_table_of_verbs():
    import tomllib

    from nst_app.command import VERBS

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {f"nst-{name}": f"nst_app.{target}" for name, target in VERBS.items()} == scripts
    assert "VERBS" in (ROOT / "main.py").read_text()
