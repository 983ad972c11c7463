"""Shared fixtures. Qt runs offscreen; images are tiny and made here so the suite stays fast."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image


def make_photo(w: int = 48, h: int = 40, seed: int = 1) -> np.ndarray:
    """A smooth 'photo': gradients and a bright disc, (h, w, 3) uint8; `seed` moves the disc
    (seeds 1 to 4 give four different photos, 1 the default's)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = xx / max(w - 1, 1)
    g = yy / max(h - 1, 1)
    cx = w * (0.6 - 0.1 * ((seed - 1) % 4))
    disc = ((xx - cx) ** 2 + (yy - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2).astype(np.float32)
    b = 0.3 + 0.6 * disc
    img = np.stack([r, g, b], axis=-1)
    return (img * 255).round().astype(np.uint8)


def make_painting(w: int = 48, h: int = 40, seed: int = 2) -> np.ndarray:
    """A textured 'painting': coloured diagonal stripes plus noise, (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    stripes = (np.sin((xx + yy) * 0.9) > 0).astype(np.float32)
    img = np.stack([0.9 * stripes, 0.2 + 0.3 * (1 - stripes), 0.8 * (1 - stripes)], axis=-1)
    img = img + rng.normal(0, 0.08, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def read_rgb(path) -> np.ndarray:
    """An image file's pixels, closing the file."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def image_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


@pytest.fixture
def photo_path(tmp_path):
    p = tmp_path / "photo.png"
    Image.fromarray(make_photo()).save(p)
    return p


@pytest.fixture
def painting_path(tmp_path):
    p = tmp_path / "painting.png"
    Image.fromarray(make_painting()).save(p)
    return p


@pytest.fixture
def painting2_path(tmp_path):
    p = tmp_path / "painting2.png"
    Image.fromarray(make_painting(seed=7)[:, ::-1].copy()).save(p)
    return p


@pytest.fixture
def tiny_settings(photo_path, painting_path):
    """Settings for a run that takes about a second on a CPU."""
    from nst_core import TransferSettings

    return TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=48,
                            iterations=6, multiscale=False, device="cpu")


@pytest.fixture(autouse=True)
def ordinary_scheduling():
    """A test that leaves this process's main thread on a real-time scheduler fails here, named.
    Every thread started after it inherits the policy, and two real-time threads spinning in
    torch's thread pool then starve the rest forever on a 2-core machine: a hang far from its
    cause (SVT-AV1's encoder does this when run as root; see write_clip)."""
    before = os.sched_getscheduler(0)
    yield
    after = os.sched_getscheduler(0)
    assert after == before, f"the test left the process on scheduling policy {after}"


@pytest.fixture(autouse=True)
def app_data(tmp_path, monkeypatch):
    """Every test gets its own app data folder (history, queue), never the person's."""
    folder = tmp_path / "appdata"
    monkeypatch.setenv("NST_STUDIO_DATA", str(folder))
    return folder


@pytest.fixture
def spawn():
    """Start a process like subprocess.Popen; any still running when the test ends (an
    assertion failed before it was waited for) is killed and reaped, so none runs on behind
    the suite."""
    import subprocess

    procs: list[subprocess.Popen] = []

    def start(*args, **kwargs) -> subprocess.Popen:
        procs.append(subprocess.Popen(*args, **kwargs))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def nan_after(monkeypatch, good_calls: int) -> None:
    """Make the objective's loss NaN from the (good_calls + 1)-th evaluation on (a test hook
    into the one objective every job shares)."""
    from nst_core.objective import perceptual as objective
    real, calls = objective.tv_loss, {"n": 0}

    def tv_then_nan(x):
        calls["n"] += 1
        return real(x) * (float("nan") if calls["n"] > good_calls else 1.0)

    monkeypatch.setattr(objective, "tv_loss", tv_then_nan)


def fail_after(monkeypatch, good_calls: int, exc: BaseException) -> None:
    """Make the objective raise `exc` from its (good_calls + 1)-th evaluation on: an injected
    out-of-memory or crash after some good iterations."""
    from nst_core.objective import perceptual as objective
    real, calls = objective.tv_loss, {"n": 0}

    def tv_then_raise(x):
        calls["n"] += 1
        if calls["n"] > good_calls:
            raise exc
        return real(x)

    monkeypatch.setattr(objective, "tv_loss", tv_then_raise)


def fail_with(monkeypatch, exc: BaseException) -> None:
    """Make the objective raise `exc` at its first evaluation (out of memory, a bug)."""
    from nst_core.objective import perceptual as objective
    def boom(x):
        raise exc

    monkeypatch.setattr(objective, "tv_loss", boom)


def write_video(path, frames: int = 6, w: int = 64, h: int = 48, fps: int = 10) -> None:
    """A short clip of a disc moving over gradients (mpeg4 in .mp4)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            rgb = np.roll(make_photo(w, h), 3 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def tiny_train_settings(tmp, steps: int = 2, **changes):
    """A training that takes a second or two: a 4-wide network on 48 px crops."""
    from nst_core.settings.training import TrainSettings

    photos = []
    for i in range(2):
        p = tmp / f"train{i}.png"
        Image.fromarray(make_photo(80, 64, seed=i)[:, ::(1 if i == 0 else -1)].copy()).save(p)
        photos.append(str(p))
    style = tmp / "style.png"
    Image.fromarray(make_painting(96, 80)).save(style)
    base = dict(style=str(style), photos=tuple(photos), output=str(tmp / "tiny.nst"),
                steps=steps, batch=2, crop=48, style_size=64, width=4, blocks=1,
                checkpoint_seconds=3600.0, preview_every=1, device="cpu")
    base.update(changes)
    return TrainSettings(**base)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A model file trained for two steps (the network is nearly untrained, but real)."""
    from nst_core.kinds.train import TrainJob

    tmp = tmp_path_factory.mktemp("tiny-model")
    settings = tiny_train_settings(tmp)
    TrainJob(settings).prepare().run()
    return settings.output


def textured(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (optical flow can follow it), (h, w, 3) uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def clip_frame(i: int, w: int, h: int) -> np.ndarray:
    """Frame `i` of a test clip: a textured background panning 2 px a frame and a textured
    square moving right 4 px a frame over it."""
    bg = textured(w + 80, h, seed=1)[:, 2 * i:2 * i + w].copy()
    side = max(8, h // 3)
    x = 4 + 4 * i
    if x + side <= w:
        bg[h // 3:h // 3 + side, x:x + side] = textured(side, side, seed=2)
    return bg


def write_clip(path, frames: int = 6, w: int = 64, h: int = 48, fps: int = 10,
               tone: float = 0.0, rotation: int = 0, times=None, codec: str = "libx264"):
    """A test clip (clip_frame's frames) in H.264, with a sine tone of `tone` Hz as AAC sound,
    display `rotation` metadata, and frame `times` in seconds (variable rate) when given."""
    import av

    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        _encode_clip(av, path, frames, w, h, fps, tone, rotation, times, codec)
    finally:  # SVT-AV1's encoder makes its caller a real-time thread when run as root
        os.sched_setscheduler(0, policy, param)
    return path


def _encode_clip(av, path, frames, w, h, fps, tone, rotation, times, codec):
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx265":
            video.options = {"x265-params": "log-level=error"}
        if rotation:
            video.set_display_rotation(rotation)
        audio = None
        if tone:
            audio = out.add_stream("aac", rate=44100)
            audio.layout = "mono"
        tb = Fraction(1, 1000)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip_frame(i, w, h), format="rgb24")
            t = times[i] if times is not None else i / fps
            frame.pts, frame.time_base = round(t * 1000), tb
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            seconds = (times[-1] if times is not None else frames / fps) + 0.1
            t = np.arange(int(seconds * 44100)) / 44100
            wave = (0.4 * np.sin(2 * np.pi * tone * t)).astype(np.float32)[None]
            pts = 0
            for k in range(0, wave.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(wave[:, k:k + 1024].copy(), format="fltp",
                                                layout="mono")
                af.sample_rate, af.pts = 44100, pts
                pts += af.samples
                for packet in audio.encode(af):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
