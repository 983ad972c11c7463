"""One field mechanism for every settings dataclass: each refuses the same bad input in the same
one-line way, naming the field, and round-trips through JSON."""
from __future__ import annotations

import json

import pytest

from nst_core import SettingsError, TransferSettings, Tuning
from nst_core.settings.training import TrainSettings
from nst_core.settings.video import VideoSettings

#: (settings, an int field, its prefix in messages, what "unknown" says)
CASES = [
    (TransferSettings(content="a.png", styles=("b.png",)), "iterations", "", "setting"),
    (TrainSettings(style="s.png", photos=("a.png",), output="m.nst"), "steps", "",
     "training setting"),
    (VideoSettings(content="c.mp4", output="o.mp4"), "quality", "", "video setting"),
    (Tuning(), "lbfgs_history", "tuning.", "tuning field"),
]


@pytest.mark.parametrize("settings, int_field, prefix, what", CASES,
                         ids=[type(c[0]).__name__ for c in CASES])
def test_every_settings_dataclass_reads_and_refuses_alike(settings, int_field, prefix, what):
    cls = type(settings)
    data = json.loads(json.dumps(settings.to_dict()))  # through JSON text
    assert cls.from_dict(data) == settings
    whole = f"{prefix}{int_field}: expected a whole number, got "
    for bad, message in (({**data, "colour": 1}, f"{prefix}colour: unknown {what}"),
                         ({**data, int_field: 2.5}, whole + "2.5"),
                         ({**data, int_field: "many"}, whole + "'many'")):
        with pytest.raises(SettingsError) as e:
            cls.from_dict(bad)
        assert str(e.value) == message
    with pytest.raises(SettingsError, match=rf"^{prefix}{int_field}: must be between"):
        settings.replace(**{int_field: 10**9}).validate()
    with pytest.raises(SettingsError, match="expected a JSON object"):
        cls.from_dict([1, 2])
