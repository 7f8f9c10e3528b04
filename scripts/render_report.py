"""Render an ``ifrnet eval --report`` page in headless Chromium and save a screenshot.

    python scripts/render_report.py eval_report/index.html -o report.png

Proves the page renders as a browser shows it: the tables and every comparison image load
(a screenshot of text alone has a few hundred colours, one with the frames tens of thousands;
the script reports the count and fails below ``--min-colours``). Screenshots are for looking
at, not for committing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The first headless-capable Chromium on PATH (or $CHROMIUM), or None."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 2400, timeout: float = 120.0) -> Path:
    """Render ``page`` with headless Chromium into the PNG ``out``; raises RuntimeError on failure."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (install chromium or set $CHROMIUM)")
    if not page.is_file():
        raise RuntimeError(f"{page}: no such file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # needed when running as root, as in containers and CI
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out.resolve()}",
            page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{browser} could not render {page} (exit {done.returncode}): {tail}")
    return out


def colour_count(png: Path) -> int:
    """Distinct RGB colours in an image."""
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(np.uint32)
    return len(np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the report's index.html")
    parser.add_argument("-o", "--out", type=Path, default=Path("report_screenshot.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--min-colours", type=int, default=5000, help="fail below this many colours")
    args = parser.parse_args(argv)
    try:
        screenshot(args.page, args.out, args.width, args.height)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"render_report: {exc}", file=sys.stderr)
        return 1
    colours = colour_count(args.out)
    size = Image.open(args.out).size
    print(f"{args.out}: {size[0]}x{size[1]} screenshot, {colours} distinct colours")
    if colours < args.min_colours:
        print(f"render_report: {args.out}: only {colours} colours; the images did not load", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
