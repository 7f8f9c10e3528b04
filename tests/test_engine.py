"""The engine boundary: every engine is an ``Engine``, options are checked where they are declared,
and one ``Padder`` pads numpy arrays and tensors alike."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ifrnet import InputError, Interpolator
from ifrnet.commands.options import add_engine_args, engine_spec
from ifrnet.engine import BACKENDS, PRECISIONS, Engine, FlowEngine
from ifrnet.models import list_models
from ifrnet.spec import EngineSpec, options
from ifrnet.times import Padder, padded_side

from .conftest import seeded_model, smooth_frames, uint8_frame


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("scale", 0.0, "--scale must be in (0, 1]; got 0"),
        ("scale", 1.5, "--scale must be in (0, 1]; got 1.5"),
        ("scale", "fast", "--scale must be a number or auto; got 'fast'"),
        ("precision", "fp8", "--precision must be one of fp32, bf16, fp16"),
        ("backend", "tensorrt", "--backend must be one of auto, torch, onnxruntime"),
        ("threads", 0, "--threads must be at least 1; got 0"),
    ],
)
def test_engine_spec_refuses_values_outside_its_declared_range(field, value, message):
    with pytest.raises(InputError) as caught:
        EngineSpec(**{field: value})
    assert str(caught.value).startswith(message)


def test_command_line_engine_options_come_from_the_spec():
    parser = argparse.ArgumentParser()
    add_engine_args(parser)
    args = parser.parse_args([])
    # every default is the spec's own
    assert engine_spec(args) == EngineSpec()
    names = {action.dest for action in parser._actions}
    assert {name for name, _, _ in options()} <= names
    precision = next(a for a in parser._actions if a.dest == "precision")
    backend = next(a for a in parser._actions if a.dest == "backend")
    assert tuple(precision.choices) == PRECISIONS and tuple(backend.choices) == BACKENDS
    # the range check is the spec's: one message whichever way the value arrives
    with pytest.raises(SystemExit):
        parser.parse_args(["--scale", "2"])
    assert engine_spec(parser.parse_args(["--scale", "0.5", "--threads", "3"])) == EngineSpec(scale=0.5, threads=3)
    # a numeric option's words pass as themselves; other text is refused as not a number
    assert engine_spec(parser.parse_args(["--scale", "auto"])) == EngineSpec(scale="auto")
    with pytest.raises(SystemExit):
        parser.parse_args(["--scale", "fast"])


def test_only_restricts_the_generated_options():
    parser = argparse.ArgumentParser()
    add_engine_args(parser, only=("model", "checkpoint"))
    assert vars(parser.parse_args([])) == {"model": None, "checkpoint": None}


def test_the_torch_engine_is_an_engine_with_flows(model_s):
    engine = Interpolator(model_s, device="cpu")
    assert isinstance(engine, Engine) and isinstance(engine, FlowEngine)
    assert engine.device_kind == "cpu" and engine.workers == 0
    a, b = uint8_frame(40, 56, seed=1), uint8_frame(40, 56, seed=2)
    (direct,) = engine.interpolate(a, b, [0.5])
    assert np.array_equal(engine.submit(a, b, [0.5]).result()[0], direct)
    flow0, flow1, mask = engine.flows_and_mask(a, b, 0.5)
    assert flow0.shape == flow1.shape == (40, 56, 2) and mask.shape == (40, 56)
    assert flow0.dtype == np.float32 and 0.0 <= mask.min() <= mask.max() <= 1.0
    assert engine.fingerprint().startswith(engine.describe() + ", weights sha256 ")


def test_float32_arrays_are_frames_too(model_s):
    """The kind every engine takes without rounding: what evaluation hands the engine."""
    engine = Interpolator(model_s, device="cpu")
    frames = smooth_frames(2, 40, 56)
    (from_tensor,) = engine.interpolate(frames[:1], frames[1:], [0.3])
    (from_array,) = engine.interpolate(frames[:1].numpy(), frames[1:].numpy(), [0.3])
    assert isinstance(from_array, np.ndarray) and from_array.dtype == np.float32
    assert np.array_equal(from_array, from_tensor.numpy())


@pytest.mark.parametrize("name", list_models())
def test_every_variant_pads_and_crops_like_manual_padding(name):
    """Every registered variant, at a size no network stride divides: the engine's padding is the
    replicate padding the reference path needs, and the crop gives the frame's own size back."""
    model = seeded_model(name)
    frames = smooth_frames(2, 37, 53)
    (out,) = Interpolator(model, device="cpu", channels_last=False).interpolate(frames[:1], frames[1:], [0.5])
    assert out.shape == (1, 3, 37, 53)
    pad = (0, padded_side(53) - 53, 0, padded_side(37) - 37)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.inference_mode():
        padded = [F.pad(f, pad, mode="replicate") for f in (frames[:1], frames[1:])]
        manual = model.inference(*padded, embt)
    torch.testing.assert_close(out, manual[..., :37, :53], rtol=0, atol=0)


