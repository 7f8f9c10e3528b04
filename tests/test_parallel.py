"""Parallel video workers: the same output as one process, errors from a worker as one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ifrnet import InputError, Interpolator
from ifrnet.cli import main
from ifrnet.spec import EngineSpec
from ifrnet.video import VideoOptions, interpolate_video
from ifrnet.video.parallel import WorkerPool, parse_devices
from ifrnet.weights import load_model

from .videos import read_clip, real_frames, write_clip

LOSSLESS = {"codec": "ffv1", "pix_fmt": "bgr0"}


def test_two_workers_write_the_single_process_video_frame_for_frame(tmp_path, checkpoint_s):
    # real footage with a scene cut in the middle, and three times per pair (t = 1/3, 2/3)
    frames = real_frames("opencv_vtest.avi", 6, (96, 72)) + real_frames("visp_castel.mkv", 5, (96, 72))
    src = write_clip(tmp_path / "clip.mkv", frames)
    options = VideoOptions(factor=3, **LOSSLESS)
    # the single process at the workers' thread count (the cores split between two): on AVX-512
    # CPUs, PyTorch's convolutions give other last bits with another count
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    single = interpolate_video(
        src, tmp_path / "one.mkv", Interpolator(load_model(None, str(checkpoint_s), "cpu")), options
    )
    with WorkerPool(EngineSpec(checkpoint=str(checkpoint_s), device="cpu"), ["cpu", "cpu"]) as pool:
        parallel = interpolate_video(src, tmp_path / "two.mkv", pool, options)
        assert all(done > 0 for done in pool.completed), pool.completed  # both processes did real work
        assert sum(pool.completed) == 9  # one model batch per pair within a shot: 5 + 4
    assert single.cuts == parallel.cuts == 1
    one, times_one, _ = read_clip(tmp_path / "one.mkv")
    two, times_two, _ = read_clip(tmp_path / "two.mkv")
    assert len(one) == len(two) == 33 and times_one == times_two
    for index, (a, b) in enumerate(zip(one, two, strict=True)):
        assert np.array_equal(a, b), f"frame {index} differs"
    assert "2 worker processes" in parallel.lines()[-1]


def test_a_failing_worker_is_one_line_and_leaves_no_output(tmp_path, capsys):
    src = write_clip(tmp_path / "clip.mkv", real_frames("opencv_vtest.avi", 3, (64, 48)))
    out = tmp_path / "out.mkv"
    code = main(["video", str(src), "-o", str(out), "--workers", "2", "--checkpoint", str(tmp_path / "gone.pth"), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "gone.pth" in err, err
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--devices", "cpu,,cpu"], "comma-separated list"),
        (["--devices", "cpu,cpu", "--device", "cpu"], "either --device or --devices"),
        (["--devices", "cpu,cpu", "--workers", "3"], "--workers 3 disagrees with the 2 --devices"),
    ],
)
def test_inconsistent_worker_options_are_refused(tmp_path, capsys, checkpoint_s, argv, message):
    src = write_clip(tmp_path / "clip.mkv", real_frames("opencv_vtest.avi", 3, (64, 48)))
    code = main(["video", str(src), "-o", str(tmp_path / "o.mkv"), "--checkpoint", str(checkpoint_s), "-q", *argv])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and message in err, err


def test_parse_devices():
    assert parse_devices("cuda:0, cuda:1") == ["cuda:0", "cuda:1"]
    with pytest.raises(InputError, match="comma-separated"):
        parse_devices("")
