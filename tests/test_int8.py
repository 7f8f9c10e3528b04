"""int8 graphs: NNCF quantisation of the exported graph, refused when it loses more than the bound,
written as OpenVINO IR that the openvino engine (and --backend auto) runs."""

from __future__ import annotations

import numpy as np
import pytest

from ifrnet import InputError
from ifrnet.cli import main
from ifrnet.spec import EngineSpec

from .conftest import uint8_frame

pytest.importorskip("nncf")
pytest.importorskip("openvino")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def graph(exported_s):
    return exported_s[1]


def _triplets(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    frames = [uint8_frame(64, 96, seed=seed + k) for k in range(n + 2)]
    return [(frames[k], frames[k + 1], frames[k + 2]) for k in range(n)]


def test_a_drop_over_the_bound_is_refused_with_its_size_and_nothing_is_written(graph, tmp_path):
    """Forced: the held-out truth is the fp32 graph's own output give or take one level (so fp32
    scores about 50 dB, not infinity), any int8 error is then a loss, and the bound is 0 dB."""
    from ifrnet.backends.openvino import OpenVinoInterpolator
    from ifrnet.graphs.int8 import quantize_graph

    fp32 = OpenVinoInterpolator(graph)
    held = []
    for a, _, b in _triplets(3, seed=50):
        own = fp32.interpolate(a, b)[0].astype(np.int16)
        nudge = (np.arange(own.size).reshape(own.shape) % 3 - 1).astype(np.int16)
        held.append((a, np.clip(own + nudge, 0, 255).astype(np.uint8), b))
    out = tmp_path / "q.xml"
    with pytest.raises(InputError, match=r"q\.xml: int8 loses \d+\.\d+ dB PSNR on own output .*nothing written"):
        quantize_graph(graph, out, {"c": _triplets(4, seed=0)}, {"own output": held}, max_drop=0.0, max_reverted=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_accepted_graph_runs_on_openvino_as_int8_close_to_fp32(graph, tmp_path):
    from ifrnet.backends.openvino import OpenVinoInterpolator
    from ifrnet.graphs.int8 import quantize_graph

    out = tmp_path / "q.xml"
    result = quantize_graph(graph, out, {"c": _triplets(4, seed=0)}, {"held": _triplets(2, seed=20)}, max_drop=100.0)
    assert out.is_file() and out.with_suffix(".bin").is_file() and set(result.drops()) == {"held"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.bin", "q.xml"]
    int8 = EngineSpec(checkpoint=str(out)).build()  # --backend auto: an IR runs on OpenVINO
    assert isinstance(int8, OpenVinoInterpolator) and "int8" in int8.describe() and "OpenVINO IR" in int8.chosen
    a, _, b = _triplets(1, seed=70)[0]
    got = int8.interpolate(a, b, [0.5])[0].astype(np.float64)
    want = OpenVinoInterpolator(graph).interpolate(a, b, [0.5])[0].astype(np.float64)
    assert got.shape == want.shape and 0 < np.abs(got - want).mean() < 4.0  # quantised, yet the same picture
    with pytest.raises(InputError, match="run it with --backend openvino"):
        EngineSpec(backend="onnxruntime", checkpoint=str(out)).build()


def test_the_command_checks_its_output_before_any_work(tmp_path, capsys):
    assert main(["export", "--precision", "int8", "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name it MODEL.xml" in err
    (tmp_path / "m.bin").write_bytes(b"x")
    assert main(["export", "--precision", "int8", "-o", str(tmp_path / "m.xml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "m.bin" in err and "--overwrite" in err
    assert main(["export", "--precision", "int8", "-o", str(tmp_path / "n.xml"), "--calibration", "nope.mp4"]) == 1
    assert "nope.mp4: no such calibration clip" in capsys.readouterr().err
    assert main(["export", "-o", str(tmp_path / "f.onnx"), "--max-drop", "1"]) == 1  # an fp32 export
    assert "apply to --precision int8" in capsys.readouterr().err
    assert main(["export", "--precision", "int8", "-o", str(tmp_path / "n.xml"), "--opset", "17"]) == 1
    assert "--opset and --no-verify apply to the fp32 graph" in capsys.readouterr().err
