"""Visual reports: what interpolation looks like, not only what it scores.

For chosen samples a panel shows the inputs overlaid, the ground truth, every method's frame,
IFRNet's error map, its two predicted flows (Middlebury colour wheel) and its occlusion mask
(from an engine that shows them, :class:`ifrnet.engine.FlowEngine`);
an HTML page puts the panels under the results table.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import Tensor

from ..io.files import atomic_output
from ..io.images import write_png

# Hue segments of the Middlebury flow colour wheel (Baker et al. 2011): red-yellow, yellow-green,
# green-cyan, cyan-blue, blue-magenta, magenta-red, with as many steps as the eye needs to tell them apart.
_WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)


def _colour_wheel() -> np.ndarray:
    """(55, 3) float colours going once round the hue circle."""
    ramps = []
    for index, steps in enumerate(_WHEEL_SEGMENTS):
        ramp = np.arange(steps) / steps
        start, end = index // 2 % 3, (index // 2 + 1) % 3
        colour = np.zeros((steps, 3))
        if index % 2 == 0:  # the next primary fades in while the current one stays full
            colour[:, start] = 1.0
            colour[:, end] = ramp
        else:  # the current primary fades out
            colour[:, end] = 1.0
            colour[:, start] = 1.0 - ramp
        ramps.append(colour)
    return np.concatenate(ramps) * 255.0


_WHEEL = _colour_wheel()


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """A (H, W, 2) flow as uint8 RGB: hue is the direction, saturation the length.

    Lengths are normalised by ``max_magnitude`` (default: the largest in the field), so white is
    no motion and fully saturated the largest motion.
    """
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    magnitude = np.hypot(u, v)
    scale = max_magnitude if max_magnitude else max(float(magnitude.max()), 1e-9)
    radius = np.clip(magnitude / scale, 0.0, 1.0)
    angle = np.arctan2(-v, -u) / math.pi  # -1..1, round the wheel
    position = (angle + 1.0) / 2.0 * (len(_WHEEL) - 1)
    lo = np.floor(position).astype(int)
    hi = (lo + 1) % len(_WHEEL)
    frac = (position - lo)[..., None]
    colour = (1 - frac) * _WHEEL[lo] + frac * _WHEEL[hi]
    # short vectors fade towards white
    colour = 255.0 - radius[..., None] * (255.0 - colour)
    return np.clip(np.rint(colour), 0, 255).astype(np.uint8)


def error_map(pred: np.ndarray, target: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """Absolute error (mean over RGB, x``gain``) as a black-red-yellow-white heat map, uint8."""
    err = np.abs(pred.astype(np.float64) - target.astype(np.float64)).mean(axis=2) / 255.0 * gain
    err = np.clip(err, 0.0, 1.0)
    heat = np.stack([np.clip(3 * err, 0, 1), np.clip(3 * err - 1, 0, 1), np.clip(3 * err - 2, 0, 1)], axis=2)
    return (heat * 255).round().astype(np.uint8)


def to_uint8(image: Tensor) -> np.ndarray:
    """(1, 3, H, W) float [0, 1] -> (H, W, 3) uint8."""
    return (image[0].detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


#: Tiles in a panel's side-by-side strip: inputs overlaid, ground truth and the first three methods.
STRIP_TILES = 5


@dataclass
class Panel:
    """One sample's row of labelled images."""

    title: str
    tiles: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def strip(self, count: int = STRIP_TILES, scale: float = 0.5) -> np.ndarray:
        """The first ``count`` tiles side by side at ``scale``, each captioned: one image to show around."""
        from PIL import Image, ImageDraw

        pieces = []
        for label, tile in self.tiles[:count]:
            image = Image.fromarray(tile)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS)
            captioned = Image.new("RGB", (image.width, image.height + 18), "white")
            captioned.paste(image, (0, 18))
            ImageDraw.Draw(captioned).text((4, 3), label, fill="black")
            pieces.append(np.asarray(captioned))
        height = max(p.shape[0] for p in pieces)
        gap = np.full((height, 4, 3), 255, dtype=np.uint8)
        row = []
        for piece in pieces:
            pad = np.full((height - piece.shape[0], piece.shape[1], 3), 255, dtype=np.uint8)
            row += [np.concatenate([piece, pad]), gap]
        return np.concatenate(row[:-1], axis=1)


def write_report(out_dir: str | os.PathLike, title: str, tables_html: str, panels: list[Panel]) -> Path:
    """Write the panels' images and an ``index.html`` that shows them under the tables."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    sections = []
    for number, panel in enumerate(panels):
        figures = []
        for index, (label, image) in enumerate(panel.tiles):
            name = f"images/p{number:02d}_{index:02d}.png"
            write_png(out / name, image)
            caption = html.escape(label)
            figures.append(f'<figure><img src="{name}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
        strip = f"images/p{number:02d}_strip.png"
        write_png(out / strip, panel.strip())
        link = f'<p><a href="{strip}">side-by-side strip</a></p>'
        sections.append(
            f"<section><h2>{html.escape(panel.title)}</h2><div class=row>{''.join(figures)}</div>{link}</section>"
        )
    page = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; background: #fafafa; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.row {{ display: flex; flex-wrap: wrap; gap: 8px; }}
figure {{ margin: 0; }} figure img {{ max-width: 320px; display: block; image-rendering: pixelated; }}
figcaption {{ font-size: 0.85em; text-align: center; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{tables_html}
{"".join(sections)}
</body></html>
"""
    with atomic_output(out / "index.html") as tmp:
        tmp.write_text(page)
    return out / "index.html"


def markdown_table_to_html(markdown: str) -> str:
    """A pipe-delimited markdown table as an HTML table (what ``summary.md`` holds)."""
    rows = [
        line.strip().strip("|").split("|") for line in markdown.strip().splitlines() if line.strip().startswith("|")
    ]
    rows = [r for r in rows if not all(set(c.strip()) <= set("-: ") for c in r)]
    if not rows:
        return f"<pre>{html.escape(markdown)}</pre>"
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
