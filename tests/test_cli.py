"""The command line: the pair job end to end, and one-line errors for every kind of bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ifrnet.cli import main
from ifrnet.io import read_image

from .conftest import seeded_model, uint8_frame, zero_time_weights


def _one_line_error(capsys, argv, expected_fragment):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("ifrnet"), err
    assert expected_fragment in err, err
    return err


def test_pair_on_real_frames_writes_frames_gif_and_overlay(tmp_path, example_pair, checkpoint_s, capsys):
    a, b = example_pair
    out = tmp_path / "out"
    code = main(
        [
            "pair",
            str(a),
            str(b),
            "-o",
            str(out),
            "--factor",
            "4",
            "--checkpoint",
            str(checkpoint_s),
            "--gif",
            str(out / "seq.gif"),
            "--overlay",
            "--device",
            "cpu",
        ]
    )
    assert code == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.glob("frame_*.png"))
    assert names == ["frame_001_t0.2500.png", "frame_002_t0.5000.png", "frame_003_t0.7500.png"]
    frames = [read_image(out / n) for n in names]
    assert all(f.shape == (576, 768, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[2])
    with Image.open(out / "seq.gif") as gif:
        assert gif.n_frames == 5 and gif.size == (768, 576)
    overlay = read_image(out / "overlay.png")
    expected = (read_image(a).astype(int) + read_image(b).astype(int) + 1) // 2
    assert np.array_equal(overlay, expected)
    assert "wrote 3 frame(s)" in capsys.readouterr().out


def test_pair_with_times_and_bisection_weights(tmp_path, capsys):
    ckpt = tmp_path / "twox.pth"
    torch.save(zero_time_weights(seeded_model("IFRNet_S")).state_dict(), ckpt)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(uint8_frame(50, 70, 1)).save(a)
    Image.fromarray(uint8_frame(50, 70, 2)).save(b)
    assert (
        main(["pair", str(a), str(b), "-o", str(tmp_path / "o"), "--times", "0.75", "0.25", "--checkpoint", str(ckpt)])
        == 0
    )
    assert "recursive bisection" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["frame_001_t0.2500.png", "frame_002_t0.7500.png"]
    _one_line_error(
        capsys,
        ["pair", str(a), str(b), "-o", str(tmp_path / "o2"), "--times", "0.3", "--checkpoint", str(ckpt)],
        "t=0.3 cannot be reached",
    )
    assert not (tmp_path / "o2").exists()


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, checkpoint_s, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(uint8_frame(32, 32, 1)).save(a)
    Image.fromarray(uint8_frame(32, 32, 2)).save(b)
    args = ["pair", str(a), str(b), "-o", str(tmp_path / "o"), "--checkpoint", str(checkpoint_s)]
    assert main(args) == 0
    target = tmp_path / "o" / "frame_001_t0.5000.png"
    target.write_bytes(b"keep me")
    _one_line_error(capsys, args, "output exists; pass --overwrite")
    assert target.read_bytes() == b"keep me"
    assert main([*args, "--overwrite"]) == 0
    assert read_image(target).shape == (32, 32, 3)
    _one_line_error(capsys, [*args, "--overwrite", "--gif", str(a)], "would overwrite the input")


@pytest.fixture
def bad_inputs(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(uint8_frame(32, 48)).save(good)
    other = tmp_path / "other.png"
    Image.fromarray(uint8_frame(32, 64)).save(other)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG garbage")
    return good, other, corrupt


def test_bad_input_gives_one_line_errors(tmp_path, bad_inputs, checkpoint_s, capsys):
    good, other, corrupt = bad_inputs
    out = str(tmp_path / "out")
    ck = ["--checkpoint", str(checkpoint_s)]
    _one_line_error(
        capsys, ["pair", str(tmp_path / "missing.png"), str(good), "-o", out, *ck], "missing.png: no such file"
    )
    _one_line_error(capsys, ["pair", str(corrupt), str(good), "-o", out, *ck], "corrupt.png: not a readable image")
    _one_line_error(capsys, ["pair", str(good), str(other), "-o", out, *ck], "differs from")
    _one_line_error(capsys, ["pair", str(good), str(good), "-o", out, "--times", "1.5", *ck], "t=1.5 is outside (0, 1)")
    _one_line_error(capsys, ["pair", str(good), str(good), "-o", out, "--model", "IFRNet_XL", *ck], "unknown model")
    _one_line_error(
        capsys,
        ["pair", str(good), str(good), "-o", out, "--model", "IFRNet", *ck],
        "holds IFRNet_S weights, not IFRNet",
    )
    _one_line_error(capsys, ["pair", str(good), str(good), "-o", out, "--checkpoint", str(corrupt)], "not a readable")
    assert not (tmp_path / "out").exists()


def test_usage_errors_are_one_line_with_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pair", "a.png", "b.png", "-o", "x", "--factor", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--factor" in err


def test_missing_weights_say_where_to_put_them(tmp_path, bad_inputs, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IFRNET_CHECKPOINTS", raising=False)
    good = str(bad_inputs[0])
    _one_line_error(capsys, ["pair", good, good, "-o", "out", "--model", "IFRNet"], "checkpoints/IFRNet/")


def test_errors_from_the_installed_command_have_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ifrnet.cli", "pair", str(tmp_path / "x.png"), str(tmp_path / "y.png"), "-o", "o"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ifrnet: error: {tmp_path / 'x.png'}: no such file"


def test_info_prints_params_and_flops(capsys):
    assert main(["info", "--size", "448x256"]) == 0
    out = capsys.readouterr().out
    assert "IFRNet_S" in out and "2.80" in out and "19.70" in out
    # conv FLOPs scale with the pixel count: 448x256 is 1/8.04 of 1280x720
    assert main(["info", "--model", "ifrnet", "--size", "1280x720"]) == 0
    big = capsys.readouterr().out
    row = next(line for line in big.splitlines() if line.startswith("IFRNet "))
    assert 300 < float(row.split()[2]) < 400


def test_convert_command(tmp_path, checkpoint_s, capsys):
    dst = tmp_path / "w.safetensors"
    assert main(["convert", str(checkpoint_s), str(dst), "--fp16"]) == 0
    assert "IFRNet_S, fp16" in capsys.readouterr().out
    _one_line_error(capsys, ["convert", str(checkpoint_s), str(dst)], "output exists")
    avg = tmp_path / "avg.safetensors"
    assert main(["convert", str(checkpoint_s), str(dst), str(avg)]) == 0
    assert "IFRNet_S, average of 2" in capsys.readouterr().out
