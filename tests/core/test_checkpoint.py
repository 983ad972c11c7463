"""A still render keeps a checkpoint and continues from it: stopped and continued, it paints the
picture the uninterrupted render paints; a checkpoint of anything else is not used, and says so."""
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_core import Note, PreviewPolicy, Progress, StillJob, TransferSettings
from nst_core.painting import checkpoint as checkpoints
from nst_core.settings.tuning import Tuning
from tests.conftest import textured

EVERY_STEP = Tuning(precision=(("cpu", "float32"),), checkpoint_every=0.0)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint")
    photo, painting = folder / "photo.png", folder / "painting.png"
    Image.fromarray(textured(80, 64, 1)).save(photo)
    Image.fromarray(textured(96, 96, 2)).save(painting)
    # two scales (40 and 80 px: 3 and 13 steps); no early ends, so every run takes every step
    settings = TransferSettings(content=str(photo), styles=(str(painting),), size=80,
                                iterations=16, scales=2, settle=0.0, early_stop=0.0,
                                device="cpu")
    return settings, _run(settings)[0]


@pytest.fixture
def settings(pictures, tmp_path):
    """The pictures' settings with a photo of this test's own (one test changes its time)."""
    s, _ = pictures
    photo = tmp_path / "photo.png"
    photo.write_bytes(Path(s.content).read_bytes())
    return s.replace(content=str(photo))


def _run(settings, checkpoint="", stop_at=None, tuning=EVERY_STEP):
    stop, events = threading.Event(), []

    def on(e):
        events.append(e)
        if stop_at is not None and isinstance(e, Progress) and e.iteration == stop_at:
            stop.set()

    job = StillJob(settings, tuning, checkpoint)
    result = job.prepare(PreviewPolicy(every=0), stop).run(on)
    return result, [e.text for e in events if isinstance(e, Note)]


@pytest.mark.parametrize("stop_at", [2, 3, 9], ids=["first scale", "its end", "second scale"])
def test_a_stopped_render_continues_to_the_uninterrupted_picture(pictures, settings, tmp_path,
                                                                stop_at):
    whole = pictures[1]
    assert whole.iterations == 16
    ck = str(tmp_path / "render.ckpt")
    first, _ = _run(settings, ck, stop_at=stop_at)
    assert first.status == "stopped" and first.iterations == stop_at and os.path.isfile(ck)
    again, notes = _run(settings, ck)
    assert f"Continuing from the checkpoint at iteration {stop_at}" in notes[0]
    assert again.status == "done" and again.iterations == 16
    assert [h["total"] for h in again.losses] == pytest.approx([h["total"] for h in whole.losses],
                                                               rel=1e-5)
    assert np.array_equal(again.image, whole.image)
    assert not os.path.exists(ck)  # a finished render leaves no checkpoint


def test_the_checkpoint_is_kept_as_the_render_goes(settings, tmp_path):
    ck = str(tmp_path / "render.ckpt")
    seen = []

    def on(e):
        if isinstance(e, Progress) and e.iteration == 5:
            got = checkpoints.unfinished(ck)
            seen.append(None if got is None else (got[0], got[1].iterations))

    StillJob(settings, EVERY_STEP, ck).prepare(PreviewPolicy(every=0)).run(on)
    assert seen == [(settings, 5)]  # written after every step here, with its settings


def test_a_checkpoint_that_is_not_this_renders_is_not_used(pictures, settings, tmp_path):
    whole = pictures[1]
    ck = tmp_path / "render.ckpt"
    ck.write_bytes(b"not a checkpoint at all")
    damaged, notes = _run(settings, str(ck))
    assert "was not used (it cannot be read" in notes[0] and damaged.iterations == 16
    assert np.array_equal(damaged.image, whole.image)

    _run(settings, str(ck), stop_at=2)
    other, notes = _run(settings.replace(style_weight=50.0, iterations=4), str(ck))
    assert "it belongs to other settings or other images" in notes[0]
    assert other.iterations == 4

    _run(settings, str(ck), stop_at=2)
    os.utime(settings.content, ns=(0, 0))  # the photo changed since
    assert checkpoints.unfinished(ck) is None
    _, notes = _run(settings.replace(iterations=2), str(ck))
    assert "other settings or other images" in notes[0]


def test_only_the_memory_settings_may_differ(settings, tmp_path):
    ck = str(tmp_path / "render.ckpt")
    _run(settings, ck, stop_at=13)
    again, notes = _run(settings.replace(tile=64, max_memory=100.0), ck)
    assert "Continuing from the checkpoint at iteration 13" in notes[0]
    assert again.iterations == 16
