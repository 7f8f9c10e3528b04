"""Weights that ship inside the package, and what is known about them.

Kept apart from the architecture (as timm keeps its pretrained configs): the model code never
needs to know where weights came from. ``ifrnet.load_model()`` with no arguments falls back to
:data:`DEFAULT` when none of the authors' checkpoints is found, so the main job works on a
fresh machine without downloading anything. ``MODEL_CARD.md`` at the repository root documents
the data, recipe, scores and limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ShippedWeights:
    """Metadata of a weights file inside this package."""

    #: what ``--checkpoint`` accepts to pick these weights explicitly
    tag: str
    #: the variant the weights are for
    model: str
    filename: str
    #: whether the network was trained to honour t (arbitrary-time interpolation)
    uses_time: bool
    trained_on: str
    licence: str

    @property
    def path(self) -> Path:
        return Path(__file__).with_name(self.filename)

    def available(self) -> bool:
        return self.path.is_file()


#: Every shipped weights file.
SHIPPED: tuple[ShippedWeights, ...] = (
    ShippedWeights(
        tag="starter",
        model="IFRNet_S",
        filename="ifrnet_s_starter.safetensors",
        uses_time=True,
        trained_on=(
            "real footage from the project's shared data (OpenCV sample videos, ViSP sequences) and "
            "synthetic layered motion over scikit-image photographs; see MODEL_CARD.md"
        ),
        licence=(
            "weights: MIT, as the code; trained on OpenCV sample videos (Apache-2.0 AND BSD-3-Clause), "
            "ViSP image sequences (GPL-2) and scikit-image's photographs (see MODEL_CARD.md)"
        ),
    ),
)

#: What ``load_model()`` uses when it is given nothing and finds no official checkpoint.
DEFAULT: ShippedWeights = SHIPPED[0]


def shipped(tag: str) -> ShippedWeights | None:
    """The shipped weights called ``tag`` (case-insensitive), or None."""
    return next((w for w in SHIPPED if w.tag == tag.lower()), None)
