"""The still-picture job: losses fall, content and style are reached, stop, seeds, events,
failures, and its description round-trips."""
import pickle
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import (DeviceError, ImageError, OutOfMemoryError, Preview, PreviewPolicy,
                      Progress, RunFailedError, SettingsError, StillJob, TransferSettings,
                      Tuning, job_from_dict, job_from_json)
from nst_core.runtime import devices as devices_mod
from nst_core.painting import sizing as sizing_mod
from nst_core.media.color import rgb_to_yiq
from nst_core.runtime.devices import estimate_memory
from nst_core.objective.losses import gram
from nst_core.painting.schedule import plan_scales, start_from_coarser
from nst_core.media.tensors import to_tensor
from nst_core.networks.vgg import VGGFeatures
from tests.conftest import fail_with, make_photo, nan_after, read_rgb

FP32 = Tuning().with_precision("cpu", "float32")
BF16 = Tuning().with_precision("cpu", "bfloat16")


def run_transfer(settings, on_progress=None, stop=None, preview_every=10, tuning=Tuning()):
    """Run a still job to the end; `on_progress` sees every event."""
    run = StillJob(settings, tuning).prepare(PreviewPolicy(every=preview_every), stop)
    return run.run(on_progress)


def progress_of(events):
    return [e for e in events if isinstance(e, Progress)]


def _totals(result):
    return [h["total"] for h in result.losses]


@pytest.mark.parametrize("tuning", [FP32, BF16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_loss_falls(tiny_settings, optimizer, tuning):
    s = tiny_settings.replace(optimizer=optimizer, iterations=10)
    r = run_transfer(s, tuning=tuning)  # both precisions on any CPU
    totals = _totals(r)
    assert len(totals) == 10 and r.iterations == 10 and r.status == "done"
    assert totals[-1] < 0.6 * totals[0]
    assert r.image.shape == (40, 48, 3) and r.image.dtype == np.uint8


def test_content_only_from_noise_approaches_content(tiny_settings, photo_path):
    s = tiny_settings.replace(init="noise", style_weight=0.0, tv_weight=0.0, content_weight=1.0,
                              content_layers=("relu1_1", "relu2_1"), iterations=40)
    r = run_transfer(s)
    target = read_rgb(photo_path).astype(float)
    noise = np.random.default_rng(0).uniform(0, 255, target.shape)  # what the run starts from
    start_err = np.abs(noise - target).mean()
    end_err = np.abs(r.image.astype(float) - target).mean()
    assert end_err < 0.5 * start_err


def test_style_only_brings_gram_distance_down(tiny_settings, painting_path, photo_path):
    s = tiny_settings.replace(content_weight=0.0, tv_weight=0.0, iterations=15)
    layers = list(s.style_layers)
    net = VGGFeatures(layers)
    style = to_tensor(read_rgb(painting_path), torch.device("cpu"))

    def distance(rgb):
        with torch.no_grad():
            a, b = net(to_tensor(rgb, torch.device("cpu"))), net(style)
        return sum(float(((gram(a[n]) - gram(b[n])) ** 2).sum()) for n in layers)

    before = distance(read_rgb(photo_path))
    after = distance(run_transfer(s).image)
    assert after < 0.3 * before


def test_stop_ends_within_one_iteration_and_keeps_an_image(tiny_settings):
    run = StillJob(tiny_settings.replace(iterations=50)).prepare(PreviewPolicy(every=0))
    seen = 0
    for event in run.events():
        if isinstance(event, Progress):
            seen += 1
            if event.iteration == 3:
                run.request_stop()
    assert seen == 3
    r = run.result
    assert r.stopped and r.status == "stopped" and r.iterations == 3
    assert r.reason == "stopped at iteration 3 of 50"
    assert r.image.shape == (40, 48, 3)


def test_stop_during_a_coarse_scale_returns_output_size(photo_path, painting_path):
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=128,
                         iterations=12, multiscale=True, scales=2, device="cpu")
    stop = threading.Event()

    def on_progress(p):
        if isinstance(p, Progress) and p.iteration == 2:
            stop.set()

    r = run_transfer(s, on_progress=on_progress, stop=stop)
    assert r.stopped and r.iterations == 2
    assert r.image.shape == (107, 128, 3)  # output size, upsampled from the 64 px scale


def test_same_seed_same_image_other_seed_other_image(tiny_settings):
    s = tiny_settings.replace(init="noise", iterations=3)
    a, b = run_transfer(s).image, run_transfer(s).image
    c = run_transfer(s.replace(seed=1)).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_events_are_ordered_and_complete(photo_path, painting_path):
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=128,
                         iterations=9, multiscale=True, scales=2, device="cpu")
    everything = []
    r = run_transfer(s, on_progress=everything.append, preview_every=4,
                     tuning=Tuning(coarse_ratio=1.0))  # an even split: 4 + 5
    events = progress_of(everything)
    assert [e.iteration for e in events] == list(range(1, 10))
    assert all(e.total == 9 and e.scales == 2 for e in events)
    assert [e.scale for e in events] == [0] * 4 + [1] * 5
    assert events[0].size == (64, 53) and events[-1].size == (128, 107)
    assert set(events[0].losses) == {"content", "style", "tv", "total"}
    assert all(e.elapsed > 0 for e in events) and events[-1].eta == pytest.approx(0.0, abs=1e-6)
    previews = [e for e in everything if isinstance(e, Preview)]
    assert [e.iteration for e in previews] == [1, 4, 8, 9]  # first, scale ends, 4 apart
    # each preview follows the progress of its iteration
    assert all(everything[everything.index(p) - 1].iteration == p.iteration for p in previews)
    p = previews[-1].image
    assert p.shape == (107, 128, 3) and p.dtype == np.uint8 and p.flags.writeable
    assert r.image.shape == (107, 128, 3)


