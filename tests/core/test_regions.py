"""Regions: the guides by hand, the guided Gram matrix against a crop's, the objective with an
all-covering region against the plain one, tiles against whole with regions, masks read and
refused, and a picture whose unmasked half keeps the photo."""
import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import ImageError, SettingsError, StillJob, TransferSettings, Tuning
from nst_core.media.masks import load_mask, mask_tensor
from nst_core.networks.vgg import shared_features
from nst_core.objective.losses import gram
from nst_core.objective.perceptual import Objective
from nst_core.objective.regions import guided_gram, propagate, region_guides
from nst_core.objective.tiled import TiledObjective

from tests.conftest import read_rgb, textured
from tests.core.test_tiles import same_loss_and_gradient

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _image(w, h, seed):
    return torch.from_numpy(textured(w, h, seed)).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def net():
    return shared_features(LAYERS, "bundled", "", "max", torch.device("cpu"), winograd=False)


def test_guides_share_overlaps_by_the_blend_and_leave_uncovered_pixels_to_the_photo():
    a = torch.tensor([[1.0, 1.0, 0.5, 0.0]]).view(1, 1, 1, 4)
    b = torch.tensor([[0.0, 1.0, 0.5, 0.0]]).view(1, 1, 1, 4)
    ga, gb = region_guides([a, b], (0.75, 0.25))
    # only a: a's mask; both full: 0.75 / 0.25; both half: cover 0.5 shared 0.75 / 0.25; none: 0
    assert ga.flatten().tolist() == pytest.approx([1.0, 0.75, 0.375, 0.0])
    assert gb.flatten().tolist() == pytest.approx([0.0, 0.25, 0.125, 0.0])
    # a painting without a mask covers everything, sharing where the other reaches (by the
    # blend times each mask: 0.5 * 1 against 0.5 * 0.5 where b is half there)
    whole, part = region_guides([None, b], (0.5, 0.5))
    assert whole.flatten().tolist() == pytest.approx([1.0, 0.5, 2 / 3, 1.0])
    assert part.flatten().tolist() == pytest.approx([0.0, 0.5, 1 / 3, 0.0])


def test_guides_follow_the_network_inside_average_or_all():
    g = torch.zeros(1, 1, 16, 16)
    g[..., :7] = 1.0  # the left 7 columns
    inside = propagate(g, ("relu1_1", "relu2_1"), "inside")
    # relu1_1: one 3x3 conv shrinks the region by a column
    assert inside["relu1_1"][0, 0, 0].tolist() == [1] * 6 + [0] * 10
    # relu2_1: conv1_2 shrinks it to 5 columns, the pooling averages pairs (1, 1, 0.5, 0 ...),
    # conv2_1 shrinks it by a position at the new stride
    assert inside["relu2_1"][0, 0, 0].tolist() == [1, 0.5, 0, 0, 0, 0, 0, 0]
    assert propagate(g, ("relu2_1",), "average")["relu2_1"][0, 0, 0].tolist() == \
        [1, 1, 1, 0.5, 0, 0, 0, 0]
    # "all" grows it: 8, 9 columns, pooled (1, 1, 1, 1, 0.5, 0 ...), grown by a position
    assert propagate(g, ("relu2_1",), "all")["relu2_1"][0, 0, 0].tolist() == \
        [1, 1, 1, 1, 1, 0.5, 0, 0]
    with pytest.raises(ValueError):
        propagate(g, ("relu1_1",), "sideways")


def test_guided_gram_is_the_gram_of_the_region_alone():
    f = torch.randn(1, 6, 5, 8)
    g = torch.zeros(1, 1, 5, 8)
    g[..., :3] = 1.0
    assert torch.allclose(guided_gram(f, g), gram(f[..., :3]), atol=1e-6)
    assert torch.allclose(guided_gram(f, torch.ones(1, 1, 5, 8)), gram(f), atol=1e-6)
    # a half-weight region counts its pixels half: (2 * left + right) / 3 of the positions
    g[..., 3:] = 0.5
    want = (gram(f[..., :3]) * 3 + gram(f[..., 3:]) * 5 * 0.5) / (3 + 2.5)
    assert torch.allclose(guided_gram(f, g), want, atol=1e-6)


def test_a_region_over_the_whole_picture_is_the_plain_objective(net):
    settings = TransferSettings(content="c", styles=("s",), style_layers=STYLE)
    content, style = _image(96, 80, 1), _image(80, 64, 2)
    x = 0.5 * content + 0.5 * _image(96, 80, 3)
    plain = Objective.gatys(net.extract, content, [style], settings)
    regional = Objective.gatys(net.extract, content, [style], settings,
                               guides=[torch.ones(1, 1, 80, 96)], method="average")
    with torch.no_grad():
        a, b = plain(net.extract(x), x), regional(net.extract(x), x)
    assert float(a["style"]) > 0.01
    assert float(b["style"]) == pytest.approx(float(a["style"]), rel=1e-4)


def test_tiled_regions_have_the_whole_pictures_loss_and_gradient(net):
    settings = TransferSettings(content="c", styles=("s", "t"), style_layers=STYLE)
    content = _image(176, 144, 1)
    styles = [_image(128, 112, 2), _image(112, 128, 4)]
    mask = torch.zeros(1, 1, 144, 176)
    mask[..., :, :80] = 1.0
    guides = region_guides([mask, 1 - mask], (0.5, 0.5))
    whole = Objective.gatys(net.extract, content, styles, settings, guides, "inside")
    from nst_core.objective.regions import make_regions
    from nst_core.objective.tiled import tiled_grams
    per_style = [tiled_grams(net.extract, s, STYLE, 96) for s in styles]
    regions = make_regions(per_style, guides, STYLE, "inside")
    tiled = TiledObjective(net.extract, content, per_style[0], settings.layer_weights(),
                           settings.content_layers, whole.weights, 96, regions)
    assert len(tiled.tiles) == 4
    x = (0.6 * content + 0.4 * _image(176, 144, 5)).requires_grad_(True)
    same_loss_and_gradient(whole, tiled, net, x)


