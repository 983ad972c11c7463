"""A property of every verb of the command line: given any mix of good, damaged, duplicate and
missing inputs and outputs, a verb either makes a complete result or says in one line what was
wrong (exit 2 before any work, exit 1 for the items that failed), and nothing of the person's is
lost or replaced; with --overwrite, only the output the command names may be replaced."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst_app.command import verb
from tests.conftest import make_painting, make_photo, write_clip

#: inputs a verb may be given: a photo, one of the same name elsewhere, a damaged file, a
#: missing path, and a folder holding photos and a damaged file
INPUTS = ("a.png", "other/a.png", "damaged.png", "missing.png", "shots")
#: outputs: a new picture, a new folder, a file of the person's, a name with a suffix no verb
#: writes, a link to nothing
OUTPUTS = ("new.png", "outdir", "keep.png", "result.tiff", "dangling.png")
TINY = {"render": ["--size", "48", "--iters", "1", "--no-multiscale", "--device", "cpu"],
        "batch": ["--size", "48", "--iters", "1", "--no-multiscale", "--device", "cpu"],
        "train": ["--steps", "1", "--batch", "1", "--size", "32", "--style-size", "64",
                  "--width", "4", "--blocks", "1", "--device", "cpu"],
        "apply": [], "video": ["--size", "64"]}


def _world(root: Path) -> None:
    (root / "other").mkdir()
    (root / "shots").mkdir()
    for p, seed in (("a.png", 1), ("other/a.png", 3), ("shots/s1.png", 2), ("shots/s2.jpg", 4)):
        Image.fromarray(make_photo(48, 40, seed=seed)).save(root / p)
    (root / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    (root / "shots" / "s3.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged too")
    Image.fromarray(make_painting()).save(root / "painting.png")
    (root / "keep.png").write_bytes(b"the person's own file")
    (root / "dangling.png").symlink_to(root / "nowhere.png")
    write_clip(root / "clip.mp4", frames=2)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def _args(name: str, inputs: list[str], output: str, root: Path, model: str) -> list[str]:
    paths = [str(root / i) for i in inputs]
    out = ["-o", str(root / output)]
    if name == "render":
        return ["--content", paths[0], "--style", str(root / "painting.png"), *out,
                "--no-history"]
    if name == "batch":
        return ["--content", *paths, "--style", str(root / "painting.png"), *out,
                "--no-history"]
    if name == "train":
        return ["--style", str(root / "painting.png"), "--photos", *paths,
                "-o", str(root / (Path(output).stem + ".nst"))]
    if name == "apply":
        return ["--model", model, "--content", *paths, *out]
    video = {"new.png": "new.mp4", "result.tiff": "result.tiff"}.get(output, output)
    clip = root / ("clip.mp4" if inputs[0] != "missing.png" else "missing.mp4")
    return ["--content", str(clip), "--model", model, "-o", str(root / video), "--no-history"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(("render", "batch", "train", "apply", "video")),
       inputs=st.lists(st.sampled_from(INPUTS), min_size=1, max_size=3),
       output=st.sampled_from(OUTPUTS), overwrite=st.booleans())
def test_every_verb_finishes_or_says_why_and_loses_nothing(name, inputs, output, overwrite,
                                                           tiny_model, capsys):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _world(root)
        before = _snapshot(root)
        args = _args(name, inputs, output, root, tiny_model)
        code = verb(name)([*args, *TINY[name], "-q", *(["--overwrite"] if overwrite else [])])
        err = capsys.readouterr().err
        after = _snapshot(root)
        assert code in (0, 1, 2), (code, err)
        event(f"{name} exit {code}{' --overwrite' if overwrite else ''}")
        # nothing of the person's lost or replaced, whatever happened; --overwrite may replace
        # the one output the command names, nothing else
        named = str(Path(args[args.index("-o") + 1]).relative_to(root))
        replaced = {k for k in before if after.get(k) != before[k]}
        assert replaced <= ({named} if overwrite else set()), (replaced, err)
        if code == 2:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            made = set(after) - set(before)
            assert not made, made  # refused before any work
        elif code == 1:  # the failed items named, the rest made
            assert any(w in err for w in ("damaged", "not found", "missing")), err
        else:  # complete: one picture per photo for the verbs that take many
            made = (set(after) - set(before)) | replaced
            photos = sum({"shots": 3}.get(i, 1) for i in inputs)
            wanted = photos if name in ("batch", "apply") and output != "new.png" else \
                2 if name == "video" and output == "outdir" else 1  # the clip's two frames
            assert len(made) == wanted, (made, inputs)
