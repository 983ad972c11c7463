"""Colour preservation, after Gatys, Bethge, Hertzmann & Shechtman (2017), "Controlling
Perceptual Factors in Neural Style Transfer", CVPR, section 5.

* Luminance-only transfer: the style transfer runs on luminance alone (the style's luminance
  first matched to the content's mean and spread); the result's luminance is then combined with
  the content's colour channels (YIQ).
* Colour histogram matching: before the run, each style image's colours are moved by the affine
  map x -> A x + b that gives them the content's mean and covariance (A = Sc^1/2 Ss^-1/2).

Images here are float tensors (B, 3, H, W) in RGB 0..1.
"""
from __future__ import annotations

import torch

# RGB -> YIQ (FCC NTSC).
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114],
                         [0.595716, -0.274453, -0.321263],
                         [0.211456, -0.522591, 0.311135]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB2YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ2RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Luminance Y as a 3-channel gray image, so the network sees it as a photo: (B, 3, H, W)."""
    y = rgb_to_yiq(image)[:, :1]
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_gray: torch.Tensor, content_gray: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luminance to the content's mean and standard deviation."""
    ms, ss = style_gray.mean(), style_gray.std()
    mc, sc = content_gray.mean(), content_gray.std()
    return ((style_gray - ms) * (sc / (ss + 1e-6)) + mc).clamp(0, 1)


def combine_luminance(result_gray: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The result's luminance with the content's I and Q channels, back in RGB 0..1."""
    yiq = rgb_to_yiq(content)
    y = rgb_to_yiq(result_gray)[:, :1]
    return yiq_to_rgb(torch.cat([y, yiq[:, 1:]], dim=1)).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    p = -0.5 if inverse else 0.5
    return vecs @ torch.diag(vals.pow(p)) @ vecs.T


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style image recoloured to the content's colour mean and covariance."""
    s = style[0].reshape(3, -1).double()  # (3, N)
    c = content[0].reshape(3, -1).double()
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64) * 1e-5
    cov_s = torch.cov(s) + eye
    cov_c = torch.cov(c) + eye
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    out = a @ (s - mu_s) + mu_c
    return out.reshape(style.shape).to(style.dtype).clamp(0, 1)
