"""Instant styles in the engine: the network, training (steps, stop and resume, NaN), the model
file, applying (tiles, strength, colours) and the camera job."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import NSTError, Preview, Progress, TransferSettings
from nst_core.base.errors import ImageError, ModelError, RunFailedError, SettingsError
from nst_core.kinds.apply import ApplyJob
from nst_core.kinds.camera import CameraJob
from nst_core.kinds.train import TrainJob
from nst_core.networks.stylize import forward_tiled, stylize
from nst_core.catalogue import job_from_json
from nst_core.networks.model_file import load_model, save_model, strip
from nst_core.objective.perceptual import Objective
from nst_core.media.tensors import to_tensor
from nst_core.networks.transformer import NetShape, TransformerNet
from nst_core.networks.vgg import shared_features
from tests.conftest import (
    make_painting,
    make_photo,
    read_rgb,
    tiny_train_settings,
    write_video,
)


@pytest.mark.parametrize("h,w", [(33, 47), (64, 64), (5, 7), (1, 2), (130, 97)])
def test_the_network_keeps_any_size(h, w):
    net = TransformerNet(NetShape(4, 1)).eval()
    with torch.no_grad():
        y = net(torch.rand(1, 3, h, w))
    assert y.shape == (1, 3, h, w)
    assert 0 <= float(y.min()) and float(y.max()) <= 1


def test_upsampling_equals_resize_then_reflection_padded_convolution():
    import torch.nn.functional as F

    from nst_core.networks.transformer import Upsample

    up = Upsample(4, 3)
    x = torch.rand(1, 4, 7, 9)
    big = F.interpolate(x, scale_factor=2, mode="nearest")
    ref = F.relu(up.norm(up.conv(F.pad(big, (1, 1, 1, 1), mode="reflect"))))
    assert torch.allclose(up(x), ref, atol=1e-6)


def test_instance_norm_by_hand():
    from nst_core.networks.transformer import InstanceNorm

    norm = InstanceNorm(1)
    x = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]]]])  # mean 4, variance 5
    expected = (x - 4) / (5 + 1e-5) ** 0.5
    assert torch.allclose(norm(x), expected, atol=1e-6)


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    settings = TransferSettings(content_weight=20.0, styles=("painting",))
    vgg = shared_features(settings.content_layers + settings.style_layers)
    style = to_tensor(make_painting(64, 64))
    objective = Objective.for_styles(vgg.extract, [style], settings)
    net = TransformerNet(NetShape(4, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)  # the training default
    x = torch.cat([to_tensor(make_photo(48, 48, seed=s)) for s in (1, 2)])

    def loss() -> torch.Tensor:
        with torch.no_grad():
            target = vgg.extract(x)
        y = net(x)
        return objective(vgg.extract(y), y, content={n: target[n] for n in objective.content})[
            "total"]

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    after = loss()
    assert after.item() < before.item()


def test_training_writes_a_model_that_round_trips(tmp_path):
    settings = tiny_train_settings(tmp_path, steps=3)
    events = []
    run = TrainJob(settings).prepare()
    result = run.run(events.append)
    steps = [e.iteration for e in events if isinstance(e, Progress)]
    assert steps == [1, 2, 3]
    assert all(e.rate and e.rate > 0 for e in events if isinstance(e, Progress))
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and previews[-1].image.dtype == np.uint8
    assert result.status == "done" and result.steps_done == 3
    model = load_model(settings.output)
    assert model.steps_done == 3 and model.painting == "style"
    assert model.shape == NetShape(4, 1)
    assert model.meta["settings"]["crop"] == 48
    assert model.thumbnail.shape[2] == 3 and model.thumbnail.dtype == np.uint8
    assert model.optimizer is not None  # the checkpoint can resume
    net = model.network()
    for k, v in net.state_dict().items():  # the weights are the trained ones, bit for bit
        assert torch.equal(v, run.net.state_dict()[k])
    shared = strip(settings.output, tmp_path / "shared.nst")
    again = load_model(shared)
    assert again.optimizer is None and again.meta == model.meta
    assert os.path.getsize(shared) < os.path.getsize(settings.output)


def test_the_grid_penalty_is_the_first_steps_pattern_energy_times_its_weight(tmp_path):
    """With `grid_weight`, each step's losses carry "grid": the weight times the energy of the
    pattern the network's pictures repeat in every 4x4 cell (the network's strides), here
    recomputed by hand for the first step from the same crops and the same starting weights."""
    import copy
    import random

    from nst_core.objective.losses import grid_pattern

    settings = tiny_train_settings(tmp_path, steps=1, grid_weight=1e4)
    run = TrainJob(settings).prepare()
    net = copy.deepcopy(run.net).train()
    x = run._batch(random.Random(settings.seed * 1_000_003))
    with torch.no_grad():
        expected = 1e4 * grid_pattern(net(x), 4).item()
    result = run.run()
    assert result.losses[0]["grid"] == pytest.approx(expected, rel=1e-4)
    assert expected > 0
    assert result.losses[0]["total"] == pytest.approx(sum(
        v for k, v in result.losses[0].items() if k != "total"), rel=1e-5)
    plain = TrainJob(tiny_train_settings(tmp_path, steps=1, output=str(tmp_path / "p.nst"),
                                         grid_weight=0.0)).prepare().run()
    assert "grid" not in plain.losses[0]  # off by the setting


def test_stop_then_resume_continues_the_step_count(tmp_path):
    settings = tiny_train_settings(tmp_path, steps=5)
    stop = threading.Event()
    run = TrainJob(settings).prepare(stop=stop)
    for ev in run.events():
        if isinstance(ev, Progress) and ev.iteration == 2:
            stop.set()
    assert run.result.status == "stopped" and run.result.steps_done == 2
    assert load_model(settings.output).steps_done == 2
    run = TrainJob(settings).prepare()
    assert run.resumed and run.start_step == 2
    steps = [e.iteration for e in run.events() if isinstance(e, Progress)]
    assert steps == [3, 4, 5]
    assert load_model(settings.output).steps_done == 5
    # Finished: the same job has nothing left to do; more steps go on from 5.
    assert TrainJob(settings).prepare().run().steps_done == 5
    more = TrainJob(settings.replace(steps=6)).prepare()
    assert [e.iteration for e in more.events() if isinstance(e, Progress)] == [6]


def test_a_model_of_another_painting_is_not_resumed(tmp_path):
    settings = tiny_train_settings(tmp_path, steps=1)
    TrainJob(settings).prepare().run()
    other = tmp_path / "other.png"
    Image.fromarray(make_painting(96, 80, seed=9)).save(other)
    with pytest.raises(SettingsError, match="not of this painting"):
        TrainJob(settings.replace(style=str(other))).prepare()
    TrainJob(settings.replace(style=str(other), restart=True)).prepare().run()  # replaces it
    with pytest.raises(SettingsError, match="width"):
        TrainJob(settings.replace(style=str(other), width=8)).prepare()


def test_a_nan_stops_training_and_keeps_the_last_good_weights(tmp_path, monkeypatch):
    from tests.conftest import nan_after

    settings = tiny_train_settings(tmp_path, steps=6)
    nan_after(monkeypatch, 3)  # the fourth loss evaluation is NaN
    run = TrainJob(settings).prepare()
    with pytest.raises(RunFailedError, match="last good weights") as info:
        for _ in run.events():
            pass
    assert info.value.result.status == "failed"
    model = load_model(settings.output)
    assert model.steps_done == 3
    assert all(torch.isfinite(v).all() for v in model.state.values() if v.is_floating_point())


def test_training_on_a_video(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=5, w=80, h=64)
    settings = tiny_train_settings(tmp_path, steps=1, photos=(str(clip),))
    run = TrainJob(settings).prepare()
    # every frame of a short clip: four to train on, one held out for the previews
    assert len(run.photos) == 4 and run.held_out_unseen and len(run.held) == 1
    assert run.run().steps_done == 1


@pytest.mark.parametrize("content", [b"", b"not a model at all" * 10, "png", "foreign",
                                     "truncated", "newer", "nan"])
def test_bad_model_files_are_refused_in_one_line(tmp_path, tiny_model, content):
    p = tmp_path / "bad.nst"
    if content == "png":
        Image.fromarray(make_photo()).save(p, format="PNG")
    elif content == "foreign":
        torch.save({"weight": torch.zeros(3)}, p)
    elif content == "truncated":
        data = Path(tiny_model).read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif content == "newer":
        data = torch.load(tiny_model, weights_only=True)
        data["version"] = 99
        torch.save(data, p)
    elif content == "nan":
        data = torch.load(tiny_model, weights_only=True)
        next(v for v in data["state"].values() if v.is_floating_point()).fill_(float("nan"))
        torch.save(data, p)
    else:
        p.write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_model(p)
    message = str(info.value)
    assert "\n" not in message and str(p) in message
    with pytest.raises(NSTError):
        ApplyJob(str(p), "x.png").prepare()


def test_a_model_file_that_does_not_exist(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.nst")


def test_saving_a_model_to_a_folder_that_cannot_be_written(tmp_path, tiny_model):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    m = load_model(tiny_model)
    with pytest.raises(ModelError, match="cannot write"):
        save_model(blocker / "m.nst", m.network(), m.meta, m.thumbnail)


def _contrasty_net() -> TransformerNet:
    torch.manual_seed(3)
    net = TransformerNet(NetShape(4, 1)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.2)  # a picture with contrast (output std 0.2)
    return net


def test_tiles_share_the_pictures_statistics_and_leave_no_seam():
    net = _contrasty_net()
    x = to_tensor(make_photo(160, 120))
    with torch.no_grad():
        whole = net(x)
        tiled = forward_tiled(net, x, tile=96, overlap=48, stats_pixels=10**9)
        # The same tiles each normalized on their own, averaged, for comparison.
        alone, count = torch.zeros_like(x), torch.zeros_like(x)
        for y0 in (0, 24):
            for x0 in (0, 48, 64):
                alone[..., y0:y0 + 96, x0:x0 + 96] += net(x[..., y0:y0 + 96, x0:x0 + 96])
                count[..., y0:y0 + 96, x0:x0 + 96] += 1
    err = (tiled - whole).abs().mean().item()
    err_alone = (alone / count - whole).abs().mean().item()
    assert err < 0.005 and err < err_alone / 5
    # No seam: across each tile border the picture changes no more than elsewhere.
    steps = (tiled[..., :, 1:] - tiled[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    assert steps[47:50].max() < 2 * steps.median() + 0.01
    assert all(m.stats is None and m.mode == "normal" for m in net.norms())  # cleaned up


def test_stylize_goes_to_tiles_when_a_picture_is_large():
    net = _contrasty_net()
    rgb = make_photo(200, 150)
    direct = stylize(net, rgb, tile_pixels=10**9)
    tiled = stylize(net, rgb, tile_pixels=10_000)  # tiles of 256 px (the smallest) after
    # statistics measured on a 115x86 copy
    assert tiled.shape == direct.shape == rgb.shape
    diff = np.abs(tiled.astype(int) - direct.astype(int))
    assert 0 < diff.mean() < 8  # statistics from the small copy, close to the whole's


def test_strength_and_colours(tiny_model):
    net = load_model(tiny_model).network()
    rgb = make_photo(64, 48)
    full = stylize(net, rgb).astype(int)
    none = stylize(net, rgb, strength=0.0)
    half = stylize(net, rgb, strength=0.5).astype(int)
    assert np.array_equal(none, rgb)
    assert np.abs(half - (full + rgb) / 2).max() <= 1
    kept = stylize(net, rgb, colors="keep").astype(float)
    # Keep colours: the photo's chroma (YIQ's I and Q) with the picture's luminance.
    from nst_core.media.color import rgb_to_yiq

    yiq_kept = rgb_to_yiq(torch.tensor(kept).permute(2, 0, 1)[None] / 255)
    yiq_photo = rgb_to_yiq(torch.tensor(rgb.astype(float)).permute(2, 0, 1)[None] / 255)
    yiq_full = rgb_to_yiq(torch.tensor(full.astype(float)).permute(2, 0, 1)[None] / 255)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert (yiq_kept[:, 1:] - yiq_photo[:, 1:])[inner].abs().mean() < 0.02
    assert (yiq_kept[:, :1] - yiq_full[:, :1])[inner].abs().mean() < 0.02


def test_apply_job(tiny_model, photo_path):
    job = ApplyJob(tiny_model, str(photo_path), size=64)
    assert job_from_json(job.to_json()) == job
    events = []
    result = job.prepare().run(events.append)
    assert result.image.shape == (53, 64, 3)  # 48x40 photo at a long side of 64
    assert result.painting == "style"
    assert any(isinstance(e, Preview) for e in events)
    photo = read_rgb(photo_path)
    assert not np.array_equal(ApplyJob(tiny_model, str(photo_path)).prepare().run().image, photo)
    for bad in (dict(strength=1.5), dict(color="sepia"), dict(size=3)):
        with pytest.raises(SettingsError):
            ApplyJob(tiny_model, str(photo_path), **bad).prepare()
    with pytest.raises(ImageError):
        ApplyJob(tiny_model, str(photo_path) + ".missing").prepare()


def test_camera_job_with_a_video_standing_in(tmp_path, tiny_model):
    clip = tmp_path / "camera.mp4"
    write_video(clip, frames=7)
    events = []
    result = CameraJob(tiny_model, str(clip), size=64).prepare().run(events.append)
    frames = [e for e in events if isinstance(e, Preview)]
    assert result.frames == 7 and len(frames) == 7 and result.status == "done"
    assert frames[0].image.shape == (48, 64, 3)
    assert not np.array_equal(frames[0].image, frames[3].image)  # the disc moved
    stop = threading.Event()
    run = CameraJob(tiny_model, str(clip), size=64).prepare(stop=stop)
    for ev in run.events():
        if isinstance(ev, Preview):
            stop.set()
    assert run.result.frames == 1 and run.result.status == "stopped"
    with pytest.raises(ImageError):
        CameraJob(tiny_model, str(tmp_path / "none.mp4")).prepare()


def test_a_camera_job_round_trips_and_refuses_what_it_does_not_know(tiny_model):
    job = CameraJob(tiny_model, source="clip.mp4", size=96, max_frames=5)
    assert job_from_json(job.to_json()) == job
    data = job.to_dict()
    for bad, field_name in (({**data, "fps": 30}, "fps"), ({**data, "size": "large"}, "camera"),
                            ({k: v for k, v in data.items() if k != "model"}, "model")):
        with pytest.raises(SettingsError) as e:
            job_from_json(json.dumps(bad))
        assert e.value.field == field_name


def test_a_trainings_time_is_its_steps_at_the_engines_pace(monkeypatch, tmp_path):
    """Each step costs TRAIN_STEP_COST optimization iterations over the batch's pixels."""
    from nst_core.kinds import train
    from nst_core.settings.training import TrainSettings

    monkeypatch.setattr(train.pace, "known_cost", lambda device, precision="float32":
                        (lambda pixels: pixels * 1e-6))
    s = TrainSettings(style="s.jpg", photos=("p.jpg",), output=str(tmp_path / "m.nst"),
                      steps=1600, batch=4, crop=128, device="cpu")
    step = 1.45 * 4 * 128 * 128 * 1e-6
    assert train.estimated_seconds(s) == pytest.approx(1600 * step)
    assert train.estimated_seconds(s, steps_done=1500) == pytest.approx(100 * step)
    assert train.estimated_seconds(s, steps_done=2000) == 0
