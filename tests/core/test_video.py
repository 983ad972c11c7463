"""Video: reading and writing clips (PyAV), optical flow and reliability, the video job."""
from __future__ import annotations

import errno
import json
import threading

import numpy as np
import pytest

from nst_core.temporal import flow
from nst_core.base.errors import ImageError, OutputExistsError, RunFailedError, SettingsError
from nst_core.base.events import Note, Preview, Progress
from nst_core.media.video import even_size, probe, read_frames, select_times
from nst_core.media.video_out import write_video
from nst_core.kinds.video import VideoJob, VideoRun
from nst_core.media.frame_cache import FrameWriter, cache_dir
from nst_core.settings.video import VideoSettings
from tests.conftest import clip_frame, read_rgb, textured, write_clip


# ---- flow ------------------------------------------------------------------------------------
def test_flow_and_warp_recover_a_known_shift():
    big = textured(140, 110, seed=3)
    a = big[5:101, 5:133]  # 96x128
    b = big[7:103, 8:136]  # b(p) = a(p + (3, 2)), so a(p) = b(p - (3, 2))
    f = flow.flow(a, b)
    assert np.median(f[..., 0]) == pytest.approx(-3.0, abs=0.2)
    assert np.median(f[..., 1]) == pytest.approx(-2.0, abs=0.2)
    back = flow.warp(b.astype(np.float32), f)
    inner = (slice(10, -10), slice(10, -10))
    assert np.abs(back[inner] - a[inner]).mean() < 3.0  # of 255; the unwarped b is far off
    assert np.abs(b[inner].astype(np.float32) - a[inner]).mean() > 15.0


@pytest.mark.parametrize("max_side", [None, 200])
def test_trusted_flow_measured_on_shrunk_frames_comes_back_at_full_size(max_side):
    big = textured(420, 320, seed=6)
    previous = big[5:305, 5:405]  # 300x400
    current = big[9:309, 11:411]  # current(p) = previous(p + (6, 4))
    back, trust = flow.trusted_flow(current, previous, max_side)
    assert back.shape == (300, 400, 2) and trust.shape == (300, 400)
    assert np.median(back[..., 0]) == pytest.approx(6.0, abs=0.4)  # vectors in full-size px
    assert np.median(back[..., 1]) == pytest.approx(4.0, abs=0.4)
    assert trust[20:-20, 20:-20].mean() > 0.9 and trust[:, -3:].mean() < 0.2  # leaves the frame


def test_warp_reads_at_p_plus_the_field():
    img = np.arange(20, dtype=np.float32).reshape(4, 5)
    field = np.zeros((4, 5, 2), np.float32)
    field[..., 0] = 1.0  # read one pixel to the right
    out = flow.warp(img, field)
    assert out[1, 0] == img[1, 1] and out[2, 3] == img[2, 4]
    assert out[2, 4] == img[2, 4]  # the border repeats


def test_reliability_is_zero_where_a_moving_object_uncovers_background():
    bg = textured(256, 192, seed=4)
    obj = textured(48, 48, seed=5)
    prev, cur = bg.copy(), bg.copy()
    prev[72:120, 80:128] = obj
    cur[72:120, 88:136] = obj  # the square moved 8 px right: x 80..88 is uncovered in cur
    back, fwd = flow.flow(cur, prev), flow.flow(prev, cur)
    r = flow.reliability(back, fwd)
    assert r.shape == (192, 256) and r.dtype == np.float32
    assert r[76:116, 81:87].mean() < 0.1  # the uncovered strip
    assert r[10:50, 150:250].mean() > 0.95  # still background
    assert r[80:110, 100:125].mean() > 0.9  # the inside of the moving square is matched


def test_reliability_is_zero_where_the_flow_leaves_the_frame():
    back = np.zeros((20, 30, 2), np.float32)
    back[..., 0] = -5.0  # every pixel comes from 5 px to the left
    fwd = -back
    r = flow.reliability(back, fwd, blur=0)
    assert (r[:, :5] == 0).all() and (r[:, 5:] == 1).all()