def test_a_finer_scale_starts_with_the_photos_detail():
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 48, 64, generator=g)  # all detail: noise
    coarse = torch.nn.functional.interpolate(photo, size=(24, 32), mode="area")
    # A coarse result that is the downsampled photo gives back the photo itself ...
    assert torch.allclose(start_from_coarser(coarse, photo), photo, atol=1e-6)
    # ... where upsampling alone loses the detail.
    blurred = start_from_coarser(coarse, photo, carry_detail=False)
    assert float((blurred - photo).abs().mean()) > 0.1
    # A stylized coarse result keeps its own colours: the detail added has zero mean.
    red = torch.zeros(1, 3, 24, 32)
    red[:, 0] = 1.0
    start = start_from_coarser(red, photo)
    assert float(start[:, 0].mean()) == pytest.approx(1.0, abs=0.01)
    assert float(start[:, 1:].mean()) == pytest.approx(0.0, abs=0.01)


def test_plan_scales():
    s = TransferSettings(size=512, iterations=300, multiscale=True, scales=3)
    plan = plan_scales(s, (1024, 768))
    assert [p.size for p in plan] == [(128, 96), (256, 192), (512, 384)]
    assert sum(p.iterations for p in plan) == 300
    assert [p.size for p in plan_scales(s.replace(multiscale=False), (1024, 768))] == [(512, 384)]
    assert len(plan_scales(s.replace(size=100), (1024, 768))) == 1  # no scale under 64 px
    assert [p.iterations for p in plan_scales(s.replace(iterations=2), (1024, 768))] == [1, 1]


def test_several_styles_blend_init_image_and_avg_pooling(tiny_settings, painting2_path, tmp_path):
    init = tmp_path / "start.png"
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(init)
    s = tiny_settings.replace(styles=tiny_settings.styles + (str(painting2_path),),
                              style_blend=(0.7, 0.3), init="image", init_image=str(init),
                              pooling="avg", iterations=12)
    r = run_transfer(s)
    # L-BFGS without a line search may overshoot from a flat start on a 48 px image (more so in
    # bfloat16); the run returns its best image, which must beat the start.
    assert min(_totals(r)) < 0.9 * _totals(r)[0]
    assert r.image.shape == (40, 48, 3)


def test_style_init_starts_from_the_painting(tiny_settings, painting_path):
    s = tiny_settings.replace(init="style", iterations=1)
    events = []
    run_transfer(s, on_progress=events.append, preview_every=1)
    painting = read_rgb(painting_path).astype(float)
    photo = make_photo().astype(float)
    first = next(e for e in events if isinstance(e, Preview)).image.astype(float)
    assert np.abs(first - painting).mean() < np.abs(first - photo).mean()


