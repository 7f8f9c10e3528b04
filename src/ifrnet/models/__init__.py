"""IFRNet variants and the tensor helpers they are built from."""

from .ifrnet import IFRNET, IFRNET_L, IFRNET_S, Decoded, Features, IFRNet, IFRNetConfig, check_pair
from .registry import canonical_name, create_model, list_models, register_model

__all__ = [
    "IFRNET",
    "IFRNET_L",
    "IFRNET_S",
    "Decoded",
    "Features",
    "IFRNet",
    "IFRNetConfig",
    "canonical_name",
    "check_pair",
    "create_model",
    "list_models",
    "register_model",
]
