"""What the application keeps of a finished job, chosen by the job's kind: what goes to the
history, and what a batch item writes as its output. Callers ask the keeper of the job they ran
(`keeper_for(job)`) instead of guessing a result's kind from its attributes.
"""
from __future__ import annotations

from pathlib import Path

from nst_core import TransferSettings
from nst_core.job import Job
from nst_core.media.images import save_image

from .history import HistoryEntry, HistoryStore


class Keeper:
    """Keeps nothing: a kind whose result the history does not list (a camera's frames are
    seen as they come, a chunk is joined by its render)."""

    #: what a batch item of this kind writes: "picture", or "" for nothing
    output = ""

    def record(self, history: HistoryStore, job: Job, result, source: str
               ) -> HistoryEntry | None:
        """Add the result to the history; None when there is nothing to list. Raises OSError
        or NSTError when the history cannot be written."""
        return None

    def history_problem(self, history: HistoryStore, result, reason: str) -> str:
        """One line for the person when `record` failed."""
        return f"The result could not be listed in the history in {history.folder} ({reason})."

    def has_work(self, result) -> bool:
        """Whether the result holds anything made (a stop before the first step does not)."""
        return result is not None

    def settings_of(self, job: Job) -> TransferSettings | None:
        """The picture settings a batch item of this kind is named and checked by on disk;
        None for a kind that has none."""
        return None

    def save(self, result, path: str | Path, overwrite: bool) -> Path:
        """Write the result as a batch item's output file."""
        raise TypeError("this kind of job writes no output file")

    def as_given(self, result, job: Job):
        """The result as the person's own `job` describes it (a remote worker ran a copy
        reading its files from other paths)."""
        return result


class PictureKeeper(Keeper):
    """A still picture: into the history with its settings, and saved with them embedded."""

    output = "picture"

    def record(self, history, job, result, source):
        return history.add(result, source)

    def history_problem(self, history, result, reason):
        return (f"The picture could not be written to the history in {history.folder} "
                f"({reason}); save it with Save As.")

    def has_work(self, result) -> bool:
        return result is not None and result.iterations > 0

    def settings_of(self, job):
        return job.settings

    def save(self, result, path, overwrite):
        return save_image(path, result.image, result.settings.to_json(), overwrite=overwrite,
                          alpha=result.alpha, deep=result.deep)

    def as_given(self, result, job):
        if result is not None:
            result.settings = job.settings
        return result


def _picture_settings(photo: str, painting: str, picture) -> TransferSettings:
    """The picture settings an instant style's picture is listed with: its photo, the painting
    the style learned (when that file is here) and its size, so that the history names them
    and Paint Again paints the same pair with the full optimization."""
    size = min(max(max(picture.shape[:2]), 32), 8192)
    return TransferSettings(content=photo, styles=(painting,) if painting else (), size=size)


def instant_reason(painting: str) -> str:
    """What an instant style's picture says it is, in the window and the history alike."""
    return f"instant style: {painting.replace('_', ' ')}"


def _painting_of(model_path: str) -> str:
    from nst_core.networks.stylize import cached_model

    from .models import painting_of

    return painting_of(cached_model(model_path))


class InstantPictureKeeper(Keeper):
    """A photo repainted by an instant style: saved as a picture, and listed in the history
    with its photo and painting (the window lists one when the person keeps it: its live
    repaints are previews)."""

    output = "picture"

    def record(self, history, job, result, source):
        return history.add_image(
            result.image, _picture_settings(job.content, _painting_of(result.model), result.image),
            0, float(result.timings.get("total", 0.0)), result.status,
            instant_reason(result.painting), source, alpha=result.alpha)

    def save(self, result, path, overwrite):
        return save_image(path, result.image, overwrite=overwrite)


class TrainingKeeper(Keeper):
    """A finished training: its last previews (held-out photos repainted) in the history,
    named by the painting and the model file; a stopped training is not listed (its
    checkpoint is in the model file, and the same command goes on)."""

    def record(self, history, job, result, source):
        if result.status != "done" or result.preview is None:
            return None
        s = job.settings
        photos = s.held_out or s.photos
        return history.add_image(
            result.preview, _picture_settings(photos[0] if photos else "", s.style,
                                              result.preview),
            result.steps_done, float(result.timings.get("total", 0.0)), "done",
            f"instant style trained in {result.steps_done} steps: {result.path}", source)

    def history_problem(self, history, result, reason):
        return (f"The model is written to {result.path}, but it could not be listed in the "
                f"history in {history.folder} ({reason}).")


class VideoKeeper(Keeper):
    """A video: its poster frame and where the file is, once written."""

    def record(self, history, job, result, source):
        return history.add_video(result, job.settings, source)

    def history_problem(self, history, result, reason):
        return (f"The video is written to {result.output}, but it could not be listed in the "
                f"history in {history.folder} ({reason}).")


KEEPERS: dict[str, Keeper] = {"still": PictureKeeper(), "apply": InstantPictureKeeper(),
                              "video": VideoKeeper(), "train": TrainingKeeper()}


def keeper_for(job: Job | None) -> Keeper:
    return KEEPERS.get(job.kind, Keeper()) if job is not None else Keeper()
