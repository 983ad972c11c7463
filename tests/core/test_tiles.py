"""A picture evaluated in tiles has the whole picture's loss and gradient: the tiles' geometry by
hand, then the VGG19 objective on a real picture, tiled against whole."""
import numpy as np
import pytest
import torch

from nst_core.networks.layers import reach, stride, tile_margin
from nst_core.networks.vgg import shared_features
from nst_core.objective.perceptual import Objective
from nst_core.objective.tiled import TiledObjective, plan_tiles, tiled_grams
from nst_core.settings.picture import TransferSettings

from tests.conftest import textured

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")


def test_reach_and_margin_by_hand():
    # relu1_1: one conv at stride 1; relu2_1: 2 convs at 1 + 1 at 2 = 4
    assert reach("relu1_1") == 1 and reach("relu2_1") == 4
    # relu5_1: 2*1 + 2*2 + 4*4 + 4*8 + 1*16 = 70, rounded up to relu5_1's stride 16
    assert reach("relu5_1") == 70 and stride("relu5_1") == 16
    assert tile_margin(LAYERS) == 80
    assert tile_margin(("relu1_1", "relu2_1")) == 4  # 4 px, stride 2


def test_tiles_cover_the_picture_once_on_the_deepest_stride():
    tiles = plan_tiles((300, 200), 128, LAYERS)
    owned = torch.zeros(200, 300, dtype=torch.int32)
    for t in tiles:
        y0, y1, x0, x1 = t.inner
        owned[y0:y1, x0:x1] += 1
        assert y0 % 16 == 0 and x0 % 16 == 0
        assert y1 - y0 <= 128 and x1 - x0 <= 128
        oy0, oy1, ox0, ox1 = t.outer
        assert oy0 == max(0, y0 - 80) and ox0 == max(0, x0 - 80)
        assert oy1 == min(200, y1 + 80) and ox1 == min(300, x1 + 80)
    assert bool((owned == 1).all())
    assert len(tiles) == 3 * 2  # 300 px in 3 pieces of 112, 112, 76; 200 in 2 of 112, 88


@pytest.fixture(scope="module")
def net():
    return shared_features(LAYERS, "bundled", "", "max", torch.device("cpu"), winograd=False)


def _image(w, h, seed):
    return torch.from_numpy(textured(w, h, seed)).permute(2, 0, 1)[None].float() / 255


def test_tiled_gram_is_the_whole_picture_gram(net):
    image = _image(200, 168, 3)  # not a multiple of 16: the last tiles floor like the whole
    whole = {n: f for n, f in net.extract(image).items()}
    from nst_core.objective.losses import gram
    tiled = tiled_grams(net.extract, image, LAYERS, 64)
    for n in LAYERS:
        assert torch.allclose(tiled[n], gram(whole[n]), rtol=1e-4, atol=1e-6), n


def test_tiled_loss_and_gradient_equal_the_whole_pictures(net):
    settings = TransferSettings(content="c", styles=("s",), content_weight=5.0,
                                style_weight=100.0, tv_weight=1e-3)
    content, style = _image(208, 176, 1), _image(160, 144, 2)
    whole = Objective.gatys(net.extract, content, [style], settings)
    tiled = TiledObjective(net.extract, content, whole_grams(whole), settings.layer_weights(),
                           settings.content_layers, whole.weights, tile=96)
    assert len(tiled.tiles) == 6
    x = (0.6 * content + 0.4 * _image(208, 176, 5)).requires_grad_(True)
    grad_whole = same_loss_and_gradient(whole, tiled, net, x)
    # the margins matter: tiles judged without them give another gradient
    cut = TiledObjective(net.extract, content, whole_grams(whole), settings.layer_weights(),
                         settings.content_layers, whole.weights, tile=96)
    for t in range(len(cut.tiles)):
        cut.tiles[t] = type(cut.tiles[t])(cut.tiles[t].inner, cut.tiles[t].inner)
    cut.content_parts = tiled.content_parts
    x.grad = None
    cut.terms(x)["total"].backward()
    assert float((x.grad - grad_whole).norm() / grad_whole.norm()) > 0.05


def same_loss_and_gradient(whole: Objective, tiled: TiledObjective, net, x: torch.Tensor
                           ) -> torch.Tensor:
    """Assert that the tiled objective has the whole one's terms and gradient at `x` (neither
    the style nor the content term trivial); return the whole picture's gradient."""
    a = whole(net.extract(x), x)
    a["total"].backward()
    grad_whole = x.grad.clone()
    x.grad = None
    b = tiled.terms(x)
    b["total"].backward()
    for term in ("content", "style", "tv", "total"):
        assert float(b[term].detach()) == pytest.approx(float(a[term].detach()), rel=1e-4), term
    assert float(a["style"].detach()) > 0.01 and float(a["content"].detach()) > 0.01
    assert float((x.grad - grad_whole).norm() / grad_whole.norm()) < 1e-4
    return grad_whole


def whole_grams(objective: Objective) -> dict[str, torch.Tensor]:
    return {n: loss.target for n, loss in objective.style.items()}


def test_a_picture_painted_in_tiles_is_the_picture_painted_whole(tmp_path):
    """End to end through the still job: --tile 64 on a 128x96 picture (4 tiles) gives the
    untiled picture, says it tiles, and its losses are the untiled run's."""
    from PIL import Image

    from nst_core import Note, PreviewPolicy, StillJob
    from nst_core.settings.tuning import Tuning

    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.fromarray(textured(128, 96, 1)).save(photo)
    Image.fromarray(textured(128, 128, 2)).save(painting)
    s = TransferSettings(content=str(photo), styles=(str(painting),), size=128, iterations=8,
                         multiscale=False, device="cpu")
    fp32 = Tuning(precision=(("cpu", "float32"),))
    whole = StillJob(s, fp32).prepare(PreviewPolicy(every=0)).run()
    events = []
    tiled = StillJob(s.replace(tile=64), fp32).prepare(PreviewPolicy(every=0)).run(events.append)
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any("4 tiles of up to 64 px" in n for n in notes), notes
    assert tiled.status == whole.status == "done" and tiled.iterations == 8
    # the same start has the same loss; later steps part by rounding only (Winograd's on tiles)
    assert tiled.losses[0]["total"] == pytest.approx(whole.losses[0]["total"], rel=1e-5)
    for a, b in zip(whole.losses, tiled.losses):
        assert b["total"] == pytest.approx(a["total"], rel=5e-3)
    assert whole.losses[-1]["total"] < 0.7 * whole.losses[0]["total"]  # it painted
    diff = np.abs(whole.image.astype(int) - tiled.image.astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 8
