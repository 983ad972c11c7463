"""The GPU path in one short lease: finished pictures, instant-style apply and training.

    python benchmarks/gpu.py finished --sizes 512 1024 2048 --save DIR --json F
    python benchmarks/gpu.py apply --json F
    python benchmarks/gpu.py train --style PAINTING --seconds 80 --save DIR --json F

(`benchmarks/speed.py --device cuda` gives seconds per iteration, peak memory and the floor;
`benchmarks/video.py --device cuda` the video figures; `benchmarks/gpu_session.sh` runs them
all, as a lent GPU's one call.)

finished: the default settings (coarse-to-fine, the picture rule) on the bundled pair, timed
from the job's preparation (images loaded, style targets made) to its result, after (on a GPU)
one warm-up run in the same process (a window that has painted once is in that state; the
first run's CUDA set-up and cudnn autotuning are printed as the cold time); then the old
default (300 iterations, no picture rule) at the sizes up to `--old-up-to`. The pictures are
saved for judging elsewhere.

apply: `stylize` (what the app calls: uint8 in and out, host to GPU and back) on the shipped
Starry Night model at 512x512, 1920x1080 and 3840x2160 (`--pictures`), median of 30 after a
warm-up, and the network alone on a tensor already on the GPU; then Johnson's full width (32)
with random weights, the quality option for GPUs.

train: the default training (`main.py train` with the default network, batch and crops) of a
painting for about `--seconds`: 40 steps (`--pilot`) measure the pace, then a training of as
many steps (rounded down to a hundred) as fit in the time; the model file is kept for judging
elsewhere.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, median_time, sync  # noqa: E402

import torch  # noqa: E402



def _still(settings, tuning=None) -> dict:
    from nst_core import NONE, Preview, StillJob, Tuning

    t0 = time.perf_counter()
    run = StillJob(settings, tuning or Tuning()).prepare(NONE)
    first = None
    for ev in run.events():
        if first is None and isinstance(ev, Preview):
            first = time.perf_counter() - t0
    sync()
    r = run.result
    return {"seconds": round(time.perf_counter() - t0, 3), "iterations": r.iterations,
            "reason": r.reason, "size": list(run.output_size), "device": r.device,
            "first_preview": first and round(first, 3), "image": r.image}


def finished(args) -> dict:
    from two_minutes import old_default

    from nst_app.samples import default_settings
    from nst_core.media.images import save_image

    base = default_settings().replace(device=args.device)
    out: dict = {"device": args.device, "gpu": _gpu_name(), "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "runs": []}
    if args.device != "cpu":
        cold = _still(base.replace(size=256))
        cold.pop("image")
        out["cold_256"] = cold
        print(f"cold run at 256 px (CUDA set-up, autotuning): {cold['seconds']:.2f} s",
              flush=True)
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        kinds = [("new", base.replace(size=size), None)]
        if size <= args.old_up_to:
            kinds.append(("old", *old_default(base.replace(size=size))))
        for name, s, tuning in kinds:
            r = _still(s, tuning)
            image = r.pop("image")
            if save:
                ext = "png" if size <= 1024 else "jpg"
                save_image(save / f"tubingen_starry_night_{size}_{name}.{ext}", image,
                           overwrite=True)
            r.update(kind=name, requested=size)
            out["runs"].append(r)
            print(f"{name} default {r['size'][0]}x{r['size'][1]}: {r['seconds']:.2f} s, "
                  f"{r['iterations']} iterations ({r['reason']}); first preview at "
                  f"{r['first_preview']} s", flush=True)
    if torch.cuda.is_available():
        out["peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out


def apply(args) -> dict:
    from nst_app.models import library
    from nst_core.networks.stylize import stylize
    from nst_core.media.tensors import to_tensor
    from nst_core.networks.transformer import NetShape, TransformerNet

    dev = torch.device(args.device)
    entry = next(e for e in library() if e.bundled and e.model and "starry" in e.path.stem)
    rng = __import__("numpy").random.default_rng(0)
    sizes = {p: tuple(int(v) for v in p.split("x")) for p in args.pictures}
    out: dict = {"device": args.device, "gpu": _gpu_name(), "rows": []}
    nets = {"shipped (width 8)": entry.model.network(),
            "width 32 (Johnson, random weights)": TransformerNet(NetShape(32, 5))}
    for label, net in nets.items():
        for name, (w, h) in sizes.items():
            rgb = rng.integers(0, 256, (h, w, 3), dtype="uint8")
            t_app = median_time(lambda: stylize(net, rgb, dev), args.repeat, warmup=2)
            x = to_tensor(rgb, dev).contiguous(memory_format=torch.channels_last)
            m = net.to(dev).to(memory_format=torch.channels_last).eval()

            def bare():
                with torch.inference_mode():
                    m(x)

            t_net = median_time(bare, args.repeat, warmup=2)
            row = {"network": label, "picture": name, "stylize_s": round(t_app, 5),
                   "network_s": round(t_net, 5), "stylize_fps": round(1 / t_app, 1),
                   "network_fps": round(1 / t_net, 1)}
            out["rows"].append(row)
            print(f"{label:36s} {name:10s} stylize {t_app * 1000:7.2f} ms "
                  f"({1 / t_app:7.1f}/s)  network alone {t_net * 1000:7.2f} ms "
                  f"({1 / t_net:7.1f}/s)", flush=True)
    return out


def train(args) -> dict:
    from nst_app.models import training_photos
    from nst_core import NONE
    from nst_core.kinds.train import TrainJob
    from nst_core.settings.training import TrainSettings

    style = str(ROOT / "resources/samples/style" / args.style)
    save = Path(args.save)
    save.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pilot = TrainSettings(style=style, photos=training_photos(), output=f"{tmp}/p.nst",
                              steps=args.pilot, device=args.device, preview_every=10**5,
                              checkpoint_seconds=3600)
        stamps = []
        for ev in TrainJob(pilot).prepare(NONE).events():
            if getattr(ev, "rate", None):
                stamps.append(time.perf_counter())
        skip = args.pilot // 4  # the first steps warm up (autotuning, caches)
        per_step = (stamps[-1] - stamps[skip - 1]) / (len(stamps) - skip)
    steps = max(100, int(args.seconds / per_step) // 100 * 100)
    print(f"{args.style}: {per_step * 1000:.1f} ms a step; training {steps} steps", flush=True)
    s = TrainSettings(style=style, photos=training_photos(), device=args.device, steps=steps,
                      output=str(save / f"{Path(args.style).stem}.nst"), restart=True)
    t0 = time.perf_counter()
    result = TrainJob(s).prepare(NONE).run()
    seconds = time.perf_counter() - t0
    last = result.losses[-20:]
    row = {"style": args.style, "gpu": _gpu_name(), "steps": result.steps_done,
           "seconds": round(seconds, 1), "pilot_ms_per_step": round(per_step * 1000, 2),
           "samples_per_second": round(s.batch * result.steps_done / seconds, 1),
           "final_loss": round(statistics.mean(h["total"] for h in last), 4),
           "status": result.status, "model": s.output}
    print(f"{args.style}: {result.steps_done} steps in {seconds:.1f} s "
          f"({row['samples_per_second']} samples/s), {result.status}", flush=True)
    return row


def _gpu_name() -> str | None:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("finished")
    f.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    f.add_argument("--old-up-to", type=int, default=1024,
                   help="also run the old default at sizes up to this")
    f.add_argument("--save", metavar="DIR")
    a = sub.add_parser("apply")
    a.add_argument("--repeat", type=int, default=30)
    a.add_argument("--pictures", nargs="+", default=["512x512", "1920x1080", "3840x2160"],
                   metavar="WxH")
    t = sub.add_parser("train")
    t.add_argument("--style", default="starry_night.jpg")
    t.add_argument("--seconds", type=float, default=80)
    t.add_argument("--pilot", type=int, default=40, help="steps that measure the pace")
    t.add_argument("--save", metavar="DIR", required=True)
    for p in (f, a, t):
        p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
        p.add_argument("--json", metavar="FILE")
    ap.add_argument("--quick", action="store_true", help="a tiny run of each part: the test suite's smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.what, args.repeat, args.pictures, args.device = "apply", 1, ["64x48"], "cpu"
        args.json = None
    result = {"finished": finished, "apply": apply, "train": train}[args.what](args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
