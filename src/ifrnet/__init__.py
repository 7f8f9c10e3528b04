"""IFRNet frame interpolation: models, weights and an inference engine.

>>> import ifrnet
>>> model = ifrnet.load_model("IFRNet", "checkpoints/IFRNet/IFRNet_Vimeo90K.pth")  # doctest: +SKIP
>>> middle, = ifrnet.Interpolator(model).interpolate(frame0, frame1, times=[0.5])  # doctest: +SKIP
"""

from .errors import CheckpointError, IFRNetError, InputError
from .inference import Interpolator, factor_times
from .models import IFRNet, create_model, list_models
from .weights import convert_checkpoint, find_checkpoint, load_model

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "IFRNet",
    "IFRNetError",
    "InputError",
    "Interpolator",
    "convert_checkpoint",
    "create_model",
    "factor_times",
    "find_checkpoint",
    "list_models",
    "load_model",
]
