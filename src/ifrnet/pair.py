"""Interpolate between two image files: numbered PNGs, an animated GIF, an overlay."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .io.files import check_output_path
from .io.images import overlay, read_image, write_gif, write_png

if TYPE_CHECKING:
    from .engine import Engine


def frame_name(index: int, t: float) -> str:
    """``frame_003_t0.3750.png``: sequence position (the first input is 000), then the time."""
    return f"frame_{index:03d}_t{t:.4f}.png"


@dataclass
class PairJob:
    """A validated request: both inputs read, every output path checked, nothing written yet.

    Build it with :meth:`prepare` before loading a model, so that a typo in a file name is
    reported at once and a refused run writes nothing.
    """

    frame0: np.ndarray
    frame1: np.ndarray
    times: list[float]
    targets: list[Path]
    gif: Path | None = None
    gif_fps: float = 10.0
    overlay: Path | None = None
    written: list[Path] = field(default_factory=list)

    @classmethod
    def prepare(
        cls,
        path0: str | os.PathLike,
        path1: str | os.PathLike,
        out_dir: str | os.PathLike,
        times: list[float],
        gif: str | os.PathLike | None = None,
        gif_fps: float = 10.0,
        write_overlay: bool = False,
        overwrite: bool = False,
    ) -> PairJob:
        frame0, frame1 = read_image(path0), read_image(path1)
        if frame0.shape != frame1.shape:
            raise InputError(
                f"{path1}: size {frame1.shape[1]}x{frame1.shape[0]} differs from {path0} "
                f"({frame0.shape[1]}x{frame0.shape[0]}); both frames must have the same size"
            )
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a directory")
        inputs = [path0, path1]
        times = sorted(set(times))
        targets = [check_output_path(out / frame_name(i, t), inputs, overwrite) for i, t in enumerate(times, start=1)]
        return cls(
            frame0=frame0,
            frame1=frame1,
            times=times,
            targets=targets,
            gif=check_output_path(gif, inputs, overwrite) if gif is not None else None,
            gif_fps=gif_fps,
            overlay=check_output_path(out / "overlay.png", inputs, overwrite) if write_overlay else None,
        )

    def run(self, engine: Engine) -> list[Path]:
        """Interpolate and write every output; returns the paths written, frames first."""
        middles = engine.interpolate(self.frame0, self.frame1, self.times)
        self.written = [write_png(target, frame) for target, frame in zip(self.targets, middles, strict=True)]
        if self.overlay is not None:
            self.written.append(write_png(self.overlay, overlay(self.frame0, self.frame1)))
        if self.gif is not None:
            self.written.append(write_gif(self.gif, [self.frame0, *middles, self.frame1], fps=self.gif_fps))
        return self.written
