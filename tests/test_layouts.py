"""``ifrnet export --layout vs-mlrt``: the default graph wrapped in vs-mlrt's input convention."""

from __future__ import annotations

import numpy as np
import pytest

from ifrnet.cli import main
from ifrnet.errors import CheckpointError, InputError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def vsmlrt_graph(exported_s, tmp_path_factory):
    from ifrnet.graphs.layouts import write_vsmlrt_graph

    _, graph, _ = exported_s
    return write_vsmlrt_graph(graph, tmp_path_factory.mktemp("vsmlrt") / "ifrnet_s_vsmlrt.onnx")


@pytest.mark.parametrize(("height", "width", "t"), [(50, 70, 0.3), (37, 91, 0.5), (5, 9, 0.75), (64, 48, 0.25)])
def test_vsmlrt_layout_equals_the_default_graph(exported_s, vsmlrt_graph, height, width, t):
    """Sides that are not multiples of 16 (the wrapper pads inside) and one that is; the same numbers
    as the default graph run by the engine, which pads and crops outside."""
    from ifrnet.backends.onnx import OnnxInterpolator
    from ifrnet.graphs.layouts import run_vsmlrt_graph

    _, graph, _ = exported_s
    rng = np.random.default_rng(height * width)
    img0, img1 = rng.random((2, 1, 3, height, width), dtype=np.float32)
    got = run_vsmlrt_graph(vsmlrt_graph, img0, img1, t)
    expected = OnnxInterpolator(graph).interpolate(img0, img1, [t])[0]
    assert got.shape == (1, 3, height, width)
    np.testing.assert_array_equal(got, expected)


def test_vsmlrt_layout_is_what_the_docstring_says(vsmlrt_graph):
    """One input of 7 planes and one output of 3, named as vs-mlrt's scripts name them, symbolic sides."""
    model = onnx.load(str(vsmlrt_graph))
    (inp,), (out,) = model.graph.input, model.graph.output
    dims = [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, dims) == ("input", ["batch", 7, "height", "width"])
    assert out.name == "output"
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["ifrnet_layout"] == "vs-mlrt" and meta["ifrnet_variant"] == "IFRNet_S"


def test_vsmlrt_layout_refuses_a_foreign_graph_and_an_existing_output(tmp_path, vsmlrt_graph):
    from ifrnet.graphs.layouts import write_vsmlrt_graph

    with pytest.raises(CheckpointError, match="not a graph written by 'ifrnet export'"):
        write_vsmlrt_graph(vsmlrt_graph, tmp_path / "again.onnx")  # already wrapped: one input, not three
    existing = tmp_path / "x.onnx"
    existing.write_bytes(b"keep")
    with pytest.raises(InputError, match="output exists"):
        write_vsmlrt_graph(vsmlrt_graph, existing)
    assert existing.read_bytes() == b"keep"


def test_export_layout_vsmlrt_on_the_command_line(exported_s, tmp_path, capsys, monkeypatch):
    """The command wraps the weights' cached graph (here the fixture's, found by a stand-in for the
    cache so that the test does not export again) and prints the check against the default graph."""
    import ifrnet.graphs.cache

    checkpoint, graph, _ = exported_s
    monkeypatch.setattr(ifrnet.graphs.cache, "cached_graph", lambda name, ckpt: graph)
    out = tmp_path / "v.onnx"
    assert main(["export", "--layout", "vs-mlrt", "--checkpoint", str(checkpoint), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and "vs-mlrt layout" in printed
    assert printed.count("max abs difference 0.00e+00") == 2
    assert main(["export", "--layout", "vs-mlrt", "--precision", "int8", "-o", str(tmp_path / "q.xml")]) == 1
    assert "does not combine with --precision int8" in capsys.readouterr().err
