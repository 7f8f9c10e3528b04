"""Other runtimes' input conventions, as a few ONNX nodes wrapped around the graph ``ifrnet export`` writes.

**vs-mlrt** (``ifrnet export --layout vs-mlrt``). vs-mlrt's plugins (``core.ort.Model``,
``core.ov.Model``, ``core.trt.Model``, ``core.ncnn.Model``) hand a network one float tensor made of
the planes of the clips they are given, in order, and take its first output as the planes of the
output clip; its frame-interpolation models (RIFE's "v2" graphs, ``vsmlrt.RIFEMerge``) take two RGB
clips and a GRAY clip holding t. The wrapped graph keeps that contract:

- input ``input``: float32 ``(1, 7, H, W)``: R, G, B of frame 0 (in [0, 1]), R, G, B of frame 1,
  then a plane whose every pixel is t in (0, 1) (only its first pixel is read); H and W any
  size from 1 (the graph pads to the network's multiple of 16 by repeating the edge pixels, on the
  bottom and right, as :class:`ifrnet.times.Padder` does, and crops back);
- output ``output``: float32 ``(1, 3, H, W)``: R, G, B of the frame at t.

Inside is the default graph unchanged, so the two give the same numbers (``tests/test_layouts.py``).
Needs only the ``onnx`` package (no torch).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError, InputError
from ..io.files import atomic_output, check_output_path
from ..times import NETWORK_STRIDE
from .metadata import LAYOUT

#: layouts ``ifrnet export --layout`` writes
LAYOUTS = ("ifrnet", "vs-mlrt")
#: the inner graph's names get this prefix, so that the wrapping nodes' names cannot collide
_PREFIX = "ifrnet/"


def write_vsmlrt_graph(graph: str | os.PathLike, output: str | os.PathLike, overwrite: bool = False) -> Path:
    """Wrap the graph ``ifrnet export`` wrote (``img0``, ``img1``, ``embt`` -> ``frame``, sides
    multiples of 16) into vs-mlrt's layout (module docstring); returns the output path.

    Raises :class:`InputError` for an output that exists (without ``overwrite``) and
    :class:`CheckpointError` for a graph that is not one ``ifrnet export`` wrote.
    """
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise InputError("--layout vs-mlrt needs the onnx package: pip install 'ifrnet[export]'") from None
    out = check_output_path(output, [graph], overwrite)
    inner = onnx.load(str(graph))
    names = ([i.name for i in inner.graph.input], [o.name for o in inner.graph.output])
    if names != (["img0", "img1", "embt"], ["frame"]):
        raise CheckpointError(f"{graph}: not a graph written by 'ifrnet export' (inputs and outputs {names})")
    inner = onnx.compose.add_prefix(inner, _PREFIX, rename_functions=False)
    nodes = [*_unpack_and_pad(), *inner.graph.node]
    nodes.append(helper.make_node("Slice", [_PREFIX + "frame", "c00", "shape", "axes23"], ["output"]))
    image = ["batch", 7, "height", "width"]
    graph_proto = helper.make_graph(
        nodes,
        "ifrnet_vsmlrt",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, image)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        initializer=list(inner.graph.initializer),
        value_info=list(inner.graph.value_info),
    )
    model = helper.make_model(
        graph_proto,
        opset_imports=list(inner.opset_import),
        functions=list(inner.functions),
        ir_version=inner.ir_version,
    )
    for entry in inner.metadata_props:
        model.metadata_props.add(key=entry.key, value=entry.value)
    model.metadata_props.add(key=LAYOUT, value="vs-mlrt")
    onnx.checker.check_model(model)
    with atomic_output(out) as tmp:
        onnx.save(model, str(tmp))
    return out


def _unpack_and_pad() -> list:
    """The nodes before the inner graph: vs-mlrt's ``(1, 7, H, W)`` input cut into the inner
    graph's ``img0``, ``img1`` and ``embt``, the frames padded by edge repetition to the stride."""
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
        )

    def piece(src: str, dst: str, starts: str, ends: str, axes: str) -> onnx.NodeProto:
        return helper.make_node("Slice", [src, starts, ends, axes], [dst])

    p = _PREFIX
    return [
        const("c0", [0]),
        const("c3", [3]),
        const("c6", [6]),
        const("c7", [7]),
        const("c00", [0, 0]),
        const("c11", [1, 1]),
        const("axis1", [1]),
        const("axes23", [2, 3]),
        const("stride", [NETWORK_STRIDE]),
        const("zeros6", [0, 0, 0, 0, 0, 0]),
        # the planes of the three clips
        piece("input", "planes0", "c0", "c3", "axis1"),
        piece("input", "planes1", "c3", "c6", "axis1"),
        piece("input", "tplane", "c6", "c7", "axis1"),
        piece("tplane", p + "embt", "c00", "c11", "axes23"),
        # padding to the next multiple of the stride: (stride - side % stride) % stride on each side
        helper.make_node("Shape", ["input"], ["shape"], start=2, end=4),
        helper.make_node("Mod", ["shape", "stride"], ["rest"]),
        helper.make_node("Sub", ["stride", "rest"], ["short"]),
        helper.make_node("Mod", ["short", "stride"], ["extra"]),
        helper.make_node("Concat", ["zeros6", "extra"], ["pads"], axis=0),
        helper.make_node("Pad", ["planes0", "pads"], [p + "img0"], mode="edge"),
        helper.make_node("Pad", ["planes1", "pads"], [p + "img1"], mode="edge"),
    ]


def run_vsmlrt_graph(path: str | os.PathLike, img0, img1, t: float):
    """One call of a vs-mlrt-layout graph with onnxruntime, fed as vs-mlrt's plugins feed it: the
    planes of ``img0``, ``img1`` (float32 ``(1, 3, H, W)`` in [0, 1]) and a plane of ``t``, in one
    ``(1, 7, H, W)`` tensor. Returns the float32 ``(1, 3, H, W)`` output."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    h, w = img0.shape[-2:]
    planes = np.concatenate([img0, img1, np.full((1, 1, h, w), t, dtype=np.float32)], axis=1)
    return session.run(["output"], {"input": planes})[0]
