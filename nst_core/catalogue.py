"""The kinds of job the engine ships, by name: what rebuilds a job from its JSON (a queue file,
a command line's `--jobs` file, a Ray worker). It sits above every kind; nothing in the engine
imports it."""
from __future__ import annotations

import json
from typing import Any

from nst_core.base.errors import SettingsError
from nst_core.job import JOB_FORMAT, Job
from nst_core.kinds.apply import ApplyJob
from nst_core.kinds.camera import CameraJob
from nst_core.kinds.still import StillJob
from nst_core.kinds.train import TrainJob
from nst_core.kinds.video import VideoJob
from nst_core.kinds.video_chunk import VideoChunkJob

KINDS: dict[str, type[Job]] = {cls.kind: cls for cls in (
    StillJob, TrainJob, ApplyJob, CameraJob, VideoJob, VideoChunkJob)}


def job_from_dict(data: Any) -> Job:
    """The job a dict describes (`Job.to_dict`); `SettingsError` for anything else."""
    if not isinstance(data, dict):
        raise SettingsError("job", "expected a JSON object")
    data = dict(data)
    fmt = data.pop("job_format", JOB_FORMAT)
    if fmt != JOB_FORMAT:
        raise SettingsError("job_format", f"unsupported job format {fmt!r} (this version "
                            f"reads {JOB_FORMAT})")
    kind = data.pop("kind", None)
    if kind not in KINDS:
        raise SettingsError("kind", f"unknown kind of job {kind!r}; known: "
                            f"{', '.join(sorted(KINDS))}")
    return KINDS[kind].from_payload(data)


def job_from_json(text: str) -> Job:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise SettingsError("job", f"not valid JSON ({e})") from None
    return job_from_dict(data)