def test_luminance_mode_keeps_the_content_colours(tiny_settings, photo_path):
    r = run_transfer(tiny_settings.replace(color="luminance", iterations=5))
    photo = to_tensor(read_rgb(photo_path), torch.device("cpu"))
    out = to_tensor(r.image, torch.device("cpu"))
    iq_photo, iq_out = rgb_to_yiq(photo)[:, 1:], rgb_to_yiq(out)[:, 1:]
    assert (iq_photo - iq_out).abs().mean() < 0.02


def test_histogram_mode_runs(tiny_settings):
    r = run_transfer(tiny_settings.replace(color="histogram", iterations=3))
    assert _totals(r)[-1] < _totals(r)[0]


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_image(tiny_settings, monkeypatch):
    nan_after(monkeypatch, 3)
    with pytest.raises(RunFailedError, match="loss became nan at iteration 4") as info:
        run_transfer(tiny_settings.replace(iterations=10))
    r = info.value.result
    assert r is not None and r.iterations == 3 and r.image.shape == (40, 48, 3)
    assert r.status == "failed" and not r.stopped  # a failure is not a stop
    assert "loss became nan" in r.reason


def test_out_of_memory_becomes_a_clear_error(tiny_settings, monkeypatch):
    fail_with(monkeypatch, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB"))
    with pytest.raises(OutOfMemoryError, match="smaller output size") as info:
        run_transfer(tiny_settings)
    # nothing was painted yet: the result is the start image, marked failed
    assert info.value.result.status == "failed" and info.value.result.iterations == 0


def test_inputs_are_checked_before_any_work(tiny_settings, tmp_path):
    with pytest.raises(ImageError, match="not found"):
        StillJob(tiny_settings.replace(styles=(str(tmp_path / "gone.jpg"),))).prepare()
    with pytest.raises(ImageError, match="too small for the network"):
        StillJob(tiny_settings.replace(size=32)).prepare()  # 32x27: relu5_1 would be 2x1
    with pytest.raises(ImageError, match="style scale"):
        StillJob(tiny_settings.replace(style_scale=0.2)).prepare()


def test_unavailable_device_is_refused(tiny_settings):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        StillJob(tiny_settings.replace(device="cuda")).prepare()
    run = StillJob(tiny_settings.replace(device="auto")).prepare()
    assert run.picture.device.type in ("cpu", "mps")


def test_transparency_is_remembered_at_output_size(tiny_settings, tmp_path):
    rgba = np.dstack([make_photo(), np.full((40, 48), 255, np.uint8)])
    rgba[:, :10, 3] = 0
    p = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(p)
    r = run_transfer(tiny_settings.replace(content=str(p), size=96, iterations=1))
    assert r.alpha is not None and r.alpha.shape == (80, 96)
    assert r.alpha[40, 5] == 0 and r.alpha[40, 60] == 255


def test_early_stop_ends_a_converged_scale(photo_path, painting_path):
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=128,
                         iterations=60, multiscale=True, scales=2, device="cpu",
                         early_stop=0.5)  # "converged" as soon as 3 steps gain under 50%
    everything = []
    r = run_transfer(s, on_progress=everything.append, tuning=Tuning(early_stop_window=3))
    events = progress_of(everything)
    its = [e.iteration for e in events]
    assert its == list(range(1, len(its) + 1))  # numbering stays continuous
    assert len(its) < 60 and r.iterations == len(its) and not r.stopped
    assert events[-1].total == len(its) and events[-1].scale == 1  # both scales ran
    assert r.image.shape == (107, 128, 3)
    assert r.reason.startswith("converged at iteration") and r.reason.endswith("of 60")
    without = run_transfer(s.replace(early_stop=0.0, iterations=8))
    assert without.iterations == 8


def test_scale_shares_follow_coarse_ratio():
    t = Tuning(coarse_ratio=2.0)
    plan = plan_scales(TransferSettings(size=512, iterations=70, scales=3), (1024, 768), t)
    assert [p.iterations for p in plan] == [40, 20, 10]
    plan = plan_scales(TransferSettings(size=512, iterations=3, scales=3), (1024, 768), t)
    assert [p.iterations for p in plan] == [1, 1, 1]


