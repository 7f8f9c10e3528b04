"""IFRNet frame interpolation: models, weights and an inference engine.

>>> import ifrnet
>>> model = ifrnet.load_model()  # the shipped starter weights, or an official checkpoint found  # doctest: +SKIP
>>> middle, = ifrnet.Interpolator(model).interpolate(frame0, frame1, times=[0.5])  # doctest: +SKIP

The names below are loaded on first use, so that ``import ifrnet.backends.onnx`` (the
onnxruntime backend) works where PyTorch is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import Engine
from .errors import CheckpointError, IFRNetError, InputError
from .lazy import lazy_names
from .spec import EngineSpec
from .times import factor_times
from .version import __version__

#: Public names that need torch, and the module each comes from.
_LAZY = {
    "Interpolator": ".backends.torch",
    "IFRNet": ".models",
    "create_model": ".models",
    "list_models": ".models",
    "convert_checkpoint": ".weights",
    "find_checkpoint": ".weights",
    "load_model": ".weights",
}

__all__ = [
    "CheckpointError",
    "Engine",
    "EngineSpec",
    "IFRNet",
    "IFRNetError",
    "InputError",
    "Interpolator",
    "__version__",
    "convert_checkpoint",
    "create_model",
    "factor_times",
    "find_checkpoint",
    "list_models",
    "load_model",
]

if TYPE_CHECKING:
    from .backends.torch import Interpolator
    from .models import IFRNet, create_model, list_models
    from .weights import convert_checkpoint, find_checkpoint, load_model


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
