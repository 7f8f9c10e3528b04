"""Name -> builder registry for the model variants (timm-style).

Variants differ only in their :class:`IFRNetConfig`; the builders are registered under the
official names. Names and aliases are resolved by :func:`ifrnet.names.official_variant`, which
torch-free code uses too, so a variant registered here is known there as well.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import InputError
from ..names import add_variant, official_variant
from .ifrnet import IFRNET, IFRNET_L, IFRNET_S, IFRNet, IFRNetConfig

_BUILDERS: dict[str, Callable[[], IFRNet]] = {}
#: configs read off the builders, filled on first use
_CONFIG_CACHE: dict[str, IFRNetConfig] = {}


def register_model(name: str, *aliases: str) -> Callable[[Callable[[], IFRNet]], Callable[[], IFRNet]]:
    """Register a builder under ``name`` and case-insensitive ``aliases``."""

    def decorator(builder: Callable[[], IFRNet]) -> Callable[[], IFRNet]:
        _BUILDERS[name] = builder
        _CONFIG_CACHE.pop(name, None)
        add_variant(name, *aliases)
        return builder

    return decorator


# The built-in variants' aliases are in ifrnet.names.VARIANT_ALIASES.
@register_model("IFRNet")
def ifrnet() -> IFRNet:
    return IFRNet(IFRNET)


@register_model("IFRNet_L")
def ifrnet_l() -> IFRNet:
    return IFRNet(IFRNET_L)


@register_model("IFRNet_S")
def ifrnet_s() -> IFRNet:
    return IFRNet(IFRNET_S)


def list_models() -> list[str]:
    """The official variant names."""
    return sorted(_BUILDERS)


def canonical_name(name: str) -> str:
    """The official spelling of a registered variant or alias; ``InputError`` if unknown."""
    official = official_variant(name)
    if official not in _BUILDERS:  # known by name (ifrnet.names) but never registered here
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
    return official


def create_model(name: str = "IFRNet") -> IFRNet:
    """A freshly initialised model of the named variant (PyTorch's default initialisation)."""
    return _BUILDERS[canonical_name(name)]()


def model_config(name: str) -> IFRNetConfig:
    """The configuration the named variant's builder makes, without allocating its weights."""
    official = canonical_name(name)
    if official not in _CONFIG_CACHE:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            _CONFIG_CACHE[official] = _BUILDERS[official]().config
    return _CONFIG_CACHE[official]
