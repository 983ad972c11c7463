"""How the engine works, as opposed to what the person asked for: the tuning of a run.

`TransferSettings` is what a person chooses (images, weights, size); `Tuning` is how the engine
gets there (the coarse-to-fine split, L-BFGS memory, the preconditioner, the precision per
device, the early-stop window). Each default was measured: why each is what it is, in
docs/decisions/ (the coarse share, the optimizer, precision, Winograd ...). A benchmark
that wants another schedule builds another `Tuning` and passes it to the job; nothing patches a
module global. Plain data: it round-trips through JSON and pickles, like the job it belongs to.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal, get_args

from nst_core.base.errors import SettingsError
from nst_core.settings.fields import Fields, meta

#: Names of the precisions a device may use for the network's forward pass. "auto" means
#: bfloat16 where the hardware computes it natively (see nst_core.runtime.devices), else float32.
#: "bfloat16-emulated" is float32 kernels that round like bfloat16 (nst_core.networks.vgg): the bf16
#: picture, for judging it on machines without native bf16.
Precision = Literal["auto", "float32", "bfloat16", "float16", "bfloat16-emulated"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


#: Fields that older versions wrote and this one ignores when reading saved jobs (a batch
#: queue, a video's frame cache): the picture rule's threshold is a picture setting
#: (`TransferSettings.settle`), no longer a tuning field.
_RETIRED = frozenset({"settle_levels"})


@dataclass(frozen=True)
class Tuning(Fields):
    _prefix: ClassVar[str] = "tuning."
    _what: ClassVar[str] = "tuning field"
    _retired: ClassVar[frozenset[str]] = _RETIRED

    coarse_ratio: float = field(default=0.3, metadata=meta(
        "Each coarser scale gets this many times the iterations of the next finer one (a "
        "coarse iteration costs a quarter of the next one's). Tuned on quality per second at "
        "512 px.", range=(1e-6, 100.0)))
    min_scale_side: int = field(default=64, metadata=meta(
        "Coarse scales whose long side would fall below this are skipped.", range=(8, 4096)))
    lbfgs_history: int = field(default=50, metadata=meta(
        "L-BFGS memory: curvature pairs kept.", range=(1, 1000)))
    precondition: tuple[tuple[float, float], ...] = field(
        default=((1 / 128, 3.0), (1 / 32, 8.0)), metadata=meta(
            "The L-BFGS preconditioner: (sigma, weight) of each Gaussian blur in P = I + sum w "
            "* blur, sigma as a fraction of the scale's long side (nst_core.painting.optim). "
            "Empty: no preconditioner."))
    lbfgs: Literal["box", "torch"] = field(default="box", metadata=meta(
        "box: nst_core.painting.optim.BoxLBFGS; torch: torch.optim.LBFGS without a line "
        "search (the textbook optimizer, kept as the benchmarks' reference).",
        choices=("box", "torch")))
    carry_detail: bool = field(default=True, metadata=meta(
        "A finer scale starts from the coarser result plus the photo's detail the coarser "
        "size could not hold (nst_core.painting.schedule.start_from_coarser)."))
    precision: tuple[tuple[str, str], ...] = field(
        default=(("cpu", "auto"), ("cuda", "bfloat16"), ("mps", "float32")), metadata=meta(
            "Precision of the network's forward pass per device type; the losses stay "
            "float32."))
    early_stop_window: int = field(default=20, metadata=meta(
        "Early stop compares the best loss now with the best this many iterations ago.",
        range=(1, 10000)))
    settle_window: int = field(default=10, metadata=meta(
        "The picture rule (the person's TransferSettings.settle) compares the picture with the "
        "one this many iterations before (nst_core.painting.optimize.minimize).",
        range=(1, 10000)))
    settle_patience: int = field(default=2, metadata=meta(
        "... and ends a scale after this many windows in a row each moved the picture by at "
        "most `settle` times the reference: one quiet window can be a lull "
        "(docs/decisions/picture-rule.md).", range=(1, 100)))
    winograd: bool = field(default=True, metadata=meta(
        "VGG19's wide 3x3 convolutions by Winograd's F(4x4, 3x3) where the network runs on a "
        "CPU in float32 (nst_core.networks.winograd): 1.4x per iteration at 512 px on 2 AVX2 "
        "cores, for about 400 MB of transformed kernels. Off: oneDNN's direct convolutions "
        "everywhere."))
    checkpoint_every: float = field(default=120.0, metadata=meta(
        "Seconds between a still render's checkpoints, where it keeps one "
        "(nst_core.painting.checkpoint): writing a 4096x3072 picture's takes about a second, "
        "an iteration there about two minutes on 2 cores.", range=(0.0, 86400.0)))
    keep_freed_memory: bool = field(default=True, metadata=meta(
        "On a CPU, freed memory is kept for reuse while a run computes and given back when it "
        "ends (nst_core.runtime.memory): about 100,000 fewer page faults per 512 px iteration, "
        "1.1-1.3x on 2 AVX2 cores. Process-wide once on: a later run with it off cannot undo "
        "it."))

    region_guides: Literal["inside", "average", "all"] = field(default="inside", metadata=meta(
        "How a region's mask follows the network to each style layer "
        "(nst_core.objective.regions): 'inside' counts a feature for a region only where all "
        "it sees lies there (no style leaks across a border), 'average' pools the mask as it "
        "is, 'all' counts whatever touches the region. Measured in benchmarks/regions.py.",
        choices=("inside", "average", "all")))

    def precision_for(self, device_type: str) -> str:
        return dict(self.precision).get(device_type, "float32")

    def with_precision(self, device_type: str, precision: str) -> "Tuning":
        table = dict(self.precision)
        table[device_type] = precision
        return dataclasses.replace(self, precision=tuple(table.items()))

    def validate(self) -> "Tuning":
        """Every field in its kind and range (`Fields`), and the preconditioner's blurs and
        the precisions each valid."""
        self.check_fields()
        for sigma, weight in self.precondition:
            if not (0 < sigma <= 1 and 0 <= weight <= 1000):
                raise SettingsError("tuning.precondition", "each blur needs 0 < sigma <= 1 "
                                    "and 0 <= weight <= 1000")
        for device, precision in self.precision:
            if precision not in PRECISIONS:
                raise SettingsError("tuning.precision", f"{device}: unknown precision "
                                    f"{precision!r}; use {', '.join(PRECISIONS)}")
        return self

    @classmethod
    def from_dict(cls, data) -> "Tuning":
        return super().from_dict(data).validate()
