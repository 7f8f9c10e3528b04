"""ONNX export and the onnxruntime backend: sizes never traced, same frames as PyTorch, no torch needed."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from ifrnet import Interpolator
from ifrnet.cli import main
from ifrnet.io import write_png
from ifrnet.models import list_models

from .conftest import REPO, seeded_model, uint8_frame
from .videos import moving_frames, read_clip, write_clip

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def exported(exported_s) -> tuple[Path, Path, str]:
    return exported_s


def test_export_verifies_at_two_sizes_it_was_not_traced_at(exported):
    from ifrnet.graphs.export import TRACE_SIZE

    _, graph, printed = exported
    checks = re.findall(r"at (\d+)x(\d+) \(not the traced size\): max abs difference (\S+)", printed)
    assert len(checks) == 2, printed
    for width, height, diff in checks:
        assert (int(height), int(width)) != TRACE_SIZE
        assert float(diff) <= 1e-4
    assert graph.stat().st_size > 2_000_000  # the weights are inside


def test_graph_matches_pytorch_at_other_sizes_and_batches(exported):
    from ifrnet.backends.onnx import OnnxInterpolator

    _, graph, _ = exported
    runtime = OnnxInterpolator(graph)
    assert runtime.model_name == "IFRNet_S" and runtime.uses_time
    model = seeded_model("IFRNet_S")
    gen = torch.Generator().manual_seed(5)
    for batch, h, w in ((2, 64, 112), (1, 160, 96)):
        img0, img1 = torch.rand(2, batch, 3, h, w, generator=gen)
        for t in (0.2, 0.5):
            embt = torch.full((batch, 1, 1, 1), t)
            with torch.inference_mode():
                expected = model.inference(img0, img1, embt).numpy()
            got = runtime.run(img0.numpy(), img1.numpy(), t)
            assert np.abs(got - expected).max() <= 1e-4


def test_backend_pads_crops_and_bisects_like_the_torch_engine(exported):
    from ifrnet.backends.onnx import OnnxInterpolator

    _, graph, _ = exported
    runtime = OnnxInterpolator(graph)
    engine = Interpolator(seeded_model("IFRNet_S"), device="cpu")
    a, b = uint8_frame(50, 70, seed=1), uint8_frame(50, 70, seed=2)
    for ours, theirs in zip(runtime.interpolate(a, b, [0.3, 0.7]), engine.interpolate(a, b, [0.3, 0.7]), strict=True):
        assert ours.shape == (50, 70, 3) and ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - theirs).max() <= 1  # a rounding step at most
    # weights that ignore t: both engines bisect to 1/4, 1/2, 3/4 the same way
    runtime.uses_time = engine.uses_time = False
    for ours, theirs in zip(
        runtime.interpolate(a, b, [0.25, 0.75]), engine.interpolate(a, b, [0.25, 0.75]), strict=True
    ):
        assert np.abs(ours.astype(int) - theirs).max() <= 1
    with pytest.raises(ValueError, match="cannot be reached"):
        runtime.interpolate(a, b, [0.3])


def test_onnx_backend_runs_without_torch(exported, tmp_path):
    """pair and video through the CLI with torch made unimportable, as on a machine without it."""
    _, graph, _ = exported
    write_png(tmp_path / "a.png", uint8_frame(40, 56, seed=3))
    write_png(tmp_path / "b.png", uint8_frame(40, 56, seed=4))
    clip = write_clip(tmp_path / "clip.mkv", moving_frames(5))
    script = textwrap.dedent(
        f"""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")

        sys.meta_path.insert(0, NoTorch())
        from ifrnet.backends.onnx import OnnxInterpolator
        from ifrnet.cli import main

        graph, folder = {str(graph)!r}, {str(tmp_path)!r}
        pair = ["pair", folder + "/a.png", folder + "/b.png", "-o", folder + "/out", "--factor", "4"]
        assert main(pair + ["--backend", "onnxruntime", "--checkpoint", graph]) == 0
        video = ["video", folder + "/clip.mkv", "-o", folder + "/out.mkv", "--codec", "ffv1", "--pix-fmt", "bgr0", "-q"]
        assert main(video + ["--backend", "onnxruntime", "--checkpoint", graph]) == 0
        assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
        # weights need the torch engine: without torch, one line that says what to do instead
        assert main(video + ["--overwrite"]) == 1
        print("no torch")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and "no torch" in done.stdout, done.stderr
    # (and why auto took that engine: the suite pins IFRNET_BACKEND=torch)
    needs = "ifrnet: error: the torch engine needs PyTorch, which is not installed here (--backend auto took it: "
    assert needs + "IFRNET_BACKEND=torch): run an exported graph" in done.stderr
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert written == ["frame_001_t0.2500.png", "frame_002_t0.5000.png", "frame_003_t0.7500.png"]
    frames, _, rate = read_clip(tmp_path / "out.mkv")
    assert len(frames) == 10 and rate == 50  # the duration is kept: 5 frames at 25 fps
    source, _, _ = read_clip(clip)
    assert all(np.array_equal(frames[2 * i], source[i]) for i in range(5))


def test_backend_errors_are_one_line(exported, tmp_path, capsys):
    # (weights rather than a graph are exported into the cache: tests/test_openvino.py)
    a = tmp_path / "a.png"
    write_png(a, uint8_frame(40, 56))
    argv = ["pair", str(a), str(a), "-o", str(tmp_path / "o"), "--backend", "onnxruntime"]
    assert main([*argv, "--checkpoint", str(tmp_path / "model.xml")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an OpenVINO IR; run it with --backend openvino" in err, err
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    assert main([*argv, "--checkpoint", str(tmp_path / "junk.onnx")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.onnx" in err, err


def test_backend_checks_the_variant_by_any_of_its_names(exported):
    from ifrnet import InputError
    from ifrnet.spec import EngineSpec

    _, graph, _ = exported
    for name in ("IFRNet_S", "ifrnet-s", "ifrnet_small"):
        assert EngineSpec(backend="onnxruntime", model=name, checkpoint=str(graph)).build().model_name == "IFRNet_S"
    with pytest.raises(InputError, match="holds IFRNet_S, not ifrnet_large"):
        EngineSpec(backend="onnxruntime", model="ifrnet_large", checkpoint=str(graph)).build()


def test_onnx_engine_takes_sixteen_bit_frames(exported):
    from ifrnet.backends.onnx import OnnxInterpolator

    from .test_fidelity import sixteen_bit_agrees

    sixteen_bit_agrees(OnnxInterpolator(exported[1]))


# IFRNet_S: the tests above. Each export takes most of a minute here, hence slow.
@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if n != "IFRNet_S"])
def test_every_variant_exports_and_matches_pytorch_at_untraced_sizes(name, tmp_path):
    from ifrnet.graphs.export import export_onnx, verify_export

    model = seeded_model(name)
    graph = export_onnx(model, tmp_path / f"{name}.onnx")
    diffs = verify_export(model, graph, sizes=((48, 80),))
    assert list(diffs) == [(48, 80)] and diffs[(48, 80)] <= 1e-4