@pytest.mark.parametrize(("height", "width", "scale"), [(37, 53, 1.0), (70, 90, 0.5), (48, 64, 1.0), (21, 30, 0.8)])
def test_padder_pads_arrays_and_tensors_alike(height, width, scale):
    padder = Padder(height, width, scale)
    assert padder.padded == (padded_side(height, scale), padded_side(width, scale))
    array = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    padded = padder.pad(array)
    assert padded.shape[-2:] == padder.padded
    assert np.array_equal(padder.pad(torch.from_numpy(array)).numpy(), padded)
    assert np.array_equal(padder.unpad(padded), array)
    if padder.padded != (height, width):  # the border repeats the last row and column
        assert np.array_equal(padded[..., -1, :width], array[..., -1, :])
        assert np.array_equal(padded[..., :height, -1], array[..., :, -1])
    else:
        assert padded is array


def test_centred_padder_splits_the_border():
    padder = Padder(45, 21, multiple=20, centred=True)
    assert (padder.top, padder.bottom, padder.left, padder.right) == (7, 8, 9, 10)
    array = np.arange(45 * 21, dtype=np.float32).reshape(1, 1, 45, 21)
    assert np.array_equal(padder.unpad(padder.pad(array)), array)


def test_worker_pool_is_an_engine(tmp_path):
    from ifrnet.video.parallel import WorkerPool
    from ifrnet.weights import save_safetensors

    weights = tmp_path / "s.safetensors"
    save_safetensors(seeded_model("IFRNet_S").state_dict(), weights)
    spec = EngineSpec(checkpoint=str(weights), device="cpu")
    a, b = uint8_frame(32, 48, seed=3), uint8_frame(32, 48, seed=4)
    expected = spec.build().interpolate(a, b, [0.25, 0.75])
    with WorkerPool(spec, ["cpu"]) as pool:
        assert isinstance(pool, Engine) and pool.workers == 1 and pool.device_kind == "cpu"
        assert pool.uses_time
        for ours, theirs in zip(pool.interpolate(a, b, [0.25, 0.75]), expected, strict=True):
            assert np.array_equal(ours, theirs)


def test_worker_pool_exports_weights_for_a_graph_backend_once_for_all_workers(tmp_path, monkeypatch):
    """Two workers on a graph backend given weights: one export, in the parent, and both workers
    are handed the graph (each exporting for itself would cost a minute per worker)."""
    from ifrnet.graphs import export
    from ifrnet.video.parallel import WorkerPool

    exported = []

    def fake_export(model, path, overwrite=False):  # the real exporter takes a minute
        exported.append(path)
        path.write_bytes(b"graph")
        return path

    monkeypatch.setattr(export, "export_onnx", fake_export)
    weights = tmp_path / "w.pth"
    torch.save(seeded_model().state_dict(), weights)
    pool = WorkerPool(EngineSpec(backend="onnxruntime", checkpoint=str(weights)), ["cpu", "cpu"])
    try:
        assert len(exported) == 1
        assert [s.checkpoint for s in pool._specs] == [str(exported[0])] * 2
    finally:
        pool.close(cancel=True)


# -- --backend auto --


@pytest.fixture
def cpu_only(monkeypatch):
    """A machine without a GPU, with the exporter; ``native`` sets the precisions OpenVINO runs
    natively on its CPU. IFRNET_BACKEND (pinned for the rest of the suite) is unset."""
    from ifrnet import spec as factory

    monkeypatch.delenv("IFRNET_BACKEND", raising=False)
    monkeypatch.setattr(factory, "_gpu_present", lambda: False)
    monkeypatch.setattr(factory, "_export_missing", lambda: [])
    monkeypatch.setattr(factory, "_int8_dot_products", lambda: None)  # AVX2: tests that want VNNI say so

    def native(*precisions: str) -> None:
        monkeypatch.setattr(factory, "_openvino_native", lambda: frozenset(precisions))
        monkeypatch.setattr(
            factory, "_openvino_unavailable", lambda: None if precisions else "OpenVINO is not installed"
        )

    native("fp32")
    return native


