"""Make the bundled sample clip, resources/samples/video/tubingen_pan.mp4: a camera panning and
zooming across the Tübingen photo while Chelsea the cat (a round cut-out) crosses it the other
way, with a soft two-note tone as its sound. The video issue's benchmark and the window's video
mode use it; it is made from two bundled photos, so it ships under their licences.

    python scripts/make_sample_clip.py [--seconds 3] [--fps 24] [--width 480] [-o PATH]
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "resources" / "samples"


def frames(seconds: float, fps: int, width: int, height: int):
    import cv2

    from nst_core.media.images import load_image

    photo = load_image(SAMPLES / "content" / "tubingen.jpg").rgb  # 1024x768
    cat = load_image(SAMPLES / "content" / "chelsea.png").rgb
    side = 150
    cat = cv2.resize(cat[20:290, 80:350], (side, side), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:side, :side]
    disc = (((xx - side / 2) ** 2 + (yy - side / 2) ** 2) < (side / 2 - 2) ** 2)
    disc = cv2.GaussianBlur(disc.astype(np.float32), (0, 0), 1.0)[..., None]
    ph, pw = photo.shape[:2]
    count = round(seconds * fps)
    for i in range(count):
        t = i / max(1, count - 1)
        scene = photo.astype(np.float32).copy()
        # the cat crosses from right to left, bobbing a little
        cx = int(pw * (0.85 - 0.6 * t)) - side // 2
        cy = int(ph * 0.55 + 30 * np.sin(2 * np.pi * t)) - side // 2
        region = scene[cy:cy + side, cx:cx + side]
        scene[cy:cy + side, cx:cx + side] = region * (1 - disc) + cat * disc
        # the camera pans right and zooms in from 0.8 to 0.6 of the photo's width
        view_w = pw * (0.8 - 0.2 * t)
        view_h = view_w * height / width
        x0 = (pw - view_w) * (0.1 + 0.6 * t)
        y0 = (ph - view_h) * 0.5
        m = np.float32([[width / view_w, 0, -x0 * width / view_w],
                        [0, height / view_h, -y0 * height / view_h]])
        view = cv2.warpAffine(scene, m, (width, height), flags=cv2.INTER_AREA)
        yield i, np.clip(view + 0.5, 0, 255).astype(np.uint8)


def tone(seconds: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.15 * np.sin(2 * np.pi * 660 * t)
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.2)
    return (wave * fade).astype(np.float32)[None]


def main(argv: list[str] | None = None) -> int:
    import av

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--width", type=int, default=480)
    p.add_argument("-o", "--output", default=str(SAMPLES / "video" / "tubingen_pan.mp4"))
    args = p.parse_args(argv)
    width, height = args.width, round(args.width * 9 / 16 / 2) * 2
    out_path = Path(args.output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out_path), "w") as out:
        video = out.add_stream("libx264", rate=args.fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "20"}
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        for i, rgb in frames(args.seconds, args.fps, width, height):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, args.fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples, pts = tone(args.seconds), 0
        for k in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, k:k + 1024].copy(), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 44100, pts
            pts += frame.samples
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    print(f"wrote {out_path} ({out_path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
