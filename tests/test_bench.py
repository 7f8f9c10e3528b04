"""``ifrnet bench``, the one speed tool: the side-by-side rows and their JSON, the paper's table
(``--paper``, ``ifrnet eval --speed``, ``benchmarks/speed.py``), at tiny sizes (timings are not
asserted, only that they are there and consistent)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time

import pytest
import torch

from ifrnet import bench as bench_module
from ifrnet.bench import configurations, count_conv_flops, format_table, peak_memory
from ifrnet.cli import main
from ifrnet.devices import native_bf16

from .conftest import REPO


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
    # eager, torch fp32 / channels_last / bf16, onnxruntime, and OpenVINO fp32 where it is installed
    # (its bf16 only on a CPU that has it natively)
    openvino = importlib.util.find_spec("openvino") is not None
    assert len(rows) == 2 * (5 + openvino + (openvino and native_bf16("cpu")))
    for w, h in ((64, 48), (80, 40)):
        eager = rows[(w, h, "torch eager", "fp32")]
        assert eager["speedup"] == 1.0 and eager["max_abs_diff"] == 0.0
        assert rows[(w, h, "torch", "fp32")]["max_abs_diff"] <= 1e-4
        assert rows[(w, h, "torch channels_last", "fp32")]["max_abs_diff"] <= 1e-4
        # the onnxruntime row runs through the Engine interface, on the same frames and weights
        assert rows[(w, h, "onnxruntime", "fp32")]["max_abs_diff"] <= 1e-4
        if openvino:
            assert rows[(w, h, "openvino", "fp32")]["max_abs_diff"] <= 1e-4
        assert 0 < rows[(w, h, "torch", "bf16")]["max_abs_diff"] < 0.1
        for row in (r for k, r in rows.items() if k[:2] == (w, h)):
            assert row["ms"] > 0 and row["speedup"] == pytest.approx(eager["ms"] / row["ms"])
    assert "onnxruntime" in printed and "speed-up" in printed


def test_paper_table_is_the_eager_rows_with_params_and_flops(tmp_path, capsys):
    out = tmp_path / "paper.json"
    argv = ["bench", "--paper", "--models", "IFRNet_S", "ifrnet", "--sizes", "64x48", "128x96", "--device", "cpu"]
    argv += ["--repeats", "1", "--warmup", "0", "--json", str(out), "-q"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("device: ") and "median of 1 runs" in lines[0]
    header = "variant params (M) GFLOPs 64x48 GFLOPs 128x96 ms 64x48 ms 128x96"
    assert lines[1].split() == header.split()
    table = {line.split()[0]: line.split()[1:] for line in lines[3:5]}
    assert lines[5] == f"wrote {out}"
    assert list(table) == ["IFRNet_S", "IFRNet"]
    assert float(table["IFRNet_S"][0]) == 2.8 and float(table["IFRNet"][0]) == 4.96
    for cells in table.values():
        small, large = float(cells[1]), float(cells[2])
        assert large == pytest.approx(4 * small, rel=0.05)  # convolutions: linear in the pixel count
    # only the eager baseline is timed, and its ms are what the table shows
    rows = json.loads(out.read_text())["rows"]
    assert {r["backend"] for r in rows} == {"torch eager"} and len(rows) == 4
    for r in rows:
        column = 3 if r["width"] == 64 else 4
        assert table[r["model"]][column] == f"{r['ms']:.1f}"


def test_paper_refuses_what_it_would_not_time(capsys):
    assert main(["bench", "--paper", "--precisions", "bf16", "--device", "cpu"]) == 1
    assert "--paper times only the eager" in capsys.readouterr().err


def test_eval_speed_is_bench_paper_for_every_variant(monkeypatch, capsys):
    # The paper's sizes take minutes on this CPU; the table is the same code at any size.
    monkeypatch.setattr(bench_module, "PAPER_SIZES", ((64, 48),))
    assert main(["eval", "--speed", "--device", "cpu", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-2:] == ["ms", "64x48"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("IFRNet")}
    assert list(rows) == ["IFRNet", "IFRNet_L", "IFRNet_S"]
    assert {name: float(cells[0]) for name, cells in rows.items()} == {
        "IFRNet": 4.96,
        "IFRNet_L": 19.7,
        "IFRNet_S": 2.8,
    }
    assert float(rows["IFRNet_L"][1]) > float(rows["IFRNet"][1]) > float(rows["IFRNet_S"][1]) > 0
    assert all(float(cells[2]) > 0 for cells in rows.values())


def test_speed_script_is_bench_paper():
    script = REPO / "benchmarks" / "speed.py"
    argv = ["--models", "IFRNet_S", "--device", "cpu", "--repeats", "1", "--warmup", "0", "--sizes", "64x48", "-q"]
    proc = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, check=True)
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("IFRNet")]
    assert [r[0] for r in rows] == ["IFRNet_S"]
    assert float(rows[0][1]) == 2.8 and float(rows[0][-1]) > 0


def test_bf16_rows_by_default_only_where_native(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(bench_module, "native_bf16", lambda device: False)
    assert [(c.label, c.precision) for c in configurations(cpu)] == [("torch", "fp32"), ("torch channels_last", "fp32")]
    monkeypatch.setattr(bench_module, "native_bf16", lambda device: True)
    assert ("torch", "bf16") in [(c.label, c.precision) for c in configurations(cpu)]
    # asked for explicitly, bf16 is measured anyway; fp16 never on a CPU
    assert [c.precision for c in configurations(cpu, ["fp16", "bf16"])] == ["bf16"]
    assert configurations(cpu, []) == []


def test_cost_helpers():
    assert count_conv_flops("IFRNet_S", 128, 96) == 4 * count_conv_flops("IFRNet_S", 64, 48) > 0
    assert format_table(["name", "n"], [["a", 1], ["bbb", 22]]).splitlines() == [
        "name   n",
        "----  --",
        "a      1",
        "bbb   22",
    ]


def test_peak_memory_sees_an_allocation():
    import mmap

    import numpy as np

    with peak_memory(torch.device("cpu")) as peak:
        # a fresh anonymous mapping, not np.ones: malloc may hand back pages an earlier test freed
        # and that are still resident, and then the resident set does not grow at all (CI saw a
        # peak of one page once, in a whole-suite run); a new mapping must be faulted in page by page
        block = mmap.mmap(-1, 64 * 2**20)
        np.frombuffer(block, dtype=np.uint8)[:] = 1  # touch every page
        # held for many sampling periods: numpy fills it holding the GIL, so the sampler thread
        # can only look once the fill is done
        time.sleep(0.3)
        block.close()  # unmapped: the resident set falls back, so only the sampler can have seen it
    assert peak[0] > 48