def test_auto_takes_openvino_bf16_only_on_a_cpu_with_native_bf16(cpu_only, monkeypatch):
    from ifrnet import spec as factory

    cpu_only("fp32", "bf16")
    spec, why = EngineSpec().resolve()
    assert (spec.backend, spec.precision) == ("openvino", "bf16") and "native bf16" in why
    # fp32 asked for: OpenVINO fp32, which keeps the fp32 contract (ifrnet.exactness)
    spec, why = EngineSpec(precision="fp32").resolve()
    assert (spec.backend, spec.precision) == ("openvino", "fp32") and why.startswith("--precision fp32: OpenVINO fp32")
    monkeypatch.setattr(factory, "_export_missing", lambda: ["torch", "onnxscript"])  # nothing to export with...
    # ...the starter weights still have their shipped IR
    assert EngineSpec(checkpoint="IFRNet_S.starter").resolve()[0].backend == "openvino"
    monkeypatch.setattr(factory.EngineSpec, "_ready_graph", lambda self: False)  # other weights: no graph
    spec, why = EngineSpec().resolve()
    assert spec.backend == "torch"
    assert why.startswith("native bf16, but exporting these weights for OpenVINO needs torch, onnxscript")
    assert EngineSpec(checkpoint="m.onnx").resolve()[0].backend == "openvino"  # a graph needs no export
    cpu_only("fp32")
    spec, why = EngineSpec(checkpoint="m.onnx").resolve()
    assert (spec.backend, spec.precision) == ("openvino", "fp32") and "keeps the fp32 contract" in why
    spec, why = EngineSpec().resolve()
    assert (spec.backend, spec.precision) == ("torch", "fp32") and "no graph for OpenVINO" in why
    cpu_only()  # OpenVINO missing
    spec, why = EngineSpec().resolve()
    assert (spec.backend, spec.precision) == ("torch", "fp32") and why.startswith("fp32 (OpenVINO is not installed)")
    monkeypatch.setenv("IFRNET_BACKEND", "onnxruntime")
    assert EngineSpec().resolve() == (EngineSpec(backend="onnxruntime"), "IFRNET_BACKEND=onnxruntime")
    monkeypatch.setenv("IFRNET_BACKEND", "tensorrt")
    with pytest.raises(InputError, match="IFRNET_BACKEND must be one of torch, onnxruntime, openvino"):
        EngineSpec().resolve()


def test_auto_takes_the_shipped_int8_graph_only_where_the_cpu_has_int8_dot_products(cpu_only, monkeypatch, tmp_path):
    from ifrnet import spec as factory

    starter = {"checkpoint": "IFRNet_S.starter"}
    cpu_only("fp32", "bf16")
    monkeypatch.setattr(factory, "_int8_dot_products", lambda: "AVX-512 VNNI")
    spec, why = EngineSpec(**starter).resolve()
    assert (spec.backend, spec.precision, spec.int8) == ("openvino", "bf16", True)
    expected = "this CPU has AVX-512 VNNI: the shipped int8 graph (int8 convolutions, bf16 elsewhere; within 0.1 dB"
    assert why == expected + " of fp32 on held-out frames)"
    cpu_only("fp32")  # VNNI without bf16: the float ops in fp32
    spec, why = EngineSpec(**starter).resolve()
    assert (spec.backend, spec.precision, spec.int8) == ("openvino", "fp32", True) and "fp32 elsewhere" in why
    cpu_only("fp32", "bf16")
    # a float precision asked for, --no-int8, or weights with no int8 graph: no int8
    for given in ({"precision": "bf16"}, {"precision": "fp32"}, {"int8": False}):
        spec, why = EngineSpec(**starter, **given).resolve()
        assert spec.backend == "openvino" and not spec.int8 and "int8" not in why, given
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"")
    spec, why = EngineSpec(checkpoint=str(other)).resolve()
    assert (spec.precision, spec.int8) == ("bf16", None) and why.startswith("this CPU has native bf16")
    monkeypatch.setattr(factory, "_int8_dot_products", lambda: None)  # AVX2 only: int8 measured no faster
    spec, why = EngineSpec(**starter).resolve()
    assert (spec.precision, spec.int8) == ("bf16", None) and why.startswith("this CPU has native bf16")
    # asked for by name: OpenVINO, on any CPU
    assert EngineSpec(int8=True).resolve() == (
        EngineSpec(backend="openvino", int8=True),
        "--int8: OpenVINO runs the int8 graph",
    )