def test_masks_are_read_scaled_and_refused_in_one_line(tmp_path):
    m = np.zeros((20, 40), np.uint8)
    m[:, :10] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    got = load_mask(tmp_path / "m.png")
    assert got.shape == (20, 40) and got[:, :10].min() == 255 and got[:, 10:].max() == 0
    t = mask_tensor(got, (80, 40), 0.0)  # another size: scaled to the picture
    assert t.shape == (1, 1, 40, 80)
    assert float(t[..., :18].min()) == 1.0 and float(t[..., 22:].max()) == 0.0
    soft = mask_tensor(got, (80, 40), 5.0)  # 4 px of blur: the border becomes a ramp
    assert 0.2 < float(soft[0, 0, 20, 20]) < 0.8 and float(soft[0, 0, 20, 0]) > 0.9
    # white painted on a transparent layer: the transparent part is "not this painting"
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, 30:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "layer.png")
    layer = load_mask(tmp_path / "layer.png")
    assert layer[:, 30:].min() == 255 and layer[:, :30].max() == 0
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(ImageError, match="all black"):
        load_mask(tmp_path / "black.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageError) as e:
        load_mask(tmp_path / "bad.png")
    assert "\n" not in str(e.value)


def test_one_mask_per_style_or_none(photo_path, painting_path):
    s = TransferSettings(content=str(photo_path), styles=(str(painting_path),),
                         masks=("a.png", "b.png"))
    with pytest.raises(SettingsError, match="one mask per style"):
        s.validate()
    s = s.replace(masks=("m.png",))
    assert s.validate().regional
    assert TransferSettings.from_json(s.to_json()).masks == ("m.png",)
    assert not s.replace(masks=("",)).regional


def test_the_unmasked_half_keeps_the_photo(tmp_path):
    """End to end: a painting masked to the left half repaints that half and leaves the right
    half as the photo; the all-black mask is refused before any work."""
    w, h = 96, 64
    photo = textured(w, h, 7)
    painting = np.zeros((64, 64, 3), np.uint8)
    painting[::8] = (250, 40, 20)  # red stripes on black: far from the photo
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(painting).save(tmp_path / "painting.png")
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    s = TransferSettings(content=str(tmp_path / "photo.png"),
                         styles=(str(tmp_path / "painting.png"),),
                         masks=(str(tmp_path / "left.png"),), size=96, iterations=30,
                         multiscale=False, soft_edges=0.0, style_weight=1e4)
    result = StillJob(s, Tuning().with_precision("cpu", "float32")).prepare().run()
    out = result.image.astype(float)
    change = np.abs(out - photo.astype(float)).mean(axis=(0, 2))  # per column
    assert change[: w // 2 - 16].mean() > 4 * change[w // 2 + 16:].mean()
    assert change[w // 2 + 16:].mean() < 6.0
    # starting from noise, the part no painting reaches starts (and stays) the photo
    noisy = StillJob(s.replace(init="noise", iterations=5),
                     Tuning().with_precision("cpu", "float32")).prepare().run().image
    far = np.abs(noisy.astype(float) - photo)[:, w // 2 + 16:].mean()
    assert far < 6.0 and np.abs(noisy.astype(float) - photo)[:, : w // 2 - 16].mean() > 20
    Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(ImageError, match="all black"):
        StillJob(s.replace(masks=(str(tmp_path / "black.png"),))).prepare()
    assert read_rgb(tmp_path / "photo.png").shape == (h, w, 3)


def test_masks_travel_with_a_job_to_another_machine():
    """A Ray worker gets the masks' files with the photo and the paintings."""
    s = TransferSettings(content="/a/photo.png", styles=("/a/p1.png", "/a/p2.png"),
                         masks=("/a/m1.png", ""))
    job = StillJob(s)
    assert job.input_files() == ["/a/photo.png", "/a/p1.png", "/a/p2.png", "/a/m1.png"]
    moved = job.with_input_files({f: "/w" + f for f in job.input_files()})
    assert moved.settings.masks == ("/w/a/m1.png", "")
    assert StillJob.from_payload(moved.payload()).settings.masks == ("/w/a/m1.png", "")


def test_regions_with_the_photos_colours_and_two_paintings_blended_in_one(tmp_path):
    """Colour kept (luminance), two paintings sharing the left half: the right half is still
    the photo, the left is repainted."""
    w, h = 96, 64
    photo = textured(w, h, 3)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    for k, colour in enumerate(((250, 40, 20), (20, 40, 250))):
        painting = np.zeros((64, 64, 3), np.uint8)
        painting[k::6] = colour
        Image.fromarray(painting).save(tmp_path / f"p{k}.png")
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    left = str(tmp_path / "left.png")
    s = TransferSettings(content=str(tmp_path / "photo.png"),
                         styles=(str(tmp_path / "p0.png"), str(tmp_path / "p1.png")),
                         masks=(left, left), style_blend=(0.7, 0.3), color="luminance",
                         size=96, iterations=12, multiscale=False, soft_edges=0.0,
                         style_weight=1e4)
    out = StillJob(s, Tuning().with_precision("cpu", "float32")).prepare().run().image
    change = np.abs(out.astype(float) - photo).mean(axis=(0, 2))
    assert change[: w // 2 - 16].mean() > 5 * change[w // 2 + 16:].mean()