def test_memory_estimate_grows_with_size_and_fits_2048_in_24_gb():
    from nst_core.painting.sizing import memory_needed

    s = TransferSettings()
    sizes = [memory_needed(s.replace(size=n), (1024, 768)) for n in (256, 512, 1024, 2048)]
    assert sizes == sorted(sizes)
    assert sizes[3] < 24 * 2**30
    # roughly quadratic in the long side once the fixed runtime is taken off
    base = memory_needed(s.replace(size=32), (1024, 768))
    assert 3.0 < (sizes[3] - base) / (sizes[2] - base) < 4.5
    assert memory_needed(s.replace(optimizer="adam"), (1024, 768)) < sizes[1]
    # 2-byte activations where the network runs in bf16; a longer L-BFGS memory costs more
    assert estimate_memory(s, (512, 384), "cpu", BF16) < estimate_memory(s, (512, 384), "cpu", FP32)
    assert estimate_memory(s, (512, 384), tuning=Tuning(lbfgs_history=100)) > \
        estimate_memory(s, (512, 384), tuning=Tuning(lbfgs_history=10))


def test_a_size_beyond_memory_is_tiled_and_refused_only_when_tiles_cannot_fit(
        tiny_settings, monkeypatch):
    s = tiny_settings.replace(size=512, multiscale=True)
    whole = estimate_memory(s, (512, 427))
    monkeypatch.setattr(sizing_mod, "available_memory", lambda device: whole - 1)
    plan = StillJob(s).prepare().picture.plans[-1]  # first, fewer curvature pairs
    assert plan.tile == 0 and plan.history == 25 and plan.needed <= whole - 1
    few = estimate_memory(s, (512, 427), "cpu", Tuning(), 0, devices_mod.FEW_PAIRS)
    monkeypatch.setattr(sizing_mod, "available_memory", lambda device: few - 1)
    run = StillJob(s).prepare()  # then tiles: the last scale goes in them
    plan = run.picture.plans[-1]
    assert 0 < plan.tile < 512 and plan.needed <= few - 1
    assert plan.history <= devices_mod.FEW_PAIRS
    assert run.picture.plans[0].tile == 0  # the coarse scales fit whole
    least = estimate_memory(s, (512, 427), "cpu", Tuning(), devices_mod.SMALLEST_TILE, 5)
    monkeypatch.setattr(sizing_mod, "available_memory", lambda device: least - 1)
    with pytest.raises(OutOfMemoryError, match=r"needs at least .* GB .*even in tiles.*"
                                               r"up to about \d+ px fits"):
        StillJob(s).prepare()
    # the person's own limit counts instead of the memory free
    monkeypatch.setattr(sizing_mod, "available_memory", lambda device: 2**50)
    with pytest.raises(OutOfMemoryError, match="is allowed"):
        StillJob(s.replace(max_memory=(least - 1) / 2**30)).prepare()


def test_the_size_offered_is_smaller_paintable_and_none_when_nothing_fits(tiny_settings):
    from nst_core.painting.sizing import largest_size_that_fits, memory_needed

    s = tiny_settings.replace(size=256)
    need_128 = memory_needed(s.replace(size=128), (48, 40))
    assert largest_size_that_fits(s, (48, 40), need_128 + 1) == 128
    assert largest_size_that_fits(s, (48, 40), 10**15) == 224  # below the size asked for
    assert largest_size_that_fits(s, (48, 40), 1) == 0  # not even the network fits
    # a wide photo: 32 px long would leave a short side the network cannot paint
    assert largest_size_that_fits(s.replace(size=64), (400, 100), 10**15) == 0


def test_autocast_path_runs_with_float32_losses(tiny_settings):
    """The CUDA path's autocast, exercised on the CPU (bfloat16 autocast exists there too)."""
    r = run_transfer(tiny_settings.replace(iterations=8), tuning=BF16)
    # the targets go through the same bf16 path: the photo itself has no content loss
    assert r.losses[0]["content"] == 0.0
    totals = _totals(r)
    assert all(np.isfinite(totals)) and totals[-1] < totals[0]
    net = VGGFeatures(["relu1_1"])
    feats = net.extract(torch.rand(1, 3, 16, 16), torch.bfloat16)
    assert feats["relu1_1"].dtype == torch.float32


def test_precision_per_device_comes_from_the_tuning():
    assert devices_mod.autocast_dtype(BF16, "cpu") == torch.bfloat16
    assert devices_mod.autocast_dtype(FP32, "cpu") is None
    assert devices_mod.autocast_dtype(Tuning(), "cuda") == torch.bfloat16
    assert devices_mod.autocast_dtype(Tuning(), "mps") is None
    native = devices_mod.fast_cpu_bf16()
    assert devices_mod.autocast_dtype(Tuning(), "cpu") == (torch.bfloat16 if native else None)


