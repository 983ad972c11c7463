"""One mechanism for every settings dataclass (a picture's, a training's, a video's, the
engine's tuning): each field's metadata (`meta`) names its help, range, choices and label, and
`Fields` checks every field, writes plain JSON and reads it back, refusing bad input the same
one-line way: a `SettingsError` naming the field."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import fields
from typing import Any, ClassVar

from nst_core.base.errors import SettingsError


def meta(help: str, *, range: tuple[float, float] | None = None, choices: tuple | None = None,
          label: str | None = None, log: bool = False) -> dict[str, Any]:
    """A field's metadata: its help text (the command line's and the window's), its range of
    numbers, its choices, its label in the window, and whether a slider for it is logarithmic."""
    return {"help": help, "range": range, "choices": choices, "label": label, "log": log}


class Fields:
    """What every settings dataclass shares. A subclass is a frozen dataclass whose fields carry
    `meta`; it may name a prefix for its fields in messages, the fields holding another settings
    dataclass, and fields older versions wrote that reading ignores."""

    #: how this dataclass's fields are named in messages ("tuning." for the engine's tuning)
    _prefix: ClassVar[str] = ""
    #: "unknown <what>" for a field this version does not know
    _what: ClassVar[str] = "setting"
    #: fields holding another settings dataclass: checked, written and read by it
    _nested: ClassVar[dict[str, type]] = {}
    #: fields older versions wrote, ignored when reading
    _retired: ClassVar[frozenset[str]] = frozenset()

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def check_fields(self, skip: tuple[str, ...] = ()) -> None:
        """Raise `SettingsError` for the first field out of its kind, range or choices (a
        nested dataclass checks itself, unless `skip` names it)."""
        for f in fields(self):
            if f.name in skip:
                continue
            value = getattr(self, f.name)
            if f.name in self._nested:
                value.validate()
            else:
                check_field(f, value, self._prefix + f.name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self._nested:
                out[f.name] = value.to_dict()
            elif _kind(f) == "table":
                out[f.name] = dict(value)
            elif _kind(f) == "pairs":
                out[f.name] = [list(p) for p in value]
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Any):
        """Build from a dict (as `to_dict` makes); missing fields take their defaults. Unknown
        fields and values of the wrong kind raise `SettingsError`."""
        if not isinstance(data, dict):
            raise SettingsError(cls._prefix.rstrip(".") or "settings", "expected a JSON object")
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in cls._retired:
                continue
            if key not in known:
                raise SettingsError(cls._prefix + str(key), f"unknown {cls._what}")
            kwargs[key] = cls._nested[key].from_dict(value) if key in cls._nested \
                else coerce(known[key], value, cls._prefix + key)
        return cls(**kwargs)


def _parse_int(digits: str) -> int | float:
    # Python refuses to convert integers of more than 4300 digits (a ValueError deep in json);
    # an absurdly long number becomes a float (inf), which the field check then names.
    return int(digits) if len(digits) <= 30 else float(digits)


def parse_json(text: str) -> Any:
    """JSON text -> a value, or `SettingsError` in one line (also for absurd numbers and
    nesting)."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise SettingsError("settings", f"not valid JSON ({e.msg} at line {e.lineno} column "
                            f"{e.colno})") from None
    except (TypeError, ValueError, RecursionError) as e:
        raise SettingsError("settings", f"not valid JSON ({type(e).__name__})") from None


def _kind(f: dataclasses.Field) -> str:
    t = str(f.type)
    if t.startswith("tuple[tuple[str"):
        return "table"  # a small table of names, written as a JSON object
    if t.startswith("tuple[tuple[float"):
        return "pairs"  # pairs of numbers, written as a list of two-number lists
    if t.startswith("tuple[str"):
        return "strs"
    if t.startswith("tuple[float"):
        return "floats"
    if t in ("bool",):
        return "bool"
    if t in ("int",):
        return "int"
    if t.startswith("float"):
        return "float"
    return "str"  # str and the Literal choices


def coerce(f: dataclasses.Field, value: Any, name: str | None = None) -> Any:
    """Convert a JSON value to the field's type, or raise SettingsError (`name`: the field's
    name in the message)."""
    kind = _kind(f)
    try:
        if kind == "table":
            return tuple((str(k), str(v)) for k, v in dict(value).items())
        if kind == "pairs":
            if isinstance(value, (str, bytes, dict)):
                raise TypeError
            pairs = tuple(tuple(p) for p in value)
            if any(len(p) != 2 or any(isinstance(v, bool) for v in p) for p in pairs):
                raise TypeError
            return tuple((float(a), float(b)) for a, b in pairs)
        if kind in ("strs", "floats"):
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError
            conv = str if kind == "strs" else float
            if kind == "floats" and any(isinstance(v, bool) for v in value):
                raise TypeError
            return tuple(conv(v) for v in value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if value is None and "None" in str(f.type):
                return None
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        wanted = {"strs": "a list of names", "floats": "a list of numbers",
                  "bool": "true or false", "int": "a whole number", "table": "an object",
                  "pairs": "a list of pairs of numbers"}.get(kind, kind)
        raise SettingsError(name or f.name, f"expected {wanted}, got {value!r}") from None


def check_field(f: dataclasses.Field, value: Any, name: str | None = None) -> None:
    """Raise SettingsError unless `value` is of the field's kind, in its range and among its
    choices (`name`: the field's name in the message)."""
    meta = f.metadata
    kind = _kind(f)
    name = name or f.name
    if kind in ("table", "pairs"):
        if not isinstance(value, tuple) or not all(isinstance(p, tuple) and len(p) == 2
                                                   for p in value):
            raise SettingsError(name, f"expected {'an object' if kind == 'table' else 'pairs'}, "
                                f"got {value!r}")
        return
    if kind == "strs":
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            raise SettingsError(name, f"expected a list of names, got {value!r}")
        if meta.get("choices"):
            for v in value:
                if v not in meta["choices"]:
                    raise SettingsError(name, f"unknown layer {v!r}; choose from "
                                        f"{', '.join(meta['choices'])}")
        return
    if kind == "floats":
        if not isinstance(value, tuple):
            raise SettingsError(name, f"expected a list of numbers, got {value!r}")
        for v in value:
            check_number(name, v, meta["range"])
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(name, f"expected true or false, got {value!r}")
        return
    if kind in ("int", "float"):
        if value is None and "None" in str(f.type):
            return
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise SettingsError(name, f"expected a whole number, got {value!r}")
        check_number(name, value, meta["range"])
        return
    if not isinstance(value, str):
        raise SettingsError(name, f"expected text, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise SettingsError(name, f"must be one of {', '.join(meta['choices'])} (got {value!r})")


def check_number(name: str, value: Any, rng: tuple[float, float] | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(name, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise SettingsError(name, f"must be a finite number (got {value!r})")
    if rng is not None and not (rng[0] <= value <= rng[1]):
        raise SettingsError(name, f"must be between {rng[0]:g} and {rng[1]:g} (got {value:g})")
