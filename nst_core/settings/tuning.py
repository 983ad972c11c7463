"""How the engine works, as opposed to what the person asked for: the tuning of a run.

`TransferSettings` is what a person chooses (images, weights, size); `Tuning` is how the engine
gets there (the coarse-to-fine split, L-BFGS memory, the preconditioner, the precision per
device, the early-stop window). Each default was measured (benchmarks/RESULTS.md). A benchmark
that wants another schedule builds another `Tuning` and passes it to the job; nothing patches a
module global. Plain data: it round-trips through JSON and pickles, like the job it belongs to.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from nst_core.base.errors import SettingsError

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
class Tuning:
    #: Each coarser scale gets this many times the iterations of the next finer one (a coarse
    #: iteration costs a quarter of the next one's). Tuned on quality per second at 512 px.
    coarse_ratio: float = 0.3
    #: Coarse scales whose long side would fall below this are skipped.
    min_scale_side: int = 64
    #: L-BFGS memory: curvature pairs kept.
    lbfgs_history: int = 50
    #: The L-BFGS preconditioner: (sigma, weight) of each Gaussian blur in P = I + sum w * blur,
    #: sigma as a fraction of the scale's long side (nst_core.painting.optim). Empty: no
    #: preconditioner.
    precondition: tuple[tuple[float, float], ...] = ((1 / 128, 3.0), (1 / 32, 8.0))
    #: "box": nst_core.painting.optim.BoxLBFGS; "torch": torch.optim.LBFGS without a line search
    #: (the textbook optimizer, kept as the benchmarks' reference).
    lbfgs: Literal["box", "torch"] = "box"
    #: A finer scale starts from the coarser result plus the photo's detail the coarser size
    #: could not hold (nst_core.painting.schedule.start_from_coarser).
    carry_detail: bool = True
    #: Precision of the network's forward pass per device type; the losses stay float32.
    precision: tuple[tuple[str, str], ...] = (("cpu", "auto"), ("cuda", "bfloat16"),
                                              ("mps", "float32"))
    #: Early stop compares the best loss now with the best this many iterations ago.
    early_stop_window: int = 20
    #: The picture rule (the person's `TransferSettings.settle`) compares the picture with the
    #: one this many iterations before (nst_core.painting.optimize.minimize).
    settle_window: int = 10
    #: ... and ends a scale after this many windows in a row each moved the picture by at most
    #: `settle` times the reference: one quiet window can be a lull
    #: (docs/decisions/picture-rule.md).
    settle_patience: int = 2
    #: VGG19's wide 3x3 convolutions by Winograd's F(4x4, 3x3) where the network runs on a CPU
    #: in float32 (nst_core.networks.winograd): 1.4x per iteration at 512 px on 2 AVX2 cores, for
    #: about 400 MB of transformed kernels. Off: oneDNN's direct convolutions everywhere.
    winograd: bool = True
    #: On a CPU, freed memory is kept for reuse while a run computes and given back when it
    #: ends (nst_core.runtime.memory): about 100,000 fewer page faults per 512 px iteration,
    #: 1.1-1.3x on 2 AVX2 cores. Process-wide once on: a later run with it off cannot undo it.
    keep_freed_memory: bool = True

    def precision_for(self, device_type: str) -> str:
        return dict(self.precision).get(device_type, "float32")

    def with_precision(self, device_type: str, precision: str) -> "Tuning":
        table = dict(self.precision)
        table[device_type] = precision
        return dataclasses.replace(self, precision=tuple(table.items()))

    def replace(self, **changes: Any) -> "Tuning":
        return dataclasses.replace(self, **changes)

    def validate(self) -> "Tuning":
        if not 0 < self.coarse_ratio <= 100:
            raise SettingsError("tuning.coarse_ratio", "must be above 0 and at most 100")
        if not 8 <= self.min_scale_side <= 4096:
            raise SettingsError("tuning.min_scale_side", "must be between 8 and 4096")
        if not 1 <= self.lbfgs_history <= 1000:
            raise SettingsError("tuning.lbfgs_history", "must be between 1 and 1000")
        if not 1 <= self.early_stop_window <= 10000:
            raise SettingsError("tuning.early_stop_window", "must be between 1 and 10000")
        if not 1 <= self.settle_window <= 10000:
            raise SettingsError("tuning.settle_window", "must be between 1 and 10000")
        if not 1 <= self.settle_patience <= 100:
            raise SettingsError("tuning.settle_patience", "must be between 1 and 100")
        if self.lbfgs not in ("box", "torch"):
            raise SettingsError("tuning.lbfgs", "must be box or torch")
        for sigma, weight in self.precondition:
            if not (0 < sigma <= 1 and 0 <= weight <= 1000):
                raise SettingsError("tuning.precondition", "each blur needs 0 < sigma <= 1 "
                                    "and 0 <= weight <= 1000")
        for device, precision in self.precision:
            if precision not in PRECISIONS:
                raise SettingsError("tuning.precision", f"{device}: unknown precision "
                                    f"{precision!r}; use {', '.join(PRECISIONS)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["precondition"] = [list(p) for p in self.precondition]
        d["precision"] = dict(self.precision)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Tuning":
        if not isinstance(data, dict):
            raise SettingsError("tuning", "expected a JSON object")
        data = {k: v for k, v in data.items() if k not in _RETIRED}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(f"tuning.{sorted(unknown)[0]}", "unknown tuning field")
        kw = dict(data)
        try:
            if "precondition" in kw:
                kw["precondition"] = tuple((float(s), float(w)) for s, w in kw["precondition"])
            if "precision" in kw:
                kw["precision"] = tuple((str(k), str(v)) for k, v in dict(kw["precision"]).items())
            for name, kind in (("coarse_ratio", float), ("min_scale_side", int),
                               ("lbfgs_history", int), ("early_stop_window", int),
                               ("settle_window", int), ("settle_patience", int)):
                if name in kw:
                    if isinstance(kw[name], bool):
                        raise TypeError(name)
                    kw[name] = kind(kw[name])
            for name in ("carry_detail", "winograd", "keep_freed_memory"):
                if name in kw and not isinstance(kw[name], bool):
                    raise TypeError(name)
        except (TypeError, ValueError) as e:
            raise SettingsError("tuning", f"a field has the wrong type ({e})") from None
        return cls(**kw).validate()
