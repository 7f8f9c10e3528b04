"""The PyTorch engine: any frame size, many times t per pair, 2x-only weights, batching.

``Interpolator`` (an :class:`~ifrnet.engine.Engine`) turns two frames into the frames between
them. It pads to the network's stride and crops back, runs the encoder once for all requested
times, and for checkpoints that ignore t (the released Vimeo90K ones) reaches dyadic times by
recursive bisection. It also shows the predicted flows and mask (:meth:`flows_and_mask`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..devices import resolve_device
from ..engine import AUTO_SCALE, PRECISIONS, FlowEngine
from ..errors import InputError
from ..models import IFRNet
from ..models.ifrnet import Decoded
from ..models.ops import resize
from ..times import Padder, bisect, check_times, dyadic, factor_times

__all__ = ["AUTO_SCALE", "PRECISIONS", "Interpolator", "bisect", "check_times", "dyadic", "factor_times"]

#: The scale of the probe pass that estimates a pair's motion, and the scale a large motion gets.
AUTO_SCALE_PROBE = 0.25
AUTO_SCALE_LARGE = 0.5
#: Pixels (of the frames) of displacement between the two inputs, 95th percentile over the frame,
#: above which ``"auto"`` runs the network at :data:`AUTO_SCALE_LARGE`. Measured: see
#: ``benchmarks/auto_scale.py``.
AUTO_SCALE_MOTION = 32.0


class Interpolator(FlowEngine):
    """Interpolate frames between pairs with an :class:`~ifrnet.models.IFRNet`.

    Frames are what every :class:`~ifrnet.engine.Engine` takes -- uint8 or uint16 ``(H, W, 3)``
    (or ``(B, H, W, 3)``) RGB numpy arrays (0-255 or 0-65535: sources deeper than 8 bits keep
    their precision), or float32 ``(B, 3, H, W)`` arrays in [0, 1] -- and also float
    ``(B, 3, H, W)`` torch tensors in [0, 1]; results come back in the same kind, dtype, size
    and device.
    """

    def __init__(
        self,
        model: IFRNet,
        device: str | torch.device | None = None,
        scale_factor: float | str = 1.0,
        precision: str = "fp32",
        channels_last: bool | None = None,
        compile: bool = False,
    ) -> None:
        if device is None:
            param = next(model.parameters(), None)
            self.device = param.device if param is not None else torch.device("cpu")
        else:
            self.device = resolve_device(device)
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if precision == "fp16" and self.device.type == "cpu":
            raise InputError("fp16 needs a GPU (CPU kernels for it are slow or missing); use --precision bf16 on a CPU")
        self.precision = precision
        if channels_last is None:
            # NHWC convolutions measured 1.1-1.3x faster than NCHW for IFRNet at 720p and 1080p on an
            # AVX2 CPU (README, Performance), output within 1e-4; GPUs keep NCHW until measured there.
            channels_last = self.device.type == "cpu"
        self.channels_last = bool(channels_last)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=memory_format).eval()
        if scale_factor != AUTO_SCALE:
            Padder(16, 16, scale_factor)  # validates the range
        elif compile:
            # each pair's scale (and the probe, and every group size of a split batch) is another
            # input shape: torch.compile would recompile, or fall back once past its limit of shapes
            raise InputError("--compile needs a fixed --scale: with auto the network's input size changes per pair")
        #: the network scale, or "auto": chosen per pair by :meth:`pair_scales`
        self.scale_factor: float | str = scale_factor if scale_factor == AUTO_SCALE else float(scale_factor)
        self.uses_time = model.uses_time()
        self.compiled = bool(compile)
        self._encode, self._decode = self.model.encode, self.model.decode
        if compile:
            # On CUDA "reduce-overhead" records CUDA graphs: a video's frames all share one shape,
            # so one recording per shape replaces hundreds of kernel launches per frame.
            mode = "reduce-overhead" if self.device.type == "cuda" else None
            self._encode = torch.compile(self.model.encode, dynamic=False, mode=mode)
            self._decode = torch.compile(self.model.decode, dynamic=False, mode=mode)

    # -- public API --

    def describe(self) -> str:
        if self.scale_factor == AUTO_SCALE:
            scale = [f"scale auto: {AUTO_SCALE_LARGE:g} above {AUTO_SCALE_MOTION:g} px"]
        else:
            scale = [f"scale {self.scale_factor:g}"] if self.scale_factor != 1.0 else []
        extras = (
            [self.precision]
            + (["channels_last"] if self.channels_last else [])
            + (["compiled"] if self.compiled else [])
            + scale
        )
        return f"{self.model.config.name} on {self.device} (PyTorch, {', '.join(extras)})"

    @property
    def device_kind(self) -> str:
        return self.device.type

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for key, value in sorted(self.model.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().float().contiguous().numpy().tobytes())
        return f"{self.describe()}, weights sha256 {digest.hexdigest()[:16]}"

    def interpolate(
        self, frame0: np.ndarray | Tensor, frame1: np.ndarray | Tensor, times: Sequence[float] = (0.5,)
    ) -> list[np.ndarray] | list[Tensor]:
        """The frames at each of ``times`` between ``frame0`` (t=0) and ``frame1`` (t=1), in order given."""
        values = check_times(times)
        img0, img1, kind = self._pair(frame0, frame1)
        with torch.inference_mode():
            if self.compiled and self.device.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()
            outputs = self._per_scale(img0, img1, lambda a, b, scale: self._times(a, b, values, scale))
        return [self._from_tensor(o, kind) for o in outputs]

    def pair_scales(self, frame0: np.ndarray | Tensor, frame1: np.ndarray | Tensor) -> list[float]:
        """The network scale each pair of the batch runs at: the engine's; with ``"auto"``,
        :data:`AUTO_SCALE_LARGE` where the pair's :meth:`motion` exceeds :data:`AUTO_SCALE_MOTION`
        pixels and 1 elsewhere."""
        img0, img1, _ = self._pair(frame0, frame1)
        with torch.inference_mode():
            return self._pair_scales(img0, img1)

    def motion(self, frame0: np.ndarray | Tensor, frame1: np.ndarray | Tensor) -> list[float]:
        """Each pair's estimated motion: the 95th percentile over the frame (as padded for the probe:
        replicated edges included) of the displacement
        between the two inputs, ``|flow t->0| + |flow t->1|`` at t = 1/2, in pixels of the frames.

        It comes from a probe pass of the network itself at scale :data:`AUTO_SCALE_PROBE` (about
        1/16 of a full pass's work): at a quarter of the resolution the coarsest decoder level
        spans four times the displacement it spans at scale 1, so the probe still sees motion a
        full-scale pass misses.
        """
        img0, img1, _ = self._pair(frame0, frame1)
        with torch.inference_mode():
            return self._motion(img0, img1)

    def _motion(self, img0: Tensor, img1: Tensor) -> list[float]:
        padder = Padder.like(img0, AUTO_SCALE_PROBE)
        _, _, _, (decoded,) = self._network(img0, img1, padder, [0.5], AUTO_SCALE_PROBE)
        # the flows are at the padded probe resolution: back to pixels of the frames
        motion = (decoded.flow0.norm(dim=1) + decoded.flow1.norm(dim=1)).flatten(1) / AUTO_SCALE_PROBE
        return torch.quantile(motion.float(), 0.95, dim=1).tolist()

    def _pair_scales(self, img0: Tensor, img1: Tensor) -> list[float]:
        if self.scale_factor != AUTO_SCALE:
            return [float(self.scale_factor)] * img0.shape[0]
        return [AUTO_SCALE_LARGE if m > AUTO_SCALE_MOTION else 1.0 for m in self._motion(img0, img1)]

    def _per_scale(
        self, img0: Tensor, img1: Tensor, run: Callable[[Tensor, Tensor, float], list[Tensor]]
    ) -> list[Tensor]:
        """``run(img0, img1, scale)`` over the batch, split into the groups of pairs that share a scale."""
        scales = self._pair_scales(img0, img1)
        if len(set(scales)) == 1:
            return run(img0, img1, scales[0])
        outputs: list[Tensor] | None = None
        for scale in sorted(set(scales)):
            index = torch.tensor([i for i, s in enumerate(scales) if s == scale], device=img0.device)
            part = run(img0[index], img1[index], scale)
            if outputs is None:
                outputs = [img0.new_empty(img0.shape[:1] + o.shape[1:]) for o in part]
            for whole, piece in zip(outputs, part, strict=True):
                whole[index] = piece
        assert outputs is not None
        return outputs

    def _times(self, img0: Tensor, img1: Tensor, values: Sequence[float], scale: float) -> list[Tensor]:
        """The frames at ``values``: directly, or by bisection for weights that ignore t."""
        if self.uses_time:
            return self._predict(img0, img1, values, scale)
        return bisect(lambda a, b: self._predict(a, b, (0.5,), scale)[0], img0, img1, values)

    def flows_and_mask(
        self, frame0: np.ndarray | Tensor, frame1: np.ndarray | Tensor, t: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network's flows t->0, t->1 ``(H, W, 2)`` in pixels and mask ``(H, W)`` for the first pair.

        The mask is the weight of frame 0 in the blend: 1 where only frame 0 is trusted. With
        weights that ignore t these are the t = 0.5 prediction's.
        """
        img0, img1, _ = self._pair(frame0, frame1)
        img0, img1 = img0[:1], img1[:1]
        with torch.inference_mode():
            scale = self._pair_scales(img0, img1)[0]
            padder = Padder.like(img0, scale)
            _, _, _, (decoded,) = self._network(img0, img1, padder, [check_times([t])[0]], scale)
        flow0, flow1, mask = decoded.flow0, decoded.flow1, decoded.mask
        if scale != 1.0:  # back to the frames' resolution, as synthesize does
            inv = 1.0 / scale
            flow0, flow1, mask = resize(flow0, inv) * inv, resize(flow1, inv) * inv, resize(mask, inv)

        def crop(x: Tensor) -> np.ndarray:
            return padder.unpad(x)[0].permute(1, 2, 0).float().cpu().numpy()

        return crop(flow0), crop(flow1), crop(mask)[..., 0]

    # -- prediction --

    def _network(
        self, img0: Tensor, img1: Tensor, padder: Padder, times: Sequence[float], scale: float
    ) -> tuple[Tensor, Tensor, Tensor, list[Decoded]]:
        """Pad, normalise, resize to ``scale``, encode the pair once and decode once per t: the
        padded, mean-subtracted frames, their mean and each time's decoder outputs (fp32)."""
        x0, x1, mean = self.model.normalize(padder.pad(img0), padder.pad(img1))
        small0, small1 = resize(x0, scale), resize(x1, scale)
        if self.channels_last:
            small0, small1 = (x.contiguous(memory_format=torch.channels_last) for x in (small0, small1))
        with self._reduced_precision():
            feat0, feat1 = self._encode(small0, small1)
        decoded = []
        for t in times:
            embt = torch.full((img0.shape[0], 1, 1, 1), t, device=img0.device)
            with self._reduced_precision():
                d = self._decode(feat0, feat1, embt)
            # The final warp and blend of the full-resolution frames stay in fp32: cheap, and where
            # reduced precision would show most (sub-pixel sampling positions, the 8-bit result).
            decoded.append(
                d._replace(
                    flow0=d.flow0.float(), flow1=d.flow1.float(), mask=d.mask.float(), residual=d.residual.float()
                )
            )
        return x0, x1, mean, decoded

    def _predict(self, img0: Tensor, img1: Tensor, times: Sequence[float], scale: float) -> list[Tensor]:
        """Direct prediction: the network at ``scale``, then the warp and blend at full resolution, cropped."""
        padder = Padder.like(img0, scale)
        x0, x1, mean, decoded = self._network(img0, img1, padder, times, scale)
        return [padder.unpad(self.model.synthesize(x0, x1, mean, d, scale)) for d in decoded]

    def _reduced_precision(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- conversions between the caller's frames and network tensors --

    def _pair(self, frame0: np.ndarray | Tensor, frame1: np.ndarray | Tensor) -> tuple[Tensor, Tensor, tuple]:
        img0, kind = self._to_tensor(frame0, "frame0")
        img1, _ = self._to_tensor(frame1, "frame1")
        if img0.shape != img1.shape:
            raise InputError(
                f"frames differ in size: {img0.shape[-1]}x{img0.shape[-2]} and {img1.shape[-1]}x{img1.shape[-2]}"
                + ("" if img0.shape[0] == img1.shape[0] else f" (batches of {img0.shape[0]} and {img1.shape[0]})")
            )
        return img0, img1, kind

    def _to_tensor(self, frame: np.ndarray | Tensor, name: str) -> tuple[Tensor, tuple]:
        if isinstance(frame, np.ndarray) and frame.dtype == np.float32 and frame.ndim == 4 and frame.shape[1] == 3:
            return torch.from_numpy(np.ascontiguousarray(frame)).to(self.device), ("float32",)
        if isinstance(frame, np.ndarray):
            if frame.dtype not in (np.uint8, np.uint16) or frame.ndim not in (3, 4) or frame.shape[-1] != 3:
                raise InputError(
                    f"{name} must be a uint8 or uint16 (H, W, 3) or (B, H, W, 3) RGB array or a float32 "
                    f"(B, 3, H, W) array; got {frame.dtype} array of shape {frame.shape}"
                )
            peak = float(np.iinfo(frame.dtype).max)
            batched = frame.ndim == 4
            arr = frame if batched else frame[None]
            # torch.from_numpy refuses read-only arrays (np.asarray of a PIL image is one)
            arr = np.array(arr) if not arr.flags.writeable else np.ascontiguousarray(arr)
            # uint16 has no arithmetic on every torch build: widen before the copy
            tensor = torch.from_numpy(arr if arr.dtype == np.uint8 else arr.astype(np.int32))
            if self.device.type == "cuda":
                # page-locked staging lets the copy run asynchronously to the GPU's queue
                tensor = tensor.pin_memory().to(self.device, non_blocking=True)
            else:
                tensor = tensor.to(self.device)
            tensor = tensor.permute(0, 3, 1, 2).float() / peak
            return tensor, ("numpy", batched, frame.dtype)
        if isinstance(frame, Tensor):
            if frame.dim() != 4 or frame.shape[1] != 3 or not frame.is_floating_point():
                raise InputError(
                    f"{name} must be a float (B, 3, H, W) tensor in [0, 1]; "
                    f"got {frame.dtype} tensor of shape {tuple(frame.shape)}"
                )
            return frame.to(self.device, torch.float32), ("tensor", frame.device, frame.dtype)
        raise InputError(f"{name} must be a numpy array or a torch float tensor; got {type(frame).__name__}")

    @staticmethod
    def _from_tensor(tensor: Tensor, kind: tuple) -> np.ndarray | Tensor:
        if kind[0] == "float32":
            return tensor.float().cpu().numpy()
        if kind[0] == "numpy":
            dtype = kind[2]
            peak = float(np.iinfo(dtype).max)
            scaled = (tensor * peak).round().clamp(0, peak).permute(0, 2, 3, 1)
            if dtype == np.uint8:
                arr = scaled.to(torch.uint8).cpu().numpy()
            else:
                arr = scaled.to(torch.int32).cpu().numpy().astype(dtype)
            return arr if kind[1] else arr[0]
        return tensor.to(kind[1], kind[2])