def test_int8_runs_on_openvino_and_only_on_an_int8_graph(tmp_path):
    import shutil

    from ifrnet import pretrained
    from ifrnet.backends.openvino import native_precisions

    engine = EngineSpec(backend="openvino", int8=True, checkpoint="IFRNet_S.starter").build()
    assert engine.weights_precision == "int8" and "int8 convolutions" in engine.describe()
    # the float ops of an int8 graph run in bf16 where that is native
    assert engine.precision == ("bf16" if "bf16" in native_precisions() else "fp32")
    with pytest.raises(InputError, match="--int8 applies to OpenVINO"):
        EngineSpec(backend="torch", int8=True).build()
    with pytest.raises(InputError, match="--int8 does not apply to --backend onnxruntime"):
        EngineSpec(backend="onnxruntime", int8=True, checkpoint="IFRNet_S.starter").build()
    with pytest.raises(InputError, match=r"--int8: m\.onnx is an fp32 ONNX graph"):
        EngineSpec(backend="openvino", int8=True, checkpoint="m.onnx").build()
    fp32_ir = str(pretrained.shipped_graph(pretrained.DEFAULT.find()))
    with pytest.raises(InputError, match=r"--int8: .*ifrnet_s_starter\.xml is an fp32 graph"):
        EngineSpec(backend="openvino", int8=True, checkpoint=fp32_ir).build()
    with pytest.raises(InputError, match=r"--no-int8: .*ifrnet_s_starter_int8\.xml is an int8 graph"):
        EngineSpec(backend="openvino", int8=False, checkpoint=str(engine.path)).build()
    # weights with no int8 graph shipped: how to make one, not minutes of quantisation inside the run
    copy = shutil.copy(pretrained.DEFAULT.find(), tmp_path / "mine.safetensors")
    with pytest.raises(InputError, match=r"mine\.safetensors: no int8 graph ships for these weights; make one with"):
        EngineSpec(backend="openvino", int8=True, checkpoint=str(copy)).build()


def test_auto_on_a_cpu_without_native_bf16_takes_openvino_fp32(cpu_only):
    spec, why = EngineSpec(checkpoint="IFRNet_S.starter").resolve()
    assert (spec.backend, spec.precision) == ("openvino", "fp32")
    assert why.startswith("no native bf16 on this CPU: OpenVINO fp32") and "fp32 contract" in why


def test_auto_runs_a_graph_exactly_and_keeps_torch_options_on_torch(cpu_only):
    cpu_only()  # no OpenVINO: onnxruntime runs a graph
    spec, why = EngineSpec(checkpoint="m.onnx").resolve()
    assert (spec.backend, spec.precision) == ("onnxruntime", "fp32") and "onnxruntime runs the graph" in why
    cpu_only("fp32")
    for given, flag in (
        ({"scale": 0.5}, "--scale 0.5"),
        ({"scale": "auto"}, "--scale auto"),
        ({"compile": True}, "--compile"),
        ({"channels_last": False}, "--channels-last"),
    ):
        spec, why = EngineSpec(**given).resolve()
        assert spec.backend == "torch" and why == f"{flag}: only the torch engine has it"
        with pytest.raises(
            InputError, match=f"--backend auto: {flag} needs the torch engine, which does not run m.onnx"
        ):
            EngineSpec(checkpoint="m.onnx", **given).resolve()
    # reduced precision on a graph: OpenVINO, the engine that can (and refuses what is not native)
    assert EngineSpec(checkpoint="m.onnx", precision="fp16").resolve()[0].backend == "openvino"
    spec, why = EngineSpec(device="cuda").resolve()
    assert spec.backend == "torch" and "cuda" in why
    assert EngineSpec(backend="onnxruntime", checkpoint="m.onnx").resolve() == (
        EngineSpec(backend="onnxruntime", checkpoint="m.onnx"),
        "",
    )


def test_the_choice_and_its_reason_reach_the_summary(cpu_only, tmp_path, capsys):
    from ifrnet.cli import main
    from ifrnet.io import write_png

    cpu_only()  # no OpenVINO: the torch engine, without an export of these weights
    torch.save(seeded_model().state_dict(), tmp_path / "w.pth")
    a = tmp_path / "a.png"
    write_png(a, uint8_frame(40, 56))
    assert main(["pair", str(a), str(a), "-o", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "w.pth")]) == 0
    out = capsys.readouterr().out
    assert "(PyTorch, fp32, channels_last) (--backend auto: fp32 (OpenVINO is not installed): torch" in out
    named = EngineSpec(backend="torch", checkpoint=str(tmp_path / "w.pth")).build()
    assert named.chosen == "" and "--backend auto" not in named.describe_choice()
