"""The onnxruntime engine: an exported IFRNet graph run with numpy and onnxruntime only.

``OnnxInterpolator(path)`` is an :class:`~ifrnet.engine.Engine`: uint8 or uint16 ``(H, W, 3)`` /
``(B, H, W, 3)`` RGB in, the same out; or float32 ``(B, 3, H, W)`` arrays in [0, 1]. It pads with
:class:`~ifrnet.times.Padder` and reaches dyadic t by recursive bisection when the exported
weights ignore t. Nothing here imports torch: ``pip install 'ifrnet[onnx]'`` is enough to run it.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import CheckpointError, InputError
from .graph import GraphEngine, graph_feed


def _providers(device: str | None) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    kind = (device or "cpu").split(":")[0]
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise InputError(f"device {device!r} is not available to onnxruntime here (it offers {', '.join(available)})")


class OnnxInterpolator(GraphEngine):
    """Interpolate frames with an ONNX graph written by ``ifrnet export``, run by onnxruntime."""

    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike, device: str | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("the onnxruntime backend needs onnxruntime: pip install 'ifrnet[onnx]'") from None
        super().__init__(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(device))
        except InputError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise CheckpointError(f"{self.path}: not a usable ONNX model ({exc.__class__.__name__})") from None
        self._read_metadata(self.session.get_modelmeta().custom_metadata_map)
        self._on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"

    @property
    def device_kind(self) -> str:
        return "cuda" if self._on_gpu else "cpu"

    def _release(self) -> None:
        self.session = None  # the session's thread pools and buffers go with it

    def run(self, img0: np.ndarray, img1: np.ndarray, t: float) -> np.ndarray:
        return self.session.run(["frame"], graph_feed(img0, img1, t))[0]
