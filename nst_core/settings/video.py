"""What a video render depends on beyond the picture settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from nst_core.base.errors import SettingsError
from nst_core.media.video import MAX_SECONDS, VIDEO_OUTPUTS
from nst_core.settings.fields import Fields, meta
from nst_core.settings.picture import TransferSettings

Method = Literal["optimize", "instant"]

#: The picture settings a video starts from: smaller than a still's (a clip has many frames).
VIDEO_PICTURE = TransferSettings(size=384, iterations=200)


@dataclass(frozen=True)
class VideoSettings(Fields):
    """What a video render depends on beyond the picture settings (`picture`: the paintings,
    output size as the long side, weights, iterations of the first frame, optimizer, device)."""

    _what: ClassVar[str] = "video setting"
    _nested: ClassVar[dict[str, type]] = {"picture": TransferSettings}

    content: str = field(default="", metadata=meta(
        "The clip to repaint (MP4, MOV, MKV, WebM ...).", label="Clip"))
    output: str = field(default="", metadata=meta(
        "The video to write (.mp4, .mov or .mkv; H.264 with the clip's sound), or a folder "
        "for PNG frames.", label="Output"))
    method: Method = field(default="optimize", metadata=meta(
        "optimize: every frame optimized (best pictures, slow); instant: an instant-style "
        "model repaints each frame (fast).", choices=("optimize", "instant"), label="Method"))
    model: str = field(default="", metadata=meta(
        "The instant-style model (method instant).", label="Model"))
    start: float = field(default=0.0, metadata=meta(
        "Seconds into the clip where the render starts.", range=(0.0, MAX_SECONDS),
        label="Start (s)"))
    end: float = field(default=0.0, metadata=meta(
        "Seconds into the clip where it ends (0: the clip's end).", range=(0.0, MAX_SECONDS),
        label="End (s)"))
    max_fps: float = field(default=0.0, metadata=meta(
        "Frames per second at most (0: every frame of the clip).", range=(0.0, 240.0),
        label="Frame-rate limit"))
    temporal_weight: float = field(default=500.0, metadata=meta(
        "How strongly each frame holds to the previous one along the motion (0: every frame "
        "on its own, which flickers).", range=(0.0, 1e6), log=True, label="Temporal weight"))
    long_term: bool = field(default=False, metadata=meta(
        "Also hold each frame to frames 4 and 8 back, where nearer frames do not see it "
        "(steadier where something passes in front; slower).", label="Long-term consistency"))
    frame_iterations: int = field(default=0, metadata=meta(
        "Iterations of each frame after the first, which starts from the previous frame "
        "(0: a third of the first frame's).", range=(0, 100_000), label="Later frames' "
        "iterations"))
    stability: float = field(default=0.4, metadata=meta(
        "Instant method: how far each frame is pulled toward the previous one where the "
        "motion is reliable (0: not at all).", range=(0.0, 1.0), label="Stability"))
    strength: float = field(default=1.0, metadata=meta(
        "Instant method: 0 keeps the clip, 1 is the full style.", range=(0.0, 1.0),
        label="Strength"))
    keep_colors: bool = field(default=False, metadata=meta(
        "Instant method: keep the clip's own colours.", label="Keep colours"))
    quality: int = field(default=18, metadata=meta(
        "H.264 quality (CRF): lower is better and larger; 18 looks like the source.",
        range=(0, 51), label="Video quality"))
    overwrite: bool = field(default=False, metadata=meta(
        "Replace an existing output (and frames kept from another render).",
        label="Overwrite"))
    picture: TransferSettings = field(default=VIDEO_PICTURE, metadata=meta(
        "The picture settings of every frame.", label="Picture"))

    @property
    def later_iterations(self) -> int:
        return self.frame_iterations or max(1, self.picture.iterations // 3)

    @property
    def to_folder(self) -> bool:
        """PNG frames into a folder (an output without an extension, or a folder)."""
        p = Path(self.output)
        return not p.suffix or p.is_dir()

    def validate(self) -> VideoSettings:
        self.check_fields(skip=("picture",))  # the picture is checked below, as the method wants
        if not self.content:
            raise SettingsError("content", "choose the clip to repaint")
        if not self.output:
            raise SettingsError("output", "choose where to write the video")
        suffix = Path(self.output).suffix
        if not self.to_folder and suffix.lower() not in VIDEO_OUTPUTS:
            raise SettingsError("output", f"cannot write a video as {suffix}; use .mp4, .mov "
                                          "or .mkv, or a folder for PNG frames")
        if self.end and self.end <= self.start:
            raise SettingsError("end", f"must be after the start ({self.start:g} s), or 0 for "
                                       "the clip's end")
        if self.method == "instant":
            if not self.model:
                raise SettingsError("model", "choose an instant-style model")
        else:
            self.picture.replace(content=self.content).validate()
            if self.picture.color == "luminance":
                raise SettingsError("color", "luminance colour is not available for video; "
                                             "use none or histogram")
        return self
