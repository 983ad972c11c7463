"""A fixed judge of a finished picture, for comparing schedules and stopping rules.

Five measures of an 8-bit picture against its photo and painting, through the bundled VGG19 in
float32 (whatever precision the run used):

    gram     layer-balanced Gram distance to the painting: the mean over relu1_1..relu5_1 of
             |G(x) - G(s)|^2 / |G(s)|^2                                   (lower is better)
    adain    AdaIN-statistics distance to the painting: the mean over the same layers of
             (|mu(x) - mu(s)|^2 + |sd(x) - sd(s)|^2) / (|mu(s)|^2 + |sd(s)|^2), with mu and sd
             each channel's mean and standard deviation                   (lower is better)
    content  relu4_2 distance to the photo: |F(x) - F(c)|^2 / |F(c)|^2     (lower is better)
    ssim     SSIM of the blurred luminance of picture and photo: the photo's structure, with
             the painted texture blurred away (Gaussian, sigma = long side / 128), SSIM with
             the usual 11-tap Gaussian window (sigma 1.5)                   (higher is better)
    hatching how regular the fine texture is (`hatching`): the strongest peaks of the
             high-passed luminance's power spectrum against its median; a woven or hatched
             pattern repeats and peaks, a painting's strokes do not            (lower is better)

The painting is scaled to the picture's long side (style scale 1), as a run with the default
settings sees it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def _gauss(sigma: float, taps: int | None = None) -> torch.Tensor:
    taps = taps or max(3, int(math.ceil(sigma * 3)) * 2 + 1)
    x = torch.arange(taps, dtype=torch.float32) - (taps - 1) / 2
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(img: torch.Tensor, sigma: float, taps: int | None = None) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), reflect-padded."""
    k = _gauss(sigma, taps)
    c, pad = img.shape[1], len(k) // 2
    x = F.pad(img, (pad, pad, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.pad(x, (0, 0, pad, pad), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (1, 1, H, W) images in 0..1 (Wang et al. 2004, Gaussian window)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = _blur(a, 1.5, 11), _blur(b, 1.5, 11)
    var_a = _blur(a * a, 1.5, 11) - mu_a ** 2
    var_b = _blur(b * b, 1.5, 11) - mu_b ** 2
    cov = _blur(a * b, 1.5, 11) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1)
                                                      * (var_a + var_b + c2))
    return float(s.mean())


def hatching(x: torch.Tensor, peaks: int = 8) -> float:
    """The periodic high-frequency energy of a (1, 3, H, W) picture in 0..1: its luminance less
    a Gaussian blur of 2 px (the fine texture), windowed (Hann), as a power spectrum; the mean
    of its `peaks` strongest frequencies (the lowest 1/32 of frequencies left out, where the
    picture's layout lives) over the spectrum's median. A texture that repeats concentrates
    its energy in a few frequencies: a pure grating scores in the thousands, white noise about
    10 (the largest of many exponential draws against their median)."""
    power, _, _, keep = fine_spectrum(x)
    values = power[keep]
    return float(values.topk(min(peaks, values.numel())).values.mean()
                 / values.median().clamp_min(1e-20))


def fine_spectrum(x: torch.Tensor):
    """The power spectrum `hatching` scores, of a (1, 3, H, W) picture: (power, fy, fx, keep),
    each (H, W // 2 + 1): the windowed, high-passed luminance's power, each frequency's
    vertical (signed) and horizontal cycles a pixel, and the frequencies scored (the layout's
    lowest 1/32 left out)."""
    lum = luminance(x)
    fine = (lum - _blur(lum, 2.0))[0, 0]
    h, w = fine.shape
    window = torch.outer(torch.hann_window(h, periodic=False), torch.hann_window(w, periodic=False))
    power = torch.fft.rfft2(fine * window).abs() ** 2
    fy = torch.fft.fftfreq(h)[:, None].expand_as(power)
    fx = torch.fft.rfftfreq(w)[None, :].expand_as(power)
    return power, fy, fx, torch.maximum(fy.abs(), fx) > 1 / 32


def luminance(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


class Judge:
    """Scores pictures of one (photo, painting) pair at one output size."""

    def __init__(self, content_path, style_path: str, out_size: tuple[int, int]):
        """`content_path`: the photo's file, or the photo itself as (H, W, 3) uint8 (a video
        frame)."""
        from nst_core.media.images import fit_long_side, load_image, resize
        from nst_core.objective.losses import gram
        from nst_core.media.tensors import to_tensor
        from nst_core.networks.vgg import VGGFeatures

        self.size, self.resize, self.to_tensor, self.gram = out_size, resize, to_tensor, gram
        # the reference: direct convolutions, whatever the engine uses
        self.net = VGGFeatures(STYLE_LAYERS + (CONTENT_LAYER,), winograd=False)
        rgb = content_path if hasattr(content_path, "shape") else load_image(content_path).rgb
        photo = to_tensor(resize(rgb, out_size))
        style_img = load_image(style_path)
        style = to_tensor(resize(style_img.rgb, fit_long_side(*style_img.size, max(out_size))))
        self.sigma = max(out_size) / 128
        self.photo_lum = _blur(luminance(photo), self.sigma)
        with torch.no_grad():
            self.content = self.net(photo)[CONTENT_LAYER]
            sf = self.net(style)
        self.grams = {n: gram(sf[n]) for n in STYLE_LAYERS}
        self.stats = {n: self._stats(sf[n]) for n in STYLE_LAYERS}

    def with_photo(self, rgb) -> "Judge":
        """The same judge against another photo (the next frame of a clip): the painting's
        statistics are kept, the photo's measured anew."""
        import copy

        other = copy.copy(self)
        photo = self.to_tensor(self.resize(rgb, self.size))
        other.photo_lum = _blur(luminance(photo), self.sigma)
        with torch.no_grad():
            other.content = self.net(photo)[CONTENT_LAYER]
        return other

    @staticmethod
    def _stats(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = f[0].flatten(1)  # (C, N)
        return flat.mean(1), flat.std(1)

    def __call__(self, rgb) -> dict[str, float]:
        if (rgb.shape[1], rgb.shape[0]) != tuple(self.size):
            rgb = self.resize(rgb, self.size)
        x = self.to_tensor(rgb)
        with torch.no_grad():
            f = self.net(x)
            gram_d = sum(float(((self.gram(f[n]) - g) ** 2).sum() / (g ** 2).sum())
                         for n, g in self.grams.items()) / len(self.grams)
            adain = 0.0
            for n, (mu_s, sd_s) in self.stats.items():
                mu, sd = self._stats(f[n])
                adain += float((((mu - mu_s) ** 2).sum() + ((sd - sd_s) ** 2).sum())
                               / ((mu_s ** 2).sum() + (sd_s ** 2).sum()))
            adain /= len(self.stats)
            content = float(((f[CONTENT_LAYER] - self.content) ** 2).sum()
                            / (self.content ** 2).sum())
            s = ssim(_blur(luminance(x), self.sigma), self.photo_lum)
        return {"gram": gram_d, "adain": adain, "content": content, "ssim": s,
                "hatching": hatching(x)}
