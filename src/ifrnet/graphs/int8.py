"""int8 graphs: post-training quantisation of an exported graph with NNCF, kept only when it keeps
the picture.

:func:`quantize_graph` reads a graph written by ``ifrnet export`` and quantises its convolutions
(weights per channel; activations with the MIXED preset, asymmetric, since the network's inputs
and PReLU outputs are not centred on zero) from calibration frames. NNCF's accuracy control then
puts back into float the convolutions that cost most PSNR on the calibration frames, and the
result is scored against fp32 on held-out triplets (middle frame as truth). The OpenVINO IR
(``.xml`` + ``.bin``) is written only when no held-out set loses more than ``max_drop`` dB;
otherwise :class:`~ifrnet.errors.InputError` gives the measured drop and nothing is written.

Measured for the shipped IFRNet_S weights on a 2-core AVX2 EPYC (README, "int8"): quantising
every op NNCF supports (additions, multiplications, resizes) lost up to 4 dB on a held-out clip, so
only convolutions are quantised. All of them int8: within 0.1 dB on real held-out footage and 1.24x
OpenVINO fp32 per 1280x720 frame, but 2.2 dB lost on generated large-motion scenes; with accuracy
control, 0.3 dB there and no faster than fp32.

``pip install 'ifrnet[int8]'`` (NNCF, OpenVINO). The engine that runs the result is
:class:`~ifrnet.backends.openvino.OpenVinoInterpolator` (``--backend openvino --checkpoint
MODEL.xml``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backends.graph import graph_array, graph_feed
from ..backends.openvino import OpenVinoInterpolator, import_openvino, lasting_signal_stack, openvino_core
from ..errors import InputError
from ..times import Padder
from .ir import check_ir_output, save_ir
from .metadata import PRECISION, WEIGHTS_SHA256, read_metadata

#: the bound ``ifrnet export --precision int8`` refuses beyond (dB of PSNR on any held-out set)
DEFAULT_MAX_DROP = 0.3
#: at most this many convolutions are put back into float by the accuracy control, by default
DEFAULT_MAX_REVERTED = 8
#: op types left in float: everything NNCF would quantise except the convolutions
_NOT_QUANTISED = (
    "Add",
    "Subtract",
    "Multiply",
    "Divide",
    "MatMul",
    "Interpolate",
    "GridSample",
    "Concat",
    "Sigmoid",
    "ReduceMean",
    "AvgPool",
    "MaxPool",
    "Power",
)

Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Int8Result:
    """What :func:`quantize_graph` measured: mean PSNR (dB) per held-out set, fp32 and int8."""

    path: Path
    fp32: dict[str, float]
    int8: dict[str, float]

    def drops(self) -> dict[str, float]:
        """dB lost per set (positive: int8 is worse)."""
        return {name: self.fp32[name] - self.int8[name] for name in self.fp32}

    def check(self, max_drop: float) -> None:
        """Raise :class:`InputError` naming the worst set when it loses more than ``max_drop`` dB."""
        name, drop = max(self.drops().items(), key=lambda item: item[1])
        if drop > max_drop:
            raise InputError(
                f"{self.path}: int8 loses {drop:.2f} dB PSNR on {name} ({self.fp32[name]:.2f} -> "
                f"{self.int8[name]:.2f} dB), more than the {max_drop:g} dB allowed; nothing written"
            )


def _inputs(img0: np.ndarray, img1: np.ndarray, t: float = 0.5) -> tuple[dict[str, np.ndarray], Padder]:
    """uint8 (H, W, 3) frames as the graph's padded float32 inputs, and the padder that crops its output."""
    a, _ = graph_array(img0, "frame0", OpenVinoInterpolator.runtime)
    b, _ = graph_array(img1, "frame1", OpenVinoInterpolator.runtime)
    padder = Padder.like(a)
    return graph_feed(padder.pad(a), padder.pad(b), t), padder


def _psnrs(compiled, triplets: Sequence[Triplet]) -> list[float]:
    """:func:`ifrnet.metrics.psnr_uint8` of the graph's middle frame against the truth, per triplet."""
    import torch

    from ..data.types import to_tensor
    from ..metrics import psnr_uint8

    scores = []
    for a, truth, b in triplets:
        feed, padder = _inputs(a, b)
        out = padder.unpad(np.asarray(compiled(feed)[0]))
        target = to_tensor(truth)[None]
        scores.append(float(psnr_uint8(torch.from_numpy(np.ascontiguousarray(out)), target)[0]))
    return scores


