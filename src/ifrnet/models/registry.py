"""Name -> builder registry for the model variants (timm-style).

Variants differ only in their :class:`IFRNetConfig`; the builders are registered under the
official names and looked up case-insensitively, with a few aliases.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InputError
from ..names import VARIANT_ALIASES, normalise
from .ifrnet import IFRNET, IFRNET_L, IFRNET_S, IFRNet

_BUILDERS: dict[str, Callable[[], IFRNet]] = {}
_ALIASES: dict[str, str] = {}


def register_model(name: str, *aliases: str) -> Callable[[Callable[[], IFRNet]], Callable[[], IFRNet]]:
    """Register a builder under ``name`` and case-insensitive ``aliases``."""

    def decorator(builder: Callable[[], IFRNet]) -> Callable[[], IFRNet]:
        _BUILDERS[name] = builder
        for alias in (name, *aliases):
            _ALIASES[normalise(alias)] = name
        return builder

    return decorator


@register_model("IFRNet", *VARIANT_ALIASES["IFRNet"])
def ifrnet() -> IFRNet:
    return IFRNet(IFRNET)


@register_model("IFRNet_L", *VARIANT_ALIASES["IFRNet_L"])
def ifrnet_l() -> IFRNet:
    return IFRNet(IFRNET_L)


@register_model("IFRNet_S", *VARIANT_ALIASES["IFRNet_S"])
def ifrnet_s() -> IFRNet:
    return IFRNet(IFRNET_S)


def list_models() -> list[str]:
    """The official variant names."""
    return sorted(_BUILDERS)


def canonical_name(name: str) -> str:
    """The official spelling of a variant name or alias; ``InputError`` if unknown."""
    try:
        return _ALIASES[normalise(name)]
    except KeyError:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(sorted(_BUILDERS))}") from None


def create_model(name: str = "IFRNet") -> IFRNet:
    """A freshly initialised model of the named variant (PyTorch's default initialisation)."""
    return _BUILDERS[canonical_name(name)]()
