"""Which graph file a graph engine runs for a set of weights: the one shipped beside them, one
exported earlier into the cache, or a new export (the only step that needs torch).

Torch-free until an export is needed, so the main job on the shipped weights runs where torch is
not installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from pathlib import Path

from .. import pretrained
from ..errors import InputError, missing_torch
from ..io.files import cache_dir, prune_cache
from ..version import __version__
from .metadata import DEFAULT_OPSET


def graph_for(
    name: str | None, checkpoint: str | os.PathLike | None, backend: str = "onnxruntime", int8: bool = False
) -> Path:
    """The graph of the weights ``checkpoint`` (a path or a tag, as :func:`ifrnet.pretrained.resolve`
    takes them) for ``backend`` (``onnxruntime`` or ``openvino``), its int8 IR with ``int8``.

    For OpenVINO, shipped weights come with ready IRs (:func:`ifrnet.pretrained.shipped_graph`):
    nothing is exported. Otherwise see :func:`cached_graph`. An int8 IR is never made here, as
    quantising takes minutes and footage like the user's: :class:`InputError` says how to make one.
    """
    ready = shipped_ir(name, checkpoint, int8) if backend == "openvino" else None
    if int8 and ready is None:
        path, _ = pretrained.resolve(name, checkpoint)
        raise InputError(
            f"{path.name}: no int8 graph ships for these weights; make one with 'ifrnet export --precision int8 "
            f"--checkpoint {checkpoint or path} -o MODEL.xml --calibration CLIP ...' and run --checkpoint MODEL.xml"
        )
    return ready or cached_graph(name, checkpoint)


def shipped_ir(name: str | None, checkpoint: str | os.PathLike | None, int8: bool = False) -> Path | None:
    """The ready IR (``int8``: the int8 one) shipped beside the weights ``checkpoint`` stands for, if
    it is shipped weights (:func:`ifrnet.pretrained.shipped_graph`); raises what
    :func:`ifrnet.pretrained.resolve` raises."""
    path, _ = pretrained.resolve(name, checkpoint)
    return pretrained.shipped_graph(path, int8)


def cached_graph(name: str | None, checkpoint: str | os.PathLike | None) -> Path:
    """The ONNX graph of the weights ``checkpoint``, exported once into ``cache_dir("graphs")``.

    The file is named after the variant and the sha256 of the weights file, this package's version
    and the opset, so changed weights or a new exporter get a new graph and a stale one is never
    reused (it leaves out the torch and onnxscript versions: delete the cache after upgrading them
    to export afresh). An export prints one line on stderr saying what it does, and one with the
    time it took; after it the folder is trimmed to :data:`ifrnet.io.files.CACHE_MAX_BYTES`, least
    recently used graphs first. Raises :class:`InputError` where an export is needed and torch is
    missing, and what :func:`ifrnet.graphs.export.export_onnx` and :func:`ifrnet.weights.load_model`
    raise.
    """
    path, _ = pretrained.resolve(name, checkpoint)
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(f"{__version__}/opset{DEFAULT_OPSET}".encode())
    folder, key = cache_dir("graphs"), digest.hexdigest()[:16]
    # found by the digest alone: a cached graph costs no load of the weights
    cached = sorted(folder.glob(f"*-{key}.onnx"))
    if cached:
        # marked as used, so that pruning (below, after an export) takes graphs left by old versions first
        with contextlib.suppress(OSError):
            os.utime(cached[0])
        return cached[0]
    try:
        from ..weights import load_model
        from .export import export_onnx
    except ImportError as exc:
        if not missing_torch(exc):
            raise
        raise InputError(
            f"{path.name}: exporting these weights as a graph needs PyTorch, which is not installed here: "
            "pip install 'ifrnet[torch,export]', or run an exported graph (--checkpoint MODEL.onnx or .xml)"
        ) from None
    start = time.perf_counter()
    model = load_model(name, path, "cpu")
    out = folder / f"{model.config.name}-{key}.onnx"
    print(f"ifrnet: exporting {path.name} as a graph once, into {out} ...", file=sys.stderr, flush=True)
    graph = export_onnx(model, out, overwrite=True)
    print(f"ifrnet: exported in {time.perf_counter() - start:.1f} s; later runs reuse it", file=sys.stderr, flush=True)
    prune_cache(folder, keep=[graph])
    return graph
