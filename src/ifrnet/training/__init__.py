"""Training: losses, trainer, distributed helpers (pseudo-label flow is data: ``ifrnet.data.pseudo_flow``).

``compute_losses`` (the paper's objective, ``docs/IFRNET.md`` section 4) is loaded on first use,
so that importing a light submodule such as :mod:`ifrnet.training.config` does not build the
model code as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

#: Public names, and the submodule each comes from.
_LAZY = {"compute_losses": ".losses"}

__all__ = ["compute_losses"]

if TYPE_CHECKING:
    from .losses import compute_losses


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
