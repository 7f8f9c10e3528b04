"""``ifrnet video - -o -``: YUV4MPEG2 in on standard input, out on standard output, in constant memory.

The two ends of each pipe are ``tests/pipes.py`` (PyAV, as ``ffmpeg ... -f yuv4mpegpipe -`` and
``ffmpeg -i - ...`` would be: these machines have FFmpeg's libraries but no ffmpeg program), run as
separate processes joined by real pipes; ``ifrnet`` runs the seeded IFRNet_S graph on onnxruntime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ifrnet.cli import main

from .conftest import REPO
from .videos import SHARED_DATA

CLIP = SHARED_DATA / "opencv_vtest.avi"  # 10 fps, real footage
PIPES = [sys.executable, str(REPO / "tests" / "pipes.py")]
# ifrnet in a child, reporting its own peak memory (kB) on its last stderr line
IFRNET = [
    sys.executable,
    "-c",
    "import resource, sys\n"
    "from ifrnet.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(status)",
]

pytestmark = pytest.mark.skipif(not CLIP.is_file(), reason=f"{CLIP} not found (../shared/data)")


def produce(seconds: float, size: tuple[int, int], pix_fmt: str, field_order: int = 0) -> list[str]:
    return [*PIPES, "produce", str(CLIP), str(seconds), str(size[0]), str(size[1]), pix_fmt, str(field_order)]


def pipeline(
    graph: Path, seconds: float, size: tuple[int, int], pix_fmt: str, *extra: str, field_order: int = 0
) -> tuple[dict, str]:
    """producer | ifrnet video - -o - | consumer: what the consumer saw, and ifrnet's stderr."""
    producer = subprocess.Popen(produce(seconds, size, pix_fmt, field_order), stdout=subprocess.PIPE)
    ifrnet = subprocess.Popen(
        [*IFRNET, "video", "-", "-o", "-", "--backend", "onnxruntime", "--checkpoint", str(graph), *extra],
        stdin=producer.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=False,
    )
    producer.stdout.close()  # ifrnet holds the read end now
    consumer = subprocess.Popen([*PIPES, "consume"], stdin=ifrnet.stdout, stdout=subprocess.PIPE)
    ifrnet.stdout.close()
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(ifrnet.stderr.read()))
    reader.start()
    seen, _ = consumer.communicate(timeout=600)
    reader.join()
    assert ifrnet.wait(timeout=60) == 0, errors[0].decode()
    assert producer.wait(timeout=60) == 0
    assert consumer.returncode == 0
    return json.loads(seen), errors[0].decode()


def source_frames(seconds: float, size: tuple[int, int], pix_fmt: str) -> dict:
    """What the consumer sees of the producer's stream itself."""
    producer = subprocess.Popen(produce(seconds, size, pix_fmt), stdout=subprocess.PIPE)
    consumer = subprocess.run([*PIPES, "consume"], stdin=producer.stdout, capture_output=True, check=True)
    producer.stdout.close()
    assert producer.wait(timeout=60) == 0
    return json.loads(consumer.stdout)


def peak_kb(stderr: str) -> int:
    return int(stderr.strip().splitlines()[-1].split()[1])


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_y4m_through_a_pipe_keeps_format_count_and_source_frames(exported_s, pix_fmt):
    """8- and 10-bit: twice the frames at twice the rate, in the source's pixel format, and every
    source frame passed through bit for bit (even output frames)."""
    _, graph, _ = exported_s
    source = source_frames(2, (128, 96), pix_fmt)
    seen, stderr = pipeline(graph, 2, (128, 96), pix_fmt, "--factor", "2")
    assert (seen["pix_fmt"], seen["size"], seen["rate"]) == (pix_fmt, [128, 96], "20")
    assert len(source["frames"]) == 20
    assert len(seen["frames"]) == 2 * len(source["frames"])
    assert seen["frames"][::2] == source["frames"]
    assert len(set(seen["frames"][1::2]) - set(source["frames"])) == len(source["frames"]) - 1  # all new but the last
    assert "output: <stdout>" in stderr and "40 frames" in stderr  # the report went to stderr, not into the video


def test_y4m_field_order_is_read_and_kept(exported_s):
    """A top-field-first stream (header ``It``): the user is told it is interlaced, and the output
    says so too (its source frames are still interlaced); with --deinterlace it is progressive."""
    _, graph, _ = exported_s
    seen, stderr = pipeline(graph, 0.5, (64, 48), "yuv420p", "--factor", "2", field_order=2)
    assert seen["field_order"] == 2 and "interlaced (top field first)" in stderr
    seen, stderr = pipeline(graph, 0.5, (64, 48), "yuv420p", "--factor", "2", "--deinterlace", field_order=2)
    assert seen["field_order"] == 1 and len(seen["frames"]) == 10


