"""Variant names and their aliases, without PyTorch: the onnxruntime backend checks names too."""

from __future__ import annotations

from .errors import InputError

#: official name -> extra spellings accepted for it (case and '-'/'_' never matter)
VARIANT_ALIASES: dict[str, tuple[str, ...]] = {
    "IFRNet": ("ifrnet_base", "ifrnet_b"),
    "IFRNet_L": ("ifrnet_large",),
    "IFRNet_S": ("ifrnet_small",),
}


def normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def official_variant(name: str) -> str:
    """The official spelling of a built-in variant or alias; ``InputError`` if unknown."""
    wanted = normalise(name)
    for official, aliases in VARIANT_ALIASES.items():
        if wanted in (normalise(official), *aliases):
            return official
    raise InputError(f"unknown model {name!r}; choose one of {', '.join(sorted(VARIANT_ALIASES))}")