def test_warping_error_is_near_zero_for_a_steady_picture_and_grows_with_flicker():
    rng = np.random.default_rng(0)
    inputs = [clip_frame(i, 128, 96) for i in range(2)]
    steady = flow.warping_error(inputs[0], inputs[1], inputs[0], inputs[1])
    noisy = [np.clip(x / 255.0 + rng.normal(0, 0.1, x.shape), 0, 1) for x in inputs]
    flicker = flow.warping_error(noisy[0], noisy[1], inputs[0], inputs[1])
    assert steady < 0.002
    # two independent noises of sd 0.1 (slightly reduced by clipping): about 2 * 0.01
    assert 0.014 < flicker < 0.024


def test_steady_blend_keeps_texture_where_a_plain_mix_fades_it():
    cur = textured(64, 64, seed=6).astype(np.float32)
    other = textured(64, 64, seed=7).astype(np.float32)
    half = np.full((64, 64), 0.5, np.float32)
    assert np.array_equal(flow.steady_blend(cur, other, np.zeros_like(half)), cur)
    same = flow.steady_blend(cur, cur, half)
    assert np.abs(same - cur).max() < 1e-3  # where they agree nothing changes
    plain = cur + 0.5 * (other - cur)
    steady = flow.steady_blend(cur, other, half)

    def detail(x):  # the strokes: what a blur of the blend's radius removes
        import cv2

        return (x - cv2.GaussianBlur(x, (0, 0), 2.0))[8:-8, 8:-8].std()

    assert detail(plain) < 0.8 * detail(cur)  # the plain mix fades the texture
    assert detail(steady) == pytest.approx(detail(cur), rel=0.1)
    assert abs(steady.mean() - plain.mean()) < 1.0  # and keeps the mix's brightness