def test_y4m_pipe_memory_is_flat_in_the_length(exported_s):
    """Peak memory of ifrnet for a 5 s and a 30 s input (10 fps, 160x96): the same give or take
    what a process's peak varies by (0.2 MB here). Keeping every source frame would cost 69 kB a
    frame (RGB and the decoded YUV), 17 MB more for the longer input, new frames as much again."""
    _, graph, _ = exported_s
    short, err_short = pipeline(graph, 5, (160, 96), "yuv420p", "--factor", "2", "-q")
    long, err_long = pipeline(graph, 30, (160, 96), "yuv420p", "--factor", "2", "-q")
    assert (len(short["frames"]), len(long["frames"])) == (100, 600)
    grown = peak_kb(err_long) - peak_kb(err_short)
    assert grown < 8_000, f"peak memory grew by {grown} kB from a 5 s to a 30 s input"


def test_named_pipe_input_and_output(exported_s, tmp_path):
    """A named pipe in (--input-format y4m, as for a FIFO that FFmpeg fills) and one out, which exists
    before the run and is written in place without --overwrite."""
    _, graph, _ = exported_s
    fifo_in, fifo_out = tmp_path / "in.y4m", tmp_path / "out.y4m"
    os.mkfifo(fifo_in)
    os.mkfifo(fifo_out)
    with open(os.devnull, "wb") as null:
        writer = subprocess.Popen(f"{' '.join(produce(1, (64, 48), 'yuv444p'))} > {fifo_in}", shell=True, stderr=null)
    reader = subprocess.Popen(f"{' '.join([*PIPES, 'consume'])} < {fifo_out}", shell=True, stdout=subprocess.PIPE)
    args = ["video", str(fifo_in), "--input-format", "y4m", "-o", str(fifo_out), "--factor", "3", "-q"]
    assert main([*args, "--backend", "onnxruntime", "--checkpoint", str(graph)]) == 0
    seen = json.loads(reader.communicate(timeout=60)[0])
    assert writer.wait(timeout=60) == 0
    assert (seen["pix_fmt"], len(seen["frames"]), seen["rate"]) == ("yuv444p", 30, "30")


def test_pipe_refusals(tmp_path, capsys):
    """Raw frames only in y4m; a muxer FFmpeg lacks; standard input that is not video: one line each."""
    src = tmp_path / "in.y4m"
    with open(src, "wb") as out:
        subprocess.run(produce(0.3, (64, 48), "yuv420p"), stdout=out, check=True)
    assert main(["video", str(src), "-o", str(tmp_path / "o.y4m"), "--codec", "libx264"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'o.y4m'}: YUV4MPEG2 holds raw frames" in err and ".partial" not in err
    assert main(["video", str(src), "-o", str(tmp_path / "o.bin"), "--output-format", "nonesuch"]) == 1
    assert "--output-format nonesuch: FFmpeg has no such muxer" in capsys.readouterr().err
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".o.*"))
    child = subprocess.run(
        [sys.executable, "-m", "ifrnet", "video", "-", "-o", str(tmp_path / "x.mkv")],
        input=b"this is not a video stream\n" * 100,
        capture_output=True,
    )
    lines = child.stderr.decode().strip().splitlines()
    assert child.returncode == 1 and len(lines) == 1 and lines[0].startswith("ifrnet: error: <stdin>: not a readable")
    assert not list(tmp_path.glob("*x.*"))


def test_stdout_that_is_a_terminal_is_refused(tmp_path, monkeypatch, capsys):
    import ifrnet.video.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module.os, "isatty", lambda fd: fd == 1)
    assert main(["video", str(CLIP), "-o", "-"]) == 1
    assert "standard output is a terminal" in capsys.readouterr().err


def test_y4m_file_from_rgb_source_takes_the_nearest_yuv(exported_s, tmp_path, capsys):
    """An RGB source into YUV4MPEG2 (a .y4m file, through a temporary name like any file): 4:4:4 at
    the same depth, named in a notice; an RGB --pix-fmt, which the header cannot name, refused."""
    from .videos import moving_frames, write_clip

    _, graph, _ = exported_s
    src = write_clip(tmp_path / "rgb.mkv", moving_frames(4), pix_fmt="bgr0")
    out = tmp_path / "out.y4m"
    engine = ["--backend", "onnxruntime", "--checkpoint", str(graph)]
    assert main(["video", str(src), "-o", str(out), "-q", *engine]) == 0
    assert "YUV4MPEG2 cannot write the source's bgr0; writing yuv444p" in capsys.readouterr().err
    with open(out, "rb") as fh:
        assert fh.readline().startswith(b"YUV4MPEG2 W64 H48 F50:1 ")
    assert not list(tmp_path.glob(".out.*"))
    assert main(["video", str(src), "-o", str(tmp_path / "rgb.y4m"), "--pix-fmt", "rgb24", *engine]) == 1
    assert "YUV4MPEG2 cannot write pixel format rgb24" in capsys.readouterr().err
