"""Strokes kept from the size one tunes at: a picture well above `strokes_at` measures half its
style on itself reduced to that size."""
import numpy as np
import pytest
import torch

from nst_core.networks.vgg import shared_features
from nst_core.objective.perceptual import STROKES_SHARE, Objective, reduce, scale_objective
from nst_core.settings.picture import TransferSettings
from tests.conftest import textured

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")


@pytest.fixture(scope="module")
def net():
    return shared_features(LAYERS, "bundled", "", "max", torch.device("cpu"), winograd=False)


def _image(w, h, seed):
    return torch.from_numpy(textured(w, h, seed)).permute(2, 0, 1)[None].float() / 255


def test_the_reduction_by_hand():
    s = TransferSettings(strokes_at=512)
    assert s.strokes_reduction(4096) == 0.125
    assert s.strokes_reduction(768) == pytest.approx(2 / 3)  # 1.5 times: reduced
    assert s.strokes_reduction(767) is None  # near enough the size one tuned at
    assert s.replace(strokes_at=0).strokes_reduction(4096) is None  # off
    small = reduce(torch.arange(16.0).reshape(1, 1, 4, 4), 0.5)
    assert small.flatten().tolist() == [2.5, 4.5, 10.5, 12.5]  # 2x2 means


def test_content_and_style_are_shared_between_full_size_and_the_strokes_size(net):
    s = TransferSettings(content="c", styles=("s",), strokes_at=64, style_weight=100.0)
    content, style = _image(160, 128, 1), _image(160, 160, 2)
    x = (0.5 * content + 0.5 * _image(160, 128, 3)).requires_grad_(True)
    terms, tiles = scale_objective(net.extract, content, [style], s)
    got = terms(x)
    assert tiles == 1
    full = Objective.gatys(net.extract, content, [style], s)(net.extract(x), x)
    r = 64 / 160
    small = reduce(x, r)
    coarse = Objective.gatys(net.extract, reduce(content, r), [reduce(style, r)], s)(
        net.extract(small), small)
    for name in ("content", "style"):
        want = (1 - STROKES_SHARE) * full[name] + STROKES_SHARE * coarse[name]
        assert float(got[name].detach()) == pytest.approx(float(want.detach()), rel=1e-5)
        assert float(coarse[name].detach()) != pytest.approx(float(full[name].detach()),
                                                             rel=0.05)
    assert float(got["tv"].detach()) == pytest.approx(float(full["tv"].detach()), rel=1e-6)
    got["total"].backward()  # the reduced picture's gradient reaches the full-size one
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    same, _ = scale_objective(net.extract, content, [style], s.replace(strokes_at=0))
    assert float(same(x)["style"].detach()) == pytest.approx(float(full["style"].detach()),
                                                             rel=1e-5)


def test_tiles_and_regions_take_the_strokes_term_too(net):
    s = TransferSettings(content="c", styles=("s",), strokes_at=64)
    content, style = _image(160, 128, 1), _image(160, 160, 2)
    guide = torch.zeros(1, 1, 128, 160)
    guide[..., :80] = 1.0
    x = (0.5 * content + 0.5 * _image(160, 128, 3)).requires_grad_(True)
    whole, _ = scale_objective(net.extract, content, [style], s, 0, [guide])
    tiled, count = scale_objective(net.extract, content, [style], s, 96, [guide])
    assert count > 1
    a = whole(x)
    a["total"].backward()
    g = x.grad.clone()
    x.grad = None
    b = tiled(x)
    b["total"].backward()
    assert float(b["total"].detach()) == pytest.approx(float(a["total"].detach()), rel=1e-4)
    assert float((x.grad - g).norm() / g.norm()) < 1e-3
    # and the term is there: without it the tiled loss is another
    plain, _ = scale_objective(net.extract, content, [style], s.replace(strokes_at=0), 96,
                               [guide])
    assert float(plain(x)["total"].detach()) != pytest.approx(float(b["total"].detach()),
                                                              rel=0.01)


