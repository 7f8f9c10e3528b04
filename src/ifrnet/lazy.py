"""Public names of a package that load on first use (PEP 562), so that importing it stays cheap.

``ifrnet`` and ``ifrnet.training`` expose names whose modules need torch; the onnxruntime engine
and the command line's parser import those packages and must not pay for torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, names: dict[str, str], namespace: dict[str, Any]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each of ``names`` (name -> relative module) is
    imported from its module when first read and then kept in ``namespace`` (the package's
    ``globals()``). Other names raise ``AttributeError`` as usual."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        # the public names, not the package's own imports
        return sorted(set(namespace.get("__all__", ())) | set(names))

    return __getattr__, __dir__
