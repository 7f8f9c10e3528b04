"""The exactness contract (ifrnet.exactness): every engine against eager fp32 on real frames at
sizes no graph was traced at, the IR shipped with the starter weights, and the main job with no
torch installed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from ifrnet import EngineSpec, InputError, pretrained
from ifrnet.exactness import FP32_PSNR_DB, agreement

from .videos import real_frames, write_clip

#: (H, W): neither the trace size (256x448) nor multiples of 16
SIZES = ((72, 120), (100, 152))


def test_agreement_counts_levels_after_rounding():
    ref = np.full((1, 3, 10, 100), 0.4, np.float32)
    near = ref + np.float32(0.1 / 255)  # a tenth of a level: the same 8-bit value, 68 dB
    assert agreement(near, ref) == (1.0, 0, agreement(near, ref).psnr) and agreement(near, ref).fp32_class
    off = ref.copy()
    off.flat[:3] += 2 / 255  # 3 of 3000 samples two levels away: 99.9% within one
    got = agreement(off, ref)
    assert got.share == pytest.approx(0.999) and got.worst_levels == 2 and got.fp32_class
    off.flat[3] += 2 / 255
    assert not agreement(off, ref).fp32_class
    assert agreement(ref + np.float32(0.01), ref).psnr == pytest.approx(40.0, abs=0.01)
    assert not agreement(ref + np.float32(0.01), ref).fp32_class  # within a level's reach, but 40 dB
    assert agreement(ref, ref).psnr == float("inf")
    with pytest.raises(InputError, match=r"frames of shape \(1, 3, 10, 100\) against a reference of shape"):
        agreement(ref, ref[:, :, :5])
    with pytest.raises(InputError, match="bits must be 8 to 16; got 7"):
        agreement(ref, ref, bits=7)


def _pairs():
    """Real pairs (float32, (1, 3, H, W)) at each of SIZES: two frames apart, so things move."""
    for h, w in SIZES:
        a, _, b = real_frames("opencv_vtest.avi", 3, size=(w, h), start=100)
        yield tuple(np.ascontiguousarray(f.transpose(2, 0, 1)[None], dtype=np.float32) / 255 for f in (a, b))


def _eager(checkpoint):
    return EngineSpec(backend="torch", checkpoint=str(checkpoint), channels_last=False, precision="fp32").build()


def test_every_fp32_engine_keeps_the_contract(exported_s):
    checkpoint, graph, _ = exported_s
    engines = {
        "torch channels_last": EngineSpec(backend="torch", checkpoint=str(checkpoint), channels_last=True).build(),
        "onnxruntime": EngineSpec(backend="onnxruntime", checkpoint=str(graph)).build(),
        "openvino fp32": EngineSpec(backend="openvino", checkpoint=str(graph), precision="fp32").build(),
    }
    eager = _eager(checkpoint)
    for img0, img1 in _pairs():
        expected = eager.interpolate(img0, img1, (0.3,))[0]
        for name, engine in engines.items():
            got = agreement(engine.interpolate(img0, img1, (0.3,))[0], expected)
            assert got.fp32_class, f"{name} at {img0.shape[2:]}: {got}"


def test_the_shipped_ir_is_made_from_the_shipped_weights():
    """The IR records the sha256 of the weights file it was made from, and runs as they do
    (rerun scripts/make_shipped_graphs.py when the weights change)."""
    from ifrnet.backends.openvino import OpenVinoInterpolator, _ir_metadata
    from ifrnet.graphs.metadata import VARIANT, WEIGHTS_SHA256

    weights = pretrained.DEFAULT.find()
    ir = pretrained.shipped_graph(weights)
    assert ir is not None and ir.parent == weights.parent
    engine = OpenVinoInterpolator(ir, precision="fp32")
    meta = _ir_metadata(engine.model)
    assert meta[WEIGHTS_SHA256] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta[VARIANT] == pretrained.DEFAULT.variant and engine.uses_time
    eager = _eager(weights)
    for img0, img1 in _pairs():
        got = agreement(engine.interpolate(img0, img1, (0.5,))[0], eager.interpolate(img0, img1, (0.5,))[0])
        assert got.fp32_class and got.psnr > FP32_PSNR_DB + 20, got
    # a weights file that is not the shipped one has no ready graph
    assert pretrained.shipped_graph(ir) is None


def _held_out_triplets() -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Triplets (frame0, middle, frame1; uint8 HxWx3) that neither training nor int8 calibration
    saw: vtest frames 100-147 (live action MODEL_CARD.md holds out), and 48 generated scenes of
    each style (photographs in large motion; animation cels), from seeds past those calibration
    and its held-out set draw."""
    from ifrnet.data.synthetic import SyntheticMotion
    from ifrnet.graphs.int8 import SAMPLE_SIZE

    h, w = SAMPLE_SIZE
    frames = real_frames("opencv_vtest.avi", 48, size=(w, h), start=100)
    sets = {"vtest": [tuple(frames[i : i + 3]) for i in range(0, 48, 3)]}
    for style in ("photo", "cel"):
        scenes = SyntheticMotion(
            length=1, size=SAMPLE_SIZE, max_shift=40, fixed_t=0.5, noise=0, brightness=0, style=style
        )
        rendered = [scenes.render(np.random.default_rng(seed)).frames for seed in range(1000, 1048)]
        sets[f"generated {style}"] = [tuple(np.asarray(x) for x in f) for f in rendered]
    return sets


