"""``ifrnet bench``: the side-by-side table and its JSON, at a tiny size (figures are not asserted)."""

from __future__ import annotations

import json
import shutil

import pytest

from ifrnet.bench import peak_memory
from ifrnet.cli import main


def test_bench_rows_for_each_backend_and_precision(tmp_path, exported_s, capsys):
    _, graph, _ = exported_s
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    # the bench seeds its models like seeded_model(), so this graph has the same weights
    shutil.copy(graph, graphs / "IFRNet_S.onnx")
    out = tmp_path / "bench.json"
    argv = ["bench", "--models", "ifrnet-s", "--sizes", "64x48", "80x40", "--device", "cpu", "--repeats", "2"]
    argv += ["--precisions", "fp32", "bf16", "--onnx-dir", str(graphs), "--no-uhd", "--json", str(out), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    rows = {(r["width"], r["height"], r["backend"], r["precision"]): r for r in data["rows"]}
    assert len(rows) == 2 * 5
    for w, h in ((64, 48), (80, 40)):
        eager = rows[(w, h, "torch eager", "fp32")]
        assert eager["speedup"] == 1.0 and eager["max_abs_diff"] == 0.0
        assert rows[(w, h, "torch", "fp32")]["max_abs_diff"] <= 1e-4
        assert rows[(w, h, "torch channels_last", "fp32")]["max_abs_diff"] <= 1e-4
        assert rows[(w, h, "onnxruntime", "fp32")]["max_abs_diff"] <= 1e-4
        assert 0 < rows[(w, h, "torch", "bf16")]["max_abs_diff"] < 0.1
        for row in (r for k, r in rows.items() if k[:2] == (w, h)):
            assert row["ms"] > 0 and row["speedup"] == pytest.approx(eager["ms"] / row["ms"])
    assert "onnxruntime" in printed and "speed-up" in printed


def test_peak_memory_sees_an_allocation():
    import numpy as np
    import torch

    with peak_memory(torch.device("cpu")) as peak:
        block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched
        del block
    assert peak[0] > 48
