"""The onnxruntime engine: an exported IFRNet graph run with numpy and onnxruntime only.

``OnnxInterpolator(path)`` is an :class:`~ifrnet.engine.Engine`: uint8 or uint16 ``(H, W, 3)`` /
``(B, H, W, 3)`` RGB in, the same out; or float32 ``(B, 3, H, W)`` arrays in [0, 1]. It pads with
:class:`~ifrnet.times.Padder` and reaches dyadic t by recursive bisection when the exported
weights ignore t. Nothing here imports torch: ``pip install 'ifrnet[onnx]'`` is enough to run it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..engine import Engine
from ..errors import CheckpointError, InputError
from ..times import Padder, bisect, check_times


def _providers(device: str | None) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    kind = (device or "cpu").split(":")[0]
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise InputError(f"device {device!r} is not available to onnxruntime here (it offers {', '.join(available)})")


class OnnxInterpolator(Engine):
    """Interpolate frames with an ONNX graph written by ``ifrnet export``."""

    def __init__(self, path: str | os.PathLike, device: str | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("the onnxruntime backend needs onnxruntime: pip install 'ifrnet[onnx]'") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: no such ONNX model")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(device))
        except InputError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise CheckpointError(f"{self.path}: not a usable ONNX model ({exc.__class__.__name__})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "ifrnet_variant" not in meta:
            raise CheckpointError(f"{self.path}: not an IFRNet graph written by 'ifrnet export' (no ifrnet metadata)")
        self.model_name = meta["ifrnet_variant"]
        self.uses_time = meta.get("ifrnet_uses_time") == "1"
        self._on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"

    def describe(self) -> str:
        return f"{self.model_name} on {self.device_kind} (onnxruntime)"

    @property
    def device_kind(self) -> str:
        return "cuda" if self._on_gpu else "cpu"

    def fingerprint(self) -> str:
        # the graph file holds the weights: its digest identifies them
        return f"{self.describe()}, weights sha256 {hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]}"

    def run(self, img0: np.ndarray, img1: np.ndarray, t: float) -> np.ndarray:
        """One graph call on float32 (B, 3, H, W) inputs of a size the network accepts."""
        embt = np.full((img0.shape[0], 1, 1, 1), t, dtype=np.float32)
        return self.session.run(["frame"], {"img0": img0, "img1": img1, "embt": embt})[0]

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float] = (0.5,)) -> list[np.ndarray]:
        """The frames at each of ``times`` between ``frame0`` (t=0) and ``frame1`` (t=1), in order given."""
        values = check_times(times)
        img0, kind = self._to_array(frame0, "frame0")
        img1, _ = self._to_array(frame1, "frame1")
        if img0.shape != img1.shape:
            raise InputError(
                f"frames differ in size: {img0.shape[-1]}x{img0.shape[-2]} and {img1.shape[-1]}x{img1.shape[-2]}"
            )
        if self.uses_time:
            outputs = self._predict(img0, img1, values)
        else:
            outputs = bisect(lambda a, b: self._predict(a, b, (0.5,))[0], img0, img1, values)
        return [self._from_array(o, kind) for o in outputs]

    def _predict(self, img0: np.ndarray, img1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        padder = Padder.like(img0)
        x0, x1 = padder.pad(img0), padder.pad(img1)
        return [padder.unpad(self.run(x0, x1, t)) for t in times]

    @staticmethod
    def _to_array(frame: np.ndarray, name: str) -> tuple[np.ndarray, str]:
        if not isinstance(frame, np.ndarray):
            raise InputError(f"{name} must be a numpy array for the onnxruntime backend; got {type(frame).__name__}")
        if frame.dtype in (np.uint8, np.uint16) and frame.ndim in (3, 4) and frame.shape[-1] == 3:
            batch = frame if frame.ndim == 4 else frame[None]
            peak = np.float32(np.iinfo(frame.dtype).max)
            array = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / peak
            return array, f"{frame.dtype}_batch" if frame.ndim == 4 else str(frame.dtype)
        if frame.dtype == np.float32 and frame.ndim == 4 and frame.shape[1] == 3:
            return np.ascontiguousarray(frame), "float"
        raise InputError(
            f"{name} must be a uint8 or uint16 (H, W, 3) or (B, H, W, 3) RGB array or a float32 (B, 3, H, W) array; "
            f"got {frame.dtype} array of shape {frame.shape}"
        )

    @staticmethod
    def _from_array(array: np.ndarray, kind: str) -> np.ndarray:
        if kind == "float":
            return array
        # round half to even, as torch.round in the PyTorch engine
        dtype = np.dtype(kind.removesuffix("_batch"))
        peak = np.float32(np.iinfo(dtype).max)
        out = np.clip(np.rint(array * peak), 0, peak).astype(dtype).transpose(0, 2, 3, 1)
        return out if kind.endswith("_batch") else out[0]