def test_the_textbook_optimizer_is_a_tuning_choice(tiny_settings):
    from nst_core.painting.optim import BoxLBFGS
    from nst_core.painting.optimize import make_optimizer

    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    assert isinstance(make_optimizer(x, tiny_settings, Tuning()), BoxLBFGS)
    textbook = make_optimizer(x, tiny_settings, Tuning(lbfgs="torch", lbfgs_history=7))
    assert type(textbook) is torch.optim.LBFGS and textbook.defaults["history_size"] == 7
    r = run_transfer(tiny_settings.replace(iterations=6), tuning=Tuning(lbfgs="torch"))
    assert _totals(r)[-1] < _totals(r)[0]


def test_a_job_round_trips_through_json_and_pickle(tiny_settings):
    job = StillJob(tiny_settings, Tuning(coarse_ratio=0.5, precondition=(), lbfgs_history=9))
    assert job_from_dict(job.to_dict()) == job
    assert job_from_json(job.to_json()) == job
    assert pickle.loads(pickle.dumps(job)) == job
    assert job.to_dict()["kind"] == "still"
    with pytest.raises(SettingsError, match="unknown kind of job 'paint'"):
        job_from_dict({**job.to_dict(), "kind": "paint"})
    with pytest.raises(SettingsError, match="coarse_ratio"):
        job_from_dict({**job.to_dict(), "tuning": {"coarse_ratio": -1}})
    with pytest.raises(SettingsError, match="tuning.speed"):
        job_from_dict({**job.to_dict(), "tuning": {"speed": 2}})


def test_input_files_can_be_relocated(tiny_settings, tmp_path):
    job = StillJob(tiny_settings)
    assert job.input_files() == [tiny_settings.content, *tiny_settings.styles]
    moved = job.with_input_files({tiny_settings.content: "/elsewhere/photo.png"})
    assert moved.settings.content == "/elsewhere/photo.png"
    assert moved.settings.styles == tiny_settings.styles


def test_the_network_is_loaded_once_per_process(tiny_settings):
    a = StillJob(tiny_settings).prepare()
    b = StillJob(tiny_settings.replace(seed=3)).prepare()
    assert a.picture.net is b.picture.net


def test_engine_messages_name_no_command_line_flags():
    """The window shows the engine's messages as they are: they name settings, not flags."""
    import ast
    import re
    from pathlib import Path

    flags = []
    for path in (Path(__file__).resolve().parents[2] / "nst_core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise):
                for const in ast.walk(node):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str) \
                            and re.search(r"--[a-z]", const.value):
                        flags.append(f"{path.name}: {const.value}")
    assert flags == []


def test_the_picture_rule_says_why_the_run_ended(photo_path, painting_path):
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=128,
                         iterations=70, scales=2, device="cpu", early_stop=0.0, settle=1.0)
    first, second = (sc.iterations for sc in plan_scales(s, read_rgb(photo_path).shape[1::-1]))
    assert (first, second) == (16, 54)
    # The 128 px scale refines the 64 px picture; it is "still" as soon as twice in a row 10 of
    # its iterations move the picture no more than its iterations 10-20 did: checked every 10
    # from its iteration 30, so it ends at its 40th at the earliest (L-BFGS slows down as it
    # settles), and always on a multiple of 10
    r = run_transfer(s)
    assert 40 <= r.iterations - first < second and (r.iterations - first) % 10 == 0
    assert r.reason == f"converged at iteration {r.iterations} of 70"
    assert run_transfer(s.replace(settle=0.0, iterations=32)).iterations == 32  # 0: off


def test_the_picture_rule_leaves_a_scale_that_starts_from_the_photo_alone(photo_path,
                                                                          painting_path):
    # One scale, from the photo: its movement while the photo turns into a painting is no
    # reference for "still" (measured, it ended single-scale runs 4-16 windows before they
    # matched their own final picture), so the rule does not end it even at its loosest
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),), size=64,
                         iterations=60, multiscale=False, device="cpu", early_stop=0.0,
                         settle=1.0)
    r = run_transfer(s)
    assert r.iterations == 60 and r.reason == "finished all 60 iterations"