def test_the_shipped_int8_ir_keeps_the_reduced_precision_contract():
    """The int8 IR auto picks on a CPU with VNNI or AMX: made from the shipped weights, and within
    REDUCED_DB of the fp32 IR's PSNR against the real middle frames on held-out footage, with its
    float ops as auto runs them (bf16 where native)."""
    from ifrnet.backends.openvino import OpenVinoInterpolator, _ir_metadata, native_precisions
    from ifrnet.exactness import REDUCED_DB
    from ifrnet.graphs.metadata import PRECISION, WEIGHTS_SHA256

    weights = pretrained.DEFAULT.find()
    ir = pretrained.shipped_graph(weights, int8=True)
    assert ir is not None and ir != pretrained.shipped_graph(weights)
    floats = "bf16" if "bf16" in native_precisions() else "fp32"
    int8 = OpenVinoInterpolator(ir, precision=floats)
    meta = _ir_metadata(int8.model)
    assert meta[PRECISION] == "int8" and meta[WEIGHTS_SHA256] == hashlib.sha256(weights.read_bytes()).hexdigest()
    fp32 = OpenVinoInterpolator(pretrained.shipped_graph(weights), precision="fp32")

    def mean_psnr(engine, triplets) -> float:
        scores = []
        for a, mid, b in triplets:
            got = engine.interpolate(*(f.transpose(2, 0, 1)[None].astype(np.float32) / 255 for f in (a, b)), (0.5,))
            error = got[0][0].transpose(1, 2, 0) - mid.astype(np.float32) / 255
            scores.append(-10 * np.log10(np.mean(error**2)))
        return float(np.mean(scores))

    for name, triplets in _held_out_triplets().items():
        drop = mean_psnr(fp32, triplets) - mean_psnr(int8, triplets)
        assert drop <= REDUCED_DB, f"{name}: int8 ({floats} elsewhere) loses {drop:.3f} dB"


@pytest.mark.slow
def test_the_shipped_ir_equals_a_fresh_export(tmp_path):
    from ifrnet.backends.openvino import OpenVinoInterpolator
    from ifrnet.graphs.export import export_ir
    from ifrnet.weights import load_model

    weights = pretrained.DEFAULT.find()
    fresh = export_ir(load_model(None, weights, "cpu"), tmp_path / "fresh.xml")
    shipped = OpenVinoInterpolator(pretrained.shipped_graph(weights), precision="fp32")
    again = OpenVinoInterpolator(fresh, precision="fp32")
    for img0, img1 in _pairs():
        got = agreement(shipped.interpolate(img0, img1, (0.5,))[0], again.interpolate(img0, img1, (0.5,))[0])
        assert got.fp32_class, got


#: run in a child: torch made unimportable, as where it is not installed
_NO_TORCH = """
import sys
sys.modules["torch"] = None
from ifrnet.cli import main
status = main(sys.argv[1:])
print("torch imported:", sys.modules.get("torch") is not None)
sys.exit(status)
"""


def test_the_main_job_runs_without_torch(tmp_path):
    clip = write_clip(tmp_path / "in.mkv", real_frames("opencv_vtest.avi", 4, size=(96, 72), start=100))
    env = {k: v for k, v in os.environ.items() if k != "IFRNET_BACKEND"}  # the suite pins torch
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, "video", str(clip), "-o", str(tmp_path / "out.mkv"), "--progress", "none"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "torch imported: False" in done.stdout
    assert "(OpenVINO, " in done.stdout and "exporting" not in done.stderr
    assert (tmp_path / "out.mkv").is_file()
    # a command that needs torch says so in one line
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, "export", "-o", str(tmp_path / "m.onnx")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    needs = "ifrnet: error: this needs PyTorch, which is not installed here: pip install 'ifrnet[torch]'"
    assert done.stderr.strip() == needs
    # a missing checkpoint is said as such, not hidden behind the engine auto would fall back to
    for checkpoint, said in (
        ("gone.pth", "gone.pth: no such checkpoint file"),
        ("gone.onnx", "gone.onnx: no such graph file"),
    ):
        argv = ["video", str(clip), "-o", str(tmp_path / "x.mkv"), "--checkpoint", checkpoint]
        done = subprocess.run(
            [sys.executable, "-c", _NO_TORCH, *argv], capture_output=True, text=True, env=env, timeout=120
        )
        assert (done.returncode, done.stderr.strip()) == (1, f"ifrnet: error: {said}")
        assert not (tmp_path / "x.mkv").exists()
