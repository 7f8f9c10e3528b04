"""Variant names and their aliases: the one resolver, without PyTorch.

The onnxruntime backend and the weights table (``ifrnet.pretrained``) check names where torch
may be missing, so the aliases live here; ``ifrnet.models.register_model`` adds the variants it
registers, and ``ifrnet.models.canonical_name`` is :func:`official_variant`.
"""

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


def add_variant(name: str, *aliases: str) -> None:
    """Make ``name`` (and ``aliases``) known to :func:`official_variant`, keeping earlier aliases."""
    known = VARIANT_ALIASES.get(name, ())
    VARIANT_ALIASES[name] = tuple(dict.fromkeys((*known, *(normalise(a) for a in aliases))))


def official_variant(name: str) -> str:
    """The official spelling of a variant or alias; ``InputError`` if unknown."""
    wanted = normalise(name)
    for official, aliases in VARIANT_ALIASES.items():
        if wanted in (normalise(official), *aliases):
            return official
    raise InputError(f"unknown model {name!r}; choose one of {', '.join(sorted(VARIANT_ALIASES))}")
