"""What an exported graph says about itself: the ``ifrnet_*`` entries of its ONNX
``metadata_props``, written by ``ifrnet export`` and read by every engine over a graph.

Torch-free; reading a file needs the ``onnx`` package (imported when asked).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import CheckpointError, InputError
from ..version import __version__

#: the opset the exporter writes (18: what it writes best; 16, the first with GridSample, is the
#: lowest it takes); part of a cached graph's name, so a new opset exports afresh
DEFAULT_OPSET = 18

VARIANT = "ifrnet_variant"
USES_TIME = "ifrnet_uses_time"
VERSION = "ifrnet_version"
#: written by ``ifrnet export --precision int8`` (``int8``)
PRECISION = "ifrnet_precision"
#: the sha256 of the weights file a shipped IR was made from (:func:`ifrnet.graphs.export.export_ir`)
WEIGHTS_SHA256 = "ifrnet_weights_sha256"
#: written by ``ifrnet export --layout`` (``vs-mlrt``)
LAYOUT = "ifrnet_layout"


def network_metadata(variant: str, uses_time: bool) -> dict[str, str]:
    """The entries ``ifrnet export`` writes for a network of ``variant`` (strings, as ONNX keeps them)."""
    return {VARIANT: variant, USES_TIME: "1" if uses_time else "0", VERSION: __version__}


def network_of(path: str | os.PathLike, meta: Mapping[str, str]) -> tuple[str, bool]:
    """(variant, whether t is honoured) from a graph's entries; raises :class:`CheckpointError`
    for a graph without them (one ``ifrnet export`` did not write)."""
    if VARIANT not in meta:
        raise CheckpointError(f"{path}: not an IFRNet graph written by 'ifrnet export' (no ifrnet metadata)")
    return meta[VARIANT], meta.get(USES_TIME) == "1"


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The graph file's ``metadata_props`` (OpenVINO's reader does not keep them); raises
    :class:`CheckpointError` for a file that is not an ONNX model, :class:`InputError` without onnx."""
    try:
        import onnx
    except ImportError:
        raise InputError("reading a graph's metadata needs onnx: pip install 'ifrnet[openvino]'") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise CheckpointError(f"{path}: not a usable ONNX model ({exc.__class__.__name__})") from None
    return {entry.key: entry.value for entry in proto.metadata_props}