def _worst_set_loss(compiled_fp32, sets: Mapping[str, Sequence[Triplet]]):
    """Items for NNCF's accuracy control, and a validation function that scores a model by the PSNR
    its worst set loses (the mean over that set's items it is given), as 100 dB less that loss, so
    that no kind of footage is traded for another. The fp32 score of each item is computed once here."""
    items = [(name, i, triplet) for name, triplets in sets.items() for i, triplet in enumerate(triplets)]
    reference = {
        (name, i): score for name, triplets in sets.items() for i, score in enumerate(_psnrs(compiled_fp32, triplets))
    }

    def validate(compiled, given) -> float:
        given = list(given)
        losses: dict[str, list[float]] = {}
        for (name, i, _), score in zip(given, _psnrs(compiled, [t for _, _, t in given]), strict=True):
            losses.setdefault(name, []).append(reference[name, i] - score)
        # 100 dB less the loss: NNCF also divides by the unquantised score, which must not be 0
        return 100.0 - max(float(np.mean(v)) for v in losses.values())

    return items, validate


def _quantized(
    nncf, model, fp32_model, calibration: Mapping[str, Sequence[Triplet]], max_drop: float, max_reverted: int
):
    """NNCF's int8 model of ``model``: calibrated on the outer frames of ``calibration``, then (unless
    ``max_reverted`` is 0) convolutions put back into float until no set loses more than a third of
    ``max_drop`` (:func:`_worst_set_loss`)."""
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    items, validate = _worst_set_loss(fp32_model, calibration)
    common = {
        "subset_size": len(items),
        "preset": nncf.QuantizationPreset.MIXED,
        "ignored_scope": nncf.IgnoredScope(types=list(_NOT_QUANTISED), validate=False),
    }
    calibration_data = nncf.Dataset(items, lambda item: _inputs(item[2][0], item[2][2])[0])
    # NNCF builds engines of its own, each with a Core that loads and unloads a CPU plugin
    with lasting_signal_stack():
        if max_reverted == 0:
            return nncf.quantize(model, calibration_data, **common)
        return nncf.quantize_with_accuracy_control(
            model,
            calibration_data,
            nncf.Dataset(items, lambda item: item),
            validation_fn=validate,
            max_drop=max_drop / 3,
            drop_type=nncf.DropType.ABSOLUTE,
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                max_num_iterations=max_reverted, ranking_subset_size=min(len(items), 16)
            ),
            **common,
        )