def test_a_larger_picture_keeps_the_strokes_it_has_at_the_tuned_size(tmp_path):
    """Painted at 128 px, the picture reduced to 64 px is closer (Gram) to the painting seen
    at 64 px with `strokes_at` 64 than without: its strokes keep their size."""
    from PIL import Image

    from nst_core import PreviewPolicy, StillJob
    from nst_core.objective.losses import gram
    from nst_core.settings.tuning import Tuning

    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.fromarray(textured(128, 96, 1)).save(photo)
    # strokes several pixels wide: a small texture enlarged
    Image.fromarray(textured(32, 32, 2)).resize((128, 128), Image.BICUBIC).save(painting)
    s = TransferSettings(content=str(photo), styles=(str(painting),), size=128, iterations=25,
                         multiscale=False, device="cpu", early_stop=0.0, settle=0.0)
    fp32 = Tuning(precision=(("cpu", "float32"),))
    net = shared_features(LAYERS, "bundled", "", "max", torch.device("cpu"), winograd=False)
    target = {n: gram(f) for n, f in net.extract(reduce(_image_of(painting), 0.5)).items()}

    def distance(strokes_at: int) -> float:
        result = StillJob(s.replace(strokes_at=strokes_at), fp32).prepare(
            PreviewPolicy(every=0)).run()
        assert result.status == "done"
        x = reduce(torch.from_numpy(result.image).permute(2, 0, 1)[None].float() / 255, 0.5)
        feats = net.extract(x)
        return float(np.mean([float(((gram(feats[n]) - target[n]) ** 2).sum()
                                    / (target[n] ** 2).sum())
                              for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1")]))

    near, far = distance(64), distance(0)
    assert near < 0.8 * far, (near, far)


def _image_of(path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None] \
            .float() / 255


def test_the_memory_estimate_counts_the_pass_at_the_strokes_size():
    from nst_core.runtime.devices import _network_bytes, estimate_memory
    from nst_core.settings.tuning import Tuning

    s = TransferSettings(content="c", styles=("s",), size=2048)
    tuning = Tuning(precision=(("cpu", "float32"),))
    with_pass = estimate_memory(s, (2048, 1536), "cpu", tuning)
    without = estimate_memory(s.replace(strokes_at=0), (2048, 1536), "cpu", tuning)
    assert with_pass - without == _network_bytes(s, (512, 384), "cpu", tuning)  # 2048 / 4
    assert with_pass - without > 100 * 2**20


def test_the_time_estimate_counts_the_pass_at_the_strokes_size():
    from nst_core.painting.sizing import work_size

    s = TransferSettings(content="c", styles=("s",), size=2048)
    w, h = work_size((2048, 1536), None, s)
    assert w * h == pytest.approx(2048 * 1536 + 512 * 384, rel=0.01)
    assert work_size((2048, 1536), None, s.replace(strokes_at=0)) == (2048, 1536)
    assert work_size((512, 384), None, s) == (512, 384)  # no pass at the tuned size itself


def test_a_videos_first_frame_is_painted_as_its_later_frames_are(tmp_path):
    """No pass at the strokes' size for a video's first frame, even at a size that has one:
    the later frames are held to one full-size objective, and the first must match them."""
    from PIL import Image

    from nst_core.painting.frames import FramePainter
    from nst_core.settings.tuning import Tuning
    from nst_core.settings.video import VideoSettings

    painting = tmp_path / "painting.png"
    Image.fromarray(textured(96, 96, 2)).save(painting)
    picture = TransferSettings(content="clip.mp4", styles=(str(painting),), size=200,
                               strokes_at=64, device="cpu")
    painter = FramePainter(VideoSettings(content="clip.mp4", output="out.mp4", picture=picture),
                           Tuning(), torch.device("cpu"), (200, 150))
    first = painter.picture(textured(200, 150, 1), 0)
    assert picture.strokes_reduction(200) is not None  # a still of this size has the pass
    assert first.settings.strokes_at == 0 and first.settings.size == 200
