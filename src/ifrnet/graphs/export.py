"""ONNX export: one graph for any frame size, t as an input, the mean-normalisation inside.

The graph takes ``img0``, ``img1`` (float32, ``(B, 3, H, W)`` in [0, 1]) and ``embt`` (float32,
``(B, 1, 1, 1)``, the time t) and returns ``frame`` (``(B, 3, H, W)`` in [0, 1]). Batch, height
and width are symbolic: the sampling grids are computed from the runtime shape
(:func:`~ifrnet.models.ops.linspace_pm1`), so the graph works at sizes it was never traced at. H and
W must be multiples of 16; the onnxruntime engine pads and crops (:class:`ifrnet.times.Padder`).

The graph runs the network at scale 1: the exporter cannot yet prove that a resize by s and back
by 1/s restores a symbolic size. The variant and whether the weights honour t are recorded in the
model's metadata, which the engine reads.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..io.files import atomic_output, check_output_path
from ..models import IFRNet
from ..times import padded_side
from .metadata import DEFAULT_OPSET, network_metadata

#: The lowest opset with GridSample (16); 18 (DEFAULT_OPSET) is what the exporter writes best.
MIN_OPSET = 16
#: Size the graph is traced at (H, W); tests and verify_export check it at others.
TRACE_SIZE = (256, 448)


class ExportGraph(nn.Module):
    """What gets exported: :meth:`IFRNet.predict` at scale 1, without input checks."""

    def __init__(self, model: IFRNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, img0: Tensor, img1: Tensor, embt: Tensor) -> Tensor:
        return self.model.predict(img0, img1, embt)


def export_onnx(model: IFRNet, path: str | os.PathLike, opset: int = DEFAULT_OPSET, overwrite: bool = False) -> Path:
    """Write ``model`` as an ONNX graph with symbolic batch, height and width; returns the path.

    Needs the ``onnx`` and ``onnxscript`` packages (``pip install 'ifrnet[export]'``). Raises
    :class:`InputError` for an opset below 16 or an output that exists (without ``overwrite``).
    """
    if opset < MIN_OPSET:
        raise InputError(f"opset {opset} lacks GridSample; use {MIN_OPSET} or later")
    out = check_output_path(path, overwrite=overwrite)
    from importlib.util import find_spec

    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is None or find_spec("onnxscript") is None:  # torch's exporter imports onnxscript itself
        raise InputError("ONNX export needs the onnx and onnxscript packages: pip install 'ifrnet[export]'")
    graph = ExportGraph(model.float().eval()).eval()
    h, w = TRACE_SIZE
    gen = torch.Generator().manual_seed(0)
    example = (
        torch.rand(1, 3, h, w, generator=gen),
        torch.rand(1, 3, h, w, generator=gen),
        torch.full((1, 1, 1, 1), 0.5),
    )
    batch = torch.export.Dim("batch", min=1, max=1024)
    # Sides as multiples of 16: the exporter can then prove the strided convolutions and the
    # transposed ones give back the input size, which it cannot for arbitrary integers.
    rows, cols = torch.export.Dim("rows16", min=1, max=1024), torch.export.Dim("cols16", min=1, max=1024)
    image = {0: batch, 2: 16 * rows, 3: 16 * cols}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            dynamic_shapes={"img0": image, "img1": image, "embt": {0: batch}},
            input_names=["img0", "img1", "embt"],
            output_names=["frame"],
            opset_version=opset,
            verbose=False,
        )
    proto = program.model_proto
    for key, value in network_metadata(model.config.name, model.uses_time()).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    with atomic_output(out) as tmp:
        onnx.save(proto, str(tmp))
    return out


def export_ir(
    model: IFRNet, path: str | os.PathLike, weights_sha256: str | None = None, overwrite: bool = False
) -> Path:
    """Write ``model`` as an OpenVINO IR (``path``: the ``.xml``, its ``.bin`` beside it) with
    fp16-compressed weights, the ``ifrnet_*`` metadata in its ``rt_info``; returns the path.

    This is the ready graph shipped beside the starter weights (:func:`ifrnet.pretrained.shipped_graph`):
    their tensors are fp16 already, so the compression loses nothing of them, and ``weights_sha256``
    (recorded as ``ifrnet_weights_sha256``) ties the IR to the file it was made from. Needs
    OpenVINO and what :func:`export_onnx` needs; raises what :func:`ifrnet.graphs.ir.check_ir_output` raises.
    """
    import tempfile

    from ..backends.openvino import import_openvino, openvino_core
    from .ir import check_ir_output, save_ir
    from .metadata import PRECISION, WEIGHTS_SHA256

    ov = import_openvino()
    out = check_ir_output(path, overwrite=overwrite)
    meta = {**network_metadata(model.config.name, model.uses_time()), PRECISION: "fp32"}
    if weights_sha256:
        meta[WEIGHTS_SHA256] = weights_sha256
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "graph.onnx")
        ir = openvino_core().read_model(str(onnx_path))
        for key, value in meta.items():
            ir.set_rt_info(value, ["ifrnet", key])
        save_ir(ov, ir, out, compress_to_fp16=True)
    return out


def verify_export(
    model: IFRNet, path: str | os.PathLike, sizes: tuple[tuple[int, int], ...] = ((96, 160), (208, 304))
) -> dict[tuple[int, int], float]:
    """Max absolute difference between onnxruntime and PyTorch on random pairs at ``sizes`` (H, W)."""
    from ..backends.onnx import OnnxInterpolator

    runtime = OnnxInterpolator(path)
    gen = torch.Generator().manual_seed(1)
    diffs = {}
    for h, w in sizes:
        ph, pw = padded_side(h), padded_side(w)
        img0, img1 = torch.rand(2, 1, 3, ph, pw, generator=gen)
        embt = torch.full((1, 1, 1, 1), 0.3)
        with torch.inference_mode():
            expected = model.float().eval().predict(img0, img1, embt).numpy()
        got = runtime.run(img0.numpy(), img1.numpy(), np.float32(0.3))
        diffs[(ph, pw)] = float(np.abs(got - expected).max())
    return diffs