def quantize_graph(
    graph: str | os.PathLike,
    output: str | os.PathLike,
    calibration: Mapping[str, Sequence[Triplet]],
    held_out: Mapping[str, Sequence[Triplet]],
    max_drop: float = DEFAULT_MAX_DROP,
    overwrite: bool = False,
    max_reverted: int = DEFAULT_MAX_REVERTED,
    weights_sha256: str | None = None,
) -> Int8Result:
    """Quantise ``graph`` (an ``ifrnet export`` ONNX file) to int8 and write it as OpenVINO IR.

    ``calibration``: named sets of uint8 ``(H, W, 3)`` triplets ``(frame0, middle, frame1)``: NNCF
    collects the activation ranges from the outer frames (t = 0.5), then its accuracy control puts
    back into float, one by one, the convolutions that cost most PSNR against the middle frames
    until no calibration set loses more than a third of ``max_drop`` on average (at most
    ``max_reverted`` of them; 0: no accuracy control, every convolution stays int8).
    ``held_out``: named sets of triplets never used in calibration, each scored by mean PSNR
    against its middle frame, fp32 graph against int8. ``output`` must end in ``.xml`` (its
    weights go to the ``.bin`` beside it). ``weights_sha256`` (recorded as ``ifrnet_weights_sha256``)
    ties a shipped IR to the weights file it was made from, as :func:`ifrnet.graphs.export.export_ir`
    does. Raises :class:`InputError` when a held-out set loses
    more than ``max_drop`` dB (nothing is written), for an existing output without ``overwrite``,
    and when NNCF or OpenVINO is missing.
    """
    out = check_ir_output(output, overwrite)
    if not calibration or not all(calibration.values()) or not held_out or not all(held_out.values()):
        raise InputError("int8 quantisation needs calibration triplets and at least one non-empty held-out set")
    if not max_drop >= 0:
        raise InputError(f"--max-drop must be at least 0 dB; got {max_drop:g}")
    try:
        ov = import_openvino()
        import nncf
    except ImportError:
        raise InputError("int8 quantisation needs NNCF and OpenVINO: pip install 'ifrnet[int8]'") from None

    nncf.set_log_level(logging.WARNING)  # its INFO lines list every op it leaves alone
    # the graph's own metadata travels into the IR, which says it is int8 (and whose weights)
    metadata = {
        **read_metadata(graph),
        PRECISION: "int8",
        **({WEIGHTS_SHA256: weights_sha256} if weights_sha256 else {}),
    }
    core = openvino_core()
    model = core.read_model(str(graph))
    exact = {"INFERENCE_PRECISION_HINT": "f32"}
    fp32_model = core.compile_model(model, "CPU", exact)
    quantized = _quantized(nncf, model, fp32_model, calibration, max_drop, max_reverted)
    int8_model = core.compile_model(quantized, "CPU", exact)
    result = Int8Result(
        out,
        {name: float(np.mean(_psnrs(fp32_model, sets))) for name, sets in held_out.items()},
        {name: float(np.mean(_psnrs(int8_model, sets))) for name, sets in held_out.items()},
    )
    result.check(max_drop)
    for key, value in metadata.items():
        quantized.set_rt_info(value, ["ifrnet", key])
    save_ir(ov, quantized, out)
    return result


#: size calibration and held-out frames are brought to (H, W): enough for the ranges to settle,
#: small enough that a calibration takes a minute on two cores
SAMPLE_SIZE = (288, 384)


def footage_sets(
    clips: Sequence[str | os.PathLike], frames_per_clip: int = 48, generated: int = 48
) -> tuple[dict[str, list[Triplet]], dict[str, list[Triplet]]]:
    """Calibration triplets and named held-out sets from real clips and generated scenes.

    Each clip's first ``frames_per_clip`` frames (resized to :data:`SAMPLE_SIZE`) are cut into
    windows of three consecutive frames: even windows calibrate, odd windows are held out, so no
    held-out frame was seen in calibration. Generated
    scenes (:class:`ifrnet.data.SyntheticMotion`: textured layers in large motion) add
    ``generated`` calibration triplets and a held-out set of as many drawn from other seeds. With
    12, the accuracy control fitted those few scenes and the held-out ones still lost 0.14 dB
    however many convolutions it might put back; with 48 they stay within 0.1 dB
    (``benchmarks/results/int8_cpu2_epyc_bf16_vnni.json``).
    """
    from PIL import Image

    from ..data.synthetic import SyntheticMotion
    from ..video import open_source

    h, w = SAMPLE_SIZE
    calibration: dict[str, list[Triplet]] = {}
    held_out: dict[str, list[Triplet]] = {}
    for clip in clips:
        frames = []
        with open_source(clip) as source:
            for frame in source.frames():
                frames.append(np.asarray(Image.fromarray(frame.image).resize((w, h), Image.BILINEAR)))
                if len(frames) >= frames_per_clip:
                    break
        windows = [frames[i : i + 3] for i in range(0, len(frames) - 2, 3)]
        if len(windows) < 2:
            raise InputError(f"{clip}: {len(frames)} frame(s); calibration needs at least 6")
        calibration[Path(clip).name] = [(win[0], win[1], win[2]) for win in windows[0::2]]
        held_out[Path(clip).name] = [(win[0], win[1], win[2]) for win in windows[1::2]]
    if generated:
        scenes = SyntheticMotion(length=1, size=SAMPLE_SIZE, max_shift=40, fixed_t=0.5, noise=0, brightness=0)
        rendered = [scenes.render(np.random.default_rng(seed)).frames for seed in range(2 * generated)]
        calibration["generated scenes"] = [tuple(np.asarray(x) for x in f) for f in rendered[:generated]]
        held_out["generated scenes"] = [tuple(np.asarray(x) for x in f) for f in rendered[generated:]]
    return calibration, held_out