# ---- reading and writing -------------------------------------------------------------------
def test_probe_reads_size_rate_length_and_sound(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", frames=8, w=64, h=48, fps=10, tone=440)
    info = probe(clip)
    assert (info.width, info.height, info.frames, info.codec) == (64, 48, 8, "h264")
    assert info.fps == pytest.approx(10) and info.duration == pytest.approx(0.8)
    assert info.audio == "aac"


def test_rotation_metadata_is_applied(tmp_path):
    clip = write_clip(tmp_path / "r.mp4", frames=2, w=64, h=48, rotation=90)
    info = probe(clip)
    assert info.rotation == 90 and info.size == (48, 64)
    first = next(read_frames(clip))
    assert first.rgb.shape == (64, 48, 3)
    # turned a quarter anticlockwise: the frame's top row becomes its left column
    upright = np.rot90(clip_frame(0, 64, 48))
    assert np.abs(first.rgb.astype(int) - upright).mean() < 12


def test_frames_keep_their_timestamps_and_limits(tmp_path):
    times = [0.0, 0.1, 0.15, 0.5, 0.9, 1.0]  # a variable frame rate
    clip = write_clip(tmp_path / "v.mp4", frames=6, times=times)
    got = [f.time for f in read_frames(clip)]
    assert got == pytest.approx(times, abs=1e-3)
    assert [f.time for f in read_frames(clip, start=0.12, end=0.95)] == \
        pytest.approx([0.15, 0.5, 0.9], abs=1e-3)
    assert [f.time for f in read_frames(clip, max_fps=5)] == pytest.approx([0.0, 0.5, 0.9],
                                                                            abs=1e-3)
    assert probe(clip).frame_times(max_fps=5) == pytest.approx([0.0, 0.5, 0.9], abs=1e-3)
    small = next(read_frames(clip, size=(32, 24)))
    assert small.rgb.shape == (24, 32, 3)


def test_select_times_by_hand():
    times = [i / 30 for i in range(30)]
    assert len(select_times(times, max_fps=10)) == 10
    assert select_times(times, start=0.5, end=0.6) == pytest.approx([15 / 30, 16 / 30, 17 / 30])
    assert even_size(1920, 1080, 384) == (384, 216)
    w, h = even_size(101, 51, 101)
    assert w % 2 == 0 and h % 2 == 0 and abs(w - 101) == 1 and abs(h - 51) == 1


def test_write_video_keeps_variable_timestamps_and_copies_the_sound(tmp_path):
    src = write_clip(tmp_path / "s.mp4", frames=4, tone=440)
    frames = [(t, clip_frame(i, 64, 48)) for i, t in enumerate([0.0, 0.1, 0.15, 0.4])]
    out = write_video(tmp_path / "o.mp4", frames, 10, audio_from=src)
    assert [f.time for f in read_frames(out)] == pytest.approx([0.0, 0.1, 0.15, 0.4], abs=1e-3)
    assert probe(out).audio == "aac"
    with pytest.raises(OutputExistsError):
        write_video(out, frames, 10)
    assert list(tmp_path.glob(".o.mp4*")) == []  # no temporary file left behind


# ---- the job ---------------------------------------------------------------------------------
def _instant(tmp_path, model, clip, output="out.mp4", **changes) -> VideoSettings:
    from nst_core.settings.video import VIDEO_PICTURE

    base = dict(content=str(clip), output=str(tmp_path / output), method="instant",
                model=model, picture=VIDEO_PICTURE.replace(size=64, device="cpu"))
    base.update(changes)
    return VideoSettings(**base)


def _decoded_tone(path) -> tuple[float, float]:
    """The sound's length in seconds and its strongest frequency in Hz."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(stream)])  # channel 1
    spectrum = np.abs(np.fft.rfft(samples))
    return len(samples) / rate, float(np.argmax(spectrum) * rate / len(samples))


def test_instant_video_keeps_every_frame_its_timing_and_its_sound(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "c.mp4", frames=8, tone=440)
    run = VideoJob(_instant(tmp_path, tiny_model, clip)).prepare()
    events = list(run.events())
    result = run.result
    assert result.status == "done" and result.frames == 8
    out = tmp_path / "out.mp4"
    assert result.output == str(out) and out.is_file()
    assert not cache_dir(out).exists()  # the frames kept while it rendered are gone
    info = probe(out)
    assert info.frames == 8 and info.size == (64, 48) and info.audio == "aac"
    assert [f.time for f in read_frames(out)] == pytest.approx([i / 10 for i in range(8)],
                                                               abs=1e-3)
    seconds, freq = _decoded_tone(out)
    assert seconds == pytest.approx(_decoded_tone(clip)[0], abs=0.05)
    assert freq == pytest.approx(440, abs=5)
    assert sum(isinstance(e, Preview) for e in events) == 8
    frames_done = [e.scale for e in events if isinstance(e, Progress)]
    assert frames_done == list(range(8))


def test_stability_reduces_the_warping_error(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "c.mp4", frames=6, w=96, h=64)
    errors = {}
    for stability in (0.0, 0.6):
        out = f"stable{round(stability * 10)}"
        VideoJob(_instant(tmp_path, tiny_model, clip, out, stability=stability,
                          picture=_instant(tmp_path, tiny_model, clip).picture.replace(
                              size=96))).prepare().run()
        outs = [read_rgb(p) for p in sorted((tmp_path / out).glob("frame_*.png"))]
        ins = [clip_frame(i, 96, 64) for i in range(6)]
        errors[stability] = np.mean([flow.warping_error(outs[i - 1], outs[i], ins[i - 1],
                                                        ins[i]) for i in range(1, 6)])
    assert errors[0.6] < 0.6 * errors[0.0]


def _stopped_after(settings: VideoSettings, frames: int):
    """A render of `settings` stopped once `frames` frames are painted; its run."""
    stop = threading.Event()
    run = VideoJob(settings).prepare(stop=stop)
    for event in run.events():
        if isinstance(event, Preview) and event.iteration == frames:
            stop.set()
    return run


def test_a_stopped_render_resumes_and_has_every_frame_once(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "c.mp4", frames=7)
    whole = _instant(tmp_path, tiny_model, clip, "whole")
    VideoJob(whole).prepare().run()
    settings = _instant(tmp_path, tiny_model, clip, "parts")
    run = _stopped_after(settings, 3)
    assert run.result.status == "stopped" and run.result.frames == 3
    assert "run the same render again" in run.result.reason
    cache = cache_dir(tmp_path / "parts")
    assert sorted(p.name for p in cache.glob("*.png")) == [f"{i:06d}.png" for i in range(3)]
    assert not (tmp_path / "parts").exists()  # nothing appears until it is complete

    again = VideoJob(settings).prepare()
    assert again.done == 3
    notes = [e.text for e in again.events() if isinstance(e, Note)]
    assert any("Continuing from frame 4 of 7" in n for n in notes)
    assert again.result.status == "done" and again.result.iterations == [1] * 4
    parts = sorted((tmp_path / "parts").glob("frame_*.png"))
    assert [p.name for p in parts] == [f"frame_{i:06d}.png" for i in range(1, 8)]
    for a, b in zip(parts, sorted((tmp_path / "whole").glob("frame_*.png"))):
        assert np.array_equal(read_rgb(a), read_rgb(b))  # as if it had never stopped
    assert not cache.exists()


def test_a_damaged_kept_frame_is_painted_again_and_the_render_finishes(tmp_path, tiny_model):
    """A kept frame that does not read back whole is no dead end: it and the frames after it
    are painted again, said in one line, and the video is written."""
    clip = write_clip(tmp_path / "c.mp4", frames=5)
    settings = _instant(tmp_path, tiny_model, clip, "out.mp4")
    assert _stopped_after(settings, 3).result.frames == 3
    kept = cache_dir(tmp_path / "out.mp4") / "000001.png"
    kept.write_bytes(kept.read_bytes()[:60])  # truncated, as a full disk or a crash leaves it
    again = VideoJob(settings).prepare()
    assert again.done == 1
    notes = [e.text for e in again.events() if isinstance(e, Note)]
    assert any("Frame 2 kept from before does not read back whole" in n for n in notes)
    assert again.result.status == "done" and again.result.iterations == [1] * 4
    assert probe(tmp_path / "out.mp4").frames == 5


def test_the_frame_writer_bounds_the_frames_outstanding_and_raises_a_failed_write():
    gate, written = threading.Event(), []

    def save(index, rgb):
        gate.wait(10)
        if index == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(index)

    writer = FrameWriter(save, workers=2)
    for i in range(4):  # twice the threads may be outstanding: these return at once
        writer.submit(i, None)
    fifth = threading.Thread(target=writer.submit, args=(4, None))
    fifth.start()
    fifth.join(0.3)
    assert fifth.is_alive() and written == []  # the fifth waits for a write to finish
    gate.set()
    fifth.join(10)
    assert not fifth.is_alive()
    writer.submit(5, None)
    writer.submit(6, None)
    with pytest.raises(OSError, match="No space"):
        writer.flush()
    writer.close()
    assert sorted(written) == [0, 1, 2, 3, 4, 6]


def test_a_disk_that_fills_while_frames_are_kept_fails_in_one_line_and_resumes(
        tmp_path, tiny_model, monkeypatch):
    clip = write_clip(tmp_path / "c.mp4", frames=7)
    settings = _instant(tmp_path, tiny_model, clip)
    save = VideoRun._save_frame

    def fills_at_frame_5(self, index, rgb):
        if index == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        save(self, index, rgb)

    monkeypatch.setattr(VideoRun, "_save_frame", fills_at_frame_5)
    with pytest.raises(RunFailedError, match="the disk is full.*free some space") as failed:
        VideoJob(settings).prepare().run()
    assert "\n" not in str(failed.value)
    assert not (tmp_path / "out.mp4").exists()
    kept = {p.name for p in cache_dir(tmp_path / "out.mp4").glob("*.png")}
    assert {f"{i:06d}.png" for i in range(4)} <= kept and "000004.png" not in kept

    monkeypatch.setattr(VideoRun, "_save_frame", save)
    again = VideoJob(settings).prepare()
    assert again.done == 4
    assert again.run().status == "done" and probe(tmp_path / "out.mp4").frames == 7


def test_frames_of_another_render_are_not_overwritten(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "c.mp4", frames=4)
    settings = _instant(tmp_path, tiny_model, clip, "x.mp4")
    stop = threading.Event()
    stop.set()
    VideoJob(settings).prepare(stop=stop).run()
    assert cache_dir(tmp_path / "x.mp4").is_dir()
    other = settings.replace(strength=0.5)
    with pytest.raises(OutputExistsError, match="other settings"):
        VideoJob(other).prepare()
    VideoJob(other.replace(overwrite=True)).prepare().run()
    assert probe(tmp_path / "x.mp4").frames == 4


def test_an_existing_output_is_kept(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "c.mp4", frames=2)
    (tmp_path / "out.mp4").write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        VideoJob(_instant(tmp_path, tiny_model, clip)).prepare()
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"


def test_the_first_frame_is_painted_as_the_still_picture_of_that_frame(tmp_path,
                                                                       painting_path):
    """Nothing holds the first frame, so it is painted as "Preview This Frame" paints it: a
    still picture, coarse-to-fine (two scales here, 64 then 128 px)."""
    from nst_core import StillJob
    from nst_core.media.images import save_image
    from nst_core.settings.video import VIDEO_PICTURE

    clip = write_clip(tmp_path / "c.mp4", frames=2, w=128, h=96)
    picture = VIDEO_PICTURE.replace(styles=(str(painting_path),), size=128, iterations=20,
                                    scales=2, early_stop=0.0, settle=0.0, device="cpu")
    out = tmp_path / "frames"
    run = VideoJob(VideoSettings(content=str(clip), output=str(out), picture=picture,
                                 frame_iterations=3)).prepare()
    events = list(run.events())
    assert run.result.status == "done" and run.result.iterations == [20, 3]
    first_frame = [e for e in events if isinstance(e, Progress) and e.scale == 0]
    assert {e.size for e in first_frame} == {(128, 96)}  # reported in the video's terms
    assert [e.iteration for e in first_frame if e.losses] == list(range(1, 21))

    photo = tmp_path / "frame1.png"
    save_image(photo, next(iter(read_frames(clip, size=(128, 96)))).rgb)
    still = StillJob(picture.replace(content=str(photo)))
    scales = still.prepare().picture.scales
    assert [sc.size for sc in scales] == [(64, 48), (128, 96)]  # it is coarse-to-fine
    expected = still.prepare()
    for _ in expected.events():
        pass
    painted = read_rgb(sorted(out.glob("frame_*.png"))[0])
    diff = np.abs(painted.astype(int) - expected.result.image.astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 3


def test_a_nan_in_a_frame_painted_as_a_still_fails_in_one_line_and_keeps_the_frames(
        tmp_path, painting_path, monkeypatch):
    """Every frame is painted as a still at temporal weight 0; the third one's loss turns NaN:
    the run fails naming the frame, and the two finished frames stay for the next try."""
    from nst_core.base.errors import RunFailedError
    from nst_core.settings.video import VIDEO_PICTURE
    from tests.conftest import nan_after

    clip = write_clip(tmp_path / "c.mp4", frames=4, w=64, h=48)
    picture = VIDEO_PICTURE.replace(styles=(str(painting_path),), size=64, iterations=4,
                                    early_stop=0.0, device="cpu")
    out = tmp_path / "v.mp4"
    run = VideoJob(VideoSettings(content=str(clip), output=str(out), picture=picture,
                                 temporal_weight=0.0)).prepare()
    nan_after(monkeypatch, 2 * 4 + 1)  # two frames of 4 evaluations, then one good step
    with pytest.raises(RunFailedError) as info:
        for _ in run.events():
            pass
    text = str(info.value)
    assert text.startswith("Frame 3: The loss became nan") and "\n" not in text
    assert str(cache_dir(out)) in text
    assert info.value.result.status == "failed"
    assert sorted(p.name for p in cache_dir(out).glob("[0-9]*.png")) == \
        ["000000.png", "000001.png"]
    assert not out.exists()


def test_optimize_holds_frames_to_the_warped_previous_one(tmp_path, painting_path):
    from nst_core.settings.video import VIDEO_PICTURE

    clip = write_clip(tmp_path / "c.mp4", frames=4, w=64, h=48)
    picture = VIDEO_PICTURE.replace(styles=(str(painting_path),), size=64, iterations=12,
                                    early_stop=0.0, device="cpu")
    errors = {}
    for weight in (0.0, 5000.0):
        out = tmp_path / f"w{weight:g}"
        run = VideoJob(VideoSettings(content=str(clip), output=str(out), picture=picture,
                                     temporal_weight=weight, frame_iterations=6)).prepare()
        progress = [e for e in run.events() if isinstance(e, Progress) and e.losses]
        assert run.result.status == "done"
        # the first frame takes the picture's iterations; later ones the frame iterations
        # when held to the previous frame, else the picture's again
        assert run.result.iterations == ([12, 6, 6, 6] if weight else [12] * 4)
        if weight:
            later = [p.losses["temporal"] for p in progress if p.scale > 0]
            assert max(later) > 0
        outs = [read_rgb(p) for p in sorted(out.glob("frame_*.png"))]
        ins = [f.rgb for f in read_frames(clip)]
        errors[weight] = np.mean([flow.warping_error(outs[i - 1], outs[i], ins[i - 1], ins[i])
                                  for i in range(1, 4)])
    assert errors[5000.0] < 0.5 * errors[0.0]


def test_the_picture_rule_ends_only_frames_that_start_from_the_one_before(tmp_path,
                                                                          painting_path):
    """A frame painted from the photo runs all its iterations (its movement while it turns
    into a painting is no reference for "still", as for a still picture's first scale); a
    frame that starts from the warped previous one is ended by the rule at its loosest."""
    from nst_core.settings.video import VIDEO_PICTURE

    clip = write_clip(tmp_path / "c.mp4", frames=2, w=64, h=48)
    picture = VIDEO_PICTURE.replace(styles=(str(painting_path),), size=48, iterations=50,
                                    multiscale=False, early_stop=0.0, settle=1.0, device="cpu")
    for weight in (0.0, 5000.0):
        run = VideoJob(VideoSettings(content=str(clip), output=str(tmp_path / f"w{weight:g}"),
                                     picture=picture, temporal_weight=weight,
                                     frame_iterations=60)).prepare()
        list(run.events())
        assert run.result.status == "done"
        first, second = run.result.iterations
        assert first == 50  # from the photo: every iteration
        if weight:  # from the previous frame: ended on a check, the 40th at the earliest
            assert 40 <= second < 60 and second % 10 == 0, second
        else:
            assert second == 50


def test_video_jobs_round_trip_as_json(tmp_path):
    from nst_core.catalogue import job_from_json

    job = VideoJob(VideoSettings(content="a.mp4", output="b.mp4", start=1.5, long_term=True))
    again = job_from_json(job.to_json())
    assert again == job and again.kind == "video"
    assert json.loads(job.to_json())["settings"]["picture"]["size"] == 384


def test_a_video_job_reads_its_files_from_where_a_worker_has_them():
    from nst_core.kinds.video_chunk import VideoChunkJob
    from nst_core.settings.video import VIDEO_PICTURE

    picture = VIDEO_PICTURE.replace(styles=("/driver/wave.jpg", "/driver/scream.jpg"))
    job = VideoJob(VideoSettings(content="/driver/clip.mp4", output="out.mp4", picture=picture))
    moved = job.with_input_files({"/driver/clip.mp4": "/worker/1.mp4",
                                  "/driver/wave.jpg": "/worker/2.jpg"})
    assert moved.input_files() == ["/worker/1.mp4", "/worker/2.jpg", "/driver/scream.jpg"]
    assert moved.settings.output == "out.mp4" and job.input_files()[0] == "/driver/clip.mp4"
    chunk = VideoChunkJob(job.settings, 2, 5).with_input_files({"/driver/clip.mp4": "/w/c.mp4"})
    assert (chunk.settings.content, chunk.first, chunk.end) == ("/w/c.mp4", 2, 5)


def test_a_chunk_run_dropped_before_its_events_leaves_no_folder(tmp_path, tiny_model):
    import gc

    from nst_core.kinds.video_chunk import VideoChunkJob

    clip = write_clip(tmp_path / "clip.mp4", frames=4)
    run = VideoChunkJob(_instant(tmp_path, tiny_model, clip), 0, 2).prepare()
    folder = run.folder
    assert folder.is_dir()
    del run
    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize("changes, field", [
    (dict(end=1.0, start=2.0), "end"),
    (dict(method="instant"), "model"),
    (dict(temporal_weight=-1.0), "temporal_weight"),
    (dict(stability=1.5), "stability"),
    (dict(quality=60), "quality"),
    (dict(content=""), "content"),
])
def test_bad_video_settings_say_which(changes, field, painting_path):
    from nst_core.settings.video import VIDEO_PICTURE

    s = VideoSettings(content="a.mp4", output="b.mp4",
                      picture=VIDEO_PICTURE.replace(styles=(str(painting_path),)))
    with pytest.raises(SettingsError) as e:
        s.replace(**changes).validate()
    assert e.value.field == field


def _hostile(tmp_path, kind: str):
    p = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("not a video\n" * 50)
    elif kind == "truncated":
        whole = write_clip(tmp_path / "whole.mp4", frames=10).read_bytes()
        p.write_bytes(whole[: len(whole) // 3])
    elif kind == "audio_only":
        import av

        with av.open(str(p), "w") as out:
            a = out.add_stream("aac", rate=44100)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 44100, 0
            for packet in [*a.encode(frame), *a.encode()]:
                out.mux(packet)
    elif kind == "missing":
        pass
    return p


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "audio_only", "missing"])
def test_hostile_clips_are_refused_in_one_line(tmp_path, tiny_model, kind):
    clip = _hostile(tmp_path, kind)
    with pytest.raises(ImageError) as e:
        VideoJob(_instant(tmp_path, tiny_model, clip)).prepare()
    assert "\n" not in str(e.value) and str(clip) in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


def test_absurd_sizes_and_lengths_are_refused(tmp_path, tiny_model, monkeypatch):
    from nst_core.media import video
    clip = write_clip(tmp_path / "c.mp4", frames=5)
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 64 * 40)
    with pytest.raises(ImageError, match="larger than this app handles"):
        probe(clip)
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 10**9)
    monkeypatch.setattr(video, "MAX_FRAMES", 3)
    with pytest.raises(ImageError, match="cut the clip first"):
        probe(clip)


@pytest.mark.parametrize("name, codec", [("c.webm", "libvpx-vp9"), ("c.mkv", "libx265"),
                                         ("c.mov", "libx264"), ("c.mkv", "libsvtav1")])
def test_common_containers_and_codecs_are_read(tmp_path, name, codec):
    w, h = (64, 48) if codec != "libsvtav1" else (128, 96)  # SVT-AV1 wants 64 px at least
    clip = write_clip(tmp_path / name, frames=3, w=w, h=h, codec=codec)
    info = probe(clip)
    assert info.size == (w, h) and info.frames == 3
    frames = list(read_frames(clip))
    assert len(frames) == 3 and frames[0].rgb.shape == (h, w, 3)
    assert np.abs(frames[1].rgb.astype(int) - clip_frame(1, w, h)).mean() < 20


def test_a_damaged_model_is_refused_before_anything_is_written(tmp_path):
    from nst_core.base.errors import ModelError

    clip = write_clip(tmp_path / "c.mp4", frames=2)
    bad = tmp_path / "bad.nst"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError):
        VideoJob(_instant(tmp_path, str(bad), clip)).prepare()
    assert not (tmp_path / "out.mp4").exists() and not cache_dir(tmp_path / "out.mp4").exists()


def test_sound_the_mp4_cannot_hold_is_reencoded_as_aac(tmp_path):
    import av

    src = tmp_path / "pcm.mov"  # a camera's uncompressed sound
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("pcm_s16le", rate=22050)
        a.layout = "stereo"
        for i in range(5):
            f = av.VideoFrame.from_ndarray(clip_frame(i, 64, 48), format="rgb24")
            f.pts = i
            for packet in v.encode(f):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        t = np.arange(11025) / 22050
        wave = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
        af = av.AudioFrame.from_ndarray(np.stack([wave, wave], 1).reshape(1, -1), format="s16",
                                        layout="stereo")
        af.sample_rate, af.pts = 22050, 0
        for packet in [*a.encode(af), *a.encode()]:
            out.mux(packet)
    assert probe(src).audio == "pcm_s16le"
    out = write_video(tmp_path / "o.mp4", [(f.time, f.rgb) for f in read_frames(src)], 10,
                      audio_from=src)
    assert probe(out).audio == "aac"
    seconds, freq = _decoded_tone(out)
    assert seconds == pytest.approx(0.5, abs=0.08) and freq == pytest.approx(300, abs=5)


def test_a_written_video_follows_the_umask_keeps_a_replaced_ones_mode_and_leaves_no_stray(
        tmp_path):
    import os

    frames = [(i / 10, clip_frame(i, 64, 48)) for i in range(3)]
    out = tmp_path / "v.mp4"
    old = os.umask(0o022)
    try:
        write_video(out, frames, 10.0)
        assert out.stat().st_mode & 0o777 == 0o644 and probe(out).frames == 3
        os.chmod(out, 0o640)
        write_video(out, frames[:2], 10.0, overwrite=True)
        assert out.stat().st_mode & 0o777 == 0o640 and probe(out).frames == 2
        with pytest.raises(OutputExistsError):
            write_video(out, frames, 10.0)
        assert probe(out).frames == 2
        assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]
    finally:
        os.umask(old)


def test_a_region_holds_in_every_frame_of_a_video(tmp_path):
    """With a painting masked to the left half, every frame (the first, painted as a still,
    and the later ones, held to it) repaints the left and keeps the right as the clip (but
    for the temporal term's pull where the flow is not exact)."""
    from PIL import Image

    from nst_core.settings.video import VIDEO_PICTURE

    clip = write_clip(tmp_path / "c.mp4", frames=3, w=96, h=64)
    mask = np.zeros((64, 96), np.uint8)
    mask[:, :48] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    painting = np.zeros((64, 64, 3), np.uint8)
    painting[::8] = (250, 40, 20)  # red stripes on black: far from the clip
    Image.fromarray(painting).save(tmp_path / "stripes.png")
    picture = VIDEO_PICTURE.replace(styles=(str(tmp_path / "stripes.png"),), size=96,
                                    iterations=30, multiscale=False,
                                    early_stop=0.0, device="cpu", style_weight=1e4,
                                    masks=(str(tmp_path / "left.png"),), soft_edges=0.0)
    out = tmp_path / "frames"
    job = VideoJob(VideoSettings(content=str(clip), output=str(out), picture=picture,
                                 frame_iterations=8))
    assert str(tmp_path / "left.png") in job.input_files()
    run = job.prepare()
    for _ in run.events():
        pass
    assert run.result.status == "done"
    outs = [read_rgb(p).astype(float) for p in sorted(out.glob("frame_*.png"))]
    ins = [f.rgb.astype(float) for f in read_frames(clip, size=(96, 64))]
    assert len(outs) == 3
    for painted, frame in zip(outs, ins):
        change = np.abs(painted - frame).mean(axis=(0, 2))
        assert change[:32].mean() > 8 * change[64:].mean() and change[64:].mean() < 2, change
