"""Long jobs: chunked and resumed runs equal one process, on this machine and on a real local Ray
cluster; faults (a killed worker, a killed driver, a damaged chunk) survived; batches of files."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ifrnet.cli import main
from ifrnet.jobs import JobOptions, run_video_job
from ifrnet.jobs.work import work_folder_of
from ifrnet.spec import EngineSpec
from ifrnet.video import VideoOptions, interpolate_video
from ifrnet.video.chunks import plan_video

from .videos import add_ass_subtitles, audio_packets, moving_frames, write_clip

RATE = Fraction(24000, 1001)
CUT = 24  # the first frame of the second shot
TWOS = range(41, 78, 2)  # on twos from here: frame n + 1 repeats drawing n


def _episode_frames() -> list[np.ndarray]:
    first = moving_frames(CUT, 48, 64, seed=0)
    second = [np.ascontiguousarray(f[::-1, ::-1]) for f in moving_frames(80 - CUT, 48, 64, seed=7, speed=3)]
    frames = first + second
    for n in TWOS:
        frames[n + 1] = frames[n].copy()
    return frames


@pytest.fixture(scope="module")
def episode(tmp_path_factory) -> Path:
    """80 frames at 23.976 fps with a cut at frame 24 and drawings held on twos from frame 41,
    AAC audio and ASS subtitles whose cues straddle the chunk boundaries of 1 s chunks."""
    path = tmp_path_factory.mktemp("episode") / "episode.mkv"

    def subtitles(out, video):
        add_ass_subtitles(out, [(500, 1000, "Across one boundary"), (1900, 1300, "And the next")])

    return write_clip(path, _episode_frames(), rate=RATE, audio_seconds=3.4, setup=subtitles)


OPTIONS = VideoOptions(fps=Fraction(60000, 1001), codec="ffv1", dedup=True)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    import torch

    from .conftest import seeded_model

    path = tmp_path_factory.mktemp("weights") / "IFRNet_S_test.pth"
    torch.save(seeded_model("IFRNet_S").state_dict(), path)
    spec = EngineSpec(backend="torch", checkpoint=str(path), threads=1)
    built = spec.build()
    yield spec, built
    built.close()


@pytest.fixture(scope="module")
def single(episode, engine, tmp_path_factory) -> Path:
    """The episode in one process (1 thread, as each Ray worker below)."""
    out = tmp_path_factory.mktemp("single") / "single.mkv"
    interpolate_video(episode, out, engine[1], OPTIONS)
    return out


def _decoded(path: Path) -> tuple[list[int], list[bytes], Fraction]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [(f.pts, f.to_ndarray(format="rgb24").tobytes()) for f in c.decode(stream)]
        return [p for p, _ in frames], [b for _, b in frames], stream.time_base


def _subtitles(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(c.streams.subtitles[0]) if p.size]


def _assert_same(one: Path, other: Path, pixels: bool = True) -> None:
    pts_a, frames_a, tb_a = _decoded(one)
    pts_b, frames_b, tb_b = _decoded(other)
    assert len(frames_a) == len(frames_b) > 0
    assert [p * tb_a for p in pts_a] == [p * tb_b for p in pts_b]
    if pixels:
        assert frames_a == frames_b
    assert audio_packets(one) == audio_packets(other)
    if other.suffix == ".mkv":
        assert _subtitles(one) == _subtitles(other)


def test_chunk_boundaries_fall_at_the_cut_inside_held_drawings_and_off_the_output_grid(episode):
    """The clip the equality tests use puts what must not change at the 1 s chunk boundaries."""
    plan = plan_video(episode, "out.mkv", OPTIONS)
    chunks = plan.chunks(1)
    starts = [c.first_frame for c in chunks]
    assert starts == [0, CUT, 49, 73]
    assert plan.summary.cuts == 1 and plan.summary.held == len(TWOS)
    # 1 s after frame 24 is frame 48, a held copy of drawing 47: the boundary goes to the next
    # drawing, and the chunk before keeps the held drawing whole
    assert 47 in TWOS and plan.times[47] - plan.times[CUT] < 1 <= plan.times[48] - plan.times[CUT]
    # 2.5 output frames per source frame: odd frames are off the output grid, so the chunks that
    # start there start with a frame the network makes
    assert [c.segments[0].steps[0].t != 0 for c in chunks[1:]] == [False, True, True]
    assert sum(c.frames_out for c in chunks) == plan.summary.frames_out


def test_chunked_run_equals_one_process(episode, engine, single, tmp_path, capsys):
    out = tmp_path / "chunked.mkv"
    argv = ["video", str(episode), "-o", str(out), "--fps", "60000/1001", "--codec", "ffv1", "--dedup"]
    argv += ["--backend", "torch", "--checkpoint", engine[0].checkpoint, "--threads", "1", "--chunk-seconds", "1"]
    code = main([*argv, "--progress", "none"])
    report = capsys.readouterr().out
    assert code == 0
    assert "chunks: 4 (0 reused)" in report
    _assert_same(single, out)
    assert not work_folder_of(out).exists()  # removed after a complete run


def test_chunked_x264_keeps_count_and_pts(episode, engine, tmp_path):
    options = VideoOptions(fps=Fraction(60000, 1001), codec="libx264", dedup=True)
    one, chunked = tmp_path / "one.mp4", tmp_path / "chunked.mp4"
    interpolate_video(episode, one, engine[1], options)
    from ifrnet.jobs import LocalExecutor

    summary = run_video_job(episode, chunked, LocalExecutor(engine[1]), options, JobOptions(chunk_seconds=1))
    assert summary.chunks == 4
    _assert_same(one, chunked, pixels=False)


def test_a_damaged_chunk_is_redone_and_a_full_run_reused(episode, engine, single, tmp_path):
    from ifrnet.jobs import LocalExecutor

    out = tmp_path / "out.mkv"
    executor = LocalExecutor(engine[1])
    run_video_job(episode, out, executor, OPTIONS, JobOptions(chunk_seconds=1, keep_work=True))
    work = work_folder_of(out)
    chunk = sorted(work.glob("chunk-*.nut"))[2]
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])  # a writer killed half-way
    again = VideoOptions(**{**OPTIONS.__dict__, "overwrite": True})
    summary = run_video_job(episode, out, executor, again, JobOptions(chunk_seconds=1, resume=True))
    assert f"chunks: {summary.chunks} (3 reused)" in summary.lines()
    _assert_same(single, out)
    assert not work.exists()


def test_work_folders_of_other_jobs_are_refused(episode, engine, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    base = ["video", str(episode), "-o", str(out), "--fps", "60000/1001", "--codec", "ffv1", "--quiet"]
    base += ["--backend", "torch", "--checkpoint", engine[0].checkpoint, "--threads", "1", "--chunk-seconds", "1"]
    assert main([*base, "--keep-work"]) == 0
    out.unlink()
    capsys.readouterr()
    # a stale work folder, without --resume
    assert main(base) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pass --resume to finish it or --overwrite to start over" in err
    # other options: one line naming the option
    assert main([*base, "--resume", "--dedup"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "made by another job (options.dedup: false -> true)" in err
    # --overwrite starts over
    assert main([*base, "--overwrite", "--dedup"]) == 0 and out.exists()


def test_what_a_chunked_job_cannot_do_is_refused_before_work(episode, tmp_path, capsys):
    cases = [
        (["-o", str(tmp_path / "out.avi")], "avi shows frames at a constant rate"),
        (["-o", f"{tmp_path}/frames/"], "a chunked job writes a video file"),
        (["-o", str(tmp_path / "o.mkv"), "--chunk-seconds", "0"], "--chunk-seconds must be positive"),
        # Ray would retry an address where nothing answers for minutes, printing a line a second
        (
            ["-o", str(tmp_path / "o.mkv"), "--executor", "ray", "--ray-address", f"127.0.0.1:{_free_port()}"],
            "nothing answers there",
        ),
        (["-o", str(tmp_path / "o.mkv"), "--executor", "ray", "--ray-address", "headnode"], "expected HOST:PORT"),
    ]
    for argv, message in cases:
        assert main(["video", str(episode), "--chunk-seconds", "1", *argv, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_command(episode: Path, out: Path, checkpoint: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ifrnet",
        "video",
        str(episode),
        "-o",
        str(out),
        "--fps",
        "60000/1001",
        "--codec",
        "ffv1",
        "--dedup",
        "--backend",
        "torch",
        "--checkpoint",
        checkpoint,
        "--threads",
        "1",
        *extra,
    ]


# on Ray, most of the time is Ray's agents outliving the killed driver: each tries for 60 s to tell
# the dead GCS that its raylet died (ray._private.utils.publish_error_to_driver) before it exits
@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_driver_killed_part_way_resumes_only_the_unfinished_chunks(episode, engine, tmp_path, executor):
    """SIGKILL (no clean-up at all) once a chunk is recorded; --resume redoes only the others. On
    Ray, the instance the killed driver started goes with it."""
    psutil = pytest.importorskip("psutil")
    single = tmp_path / "single.mkv"
    interpolate_video(episode, single, engine[1], OPTIONS)
    out = tmp_path / "out.mkv"
    chunking = ("--chunk-seconds", "0.25", "--executor", executor)  # a fraction of a second each
    if executor == "ray":
        chunking += ("--ray-workers", "2")
    total = len(plan_video(episode, out, OPTIONS).chunks(0.25))
    proc = subprocess.Popen(_cli_command(episode, out, engine[0].checkpoint, *chunking, "-q"))
    manifest = work_folder_of(out) / "manifest.json"
    deadline = time.time() + 120
    done: dict = {}
    while time.time() < deadline and proc.poll() is None:
        try:
            done = json.loads(manifest.read_text())["chunks"]
        except (OSError, ValueError, KeyError):
            done = {}
        if done:
            break
        time.sleep(0.01)
    children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    recorded = len(json.loads(manifest.read_text())["chunks"])  # what the killed driver finished
    assert 1 <= recorded < total and not out.exists()
    # raylet and GCS go with the driver; Ray's dashboard and runtime-env agents see the raylet's pipe
    # close at once, then give up on the dead GCS after 60 s
    gone_by = time.time() + 150
    while time.time() < gone_by and [c for c in children if _alive(c)]:
        time.sleep(0.2)
    assert [c.pid for c in children if _alive(c)] == []
    result = subprocess.run(
        _cli_command(episode, out, engine[0].checkpoint, *chunking, "--resume", "--progress", "none"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"chunks: {total} ({recorded} reused)" in result.stdout
    _assert_same(single, out)


# -- Ray: a real local cluster, loopback only --


def _alive(process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening(processes) -> list[tuple[int, str]]:
    import psutil

    found = []
    for proc in processes:
        try:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append((proc.pid, conn.laddr.ip))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _is_loopback(ip: str) -> bool:
    import ipaddress

    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_ray_chunks_equal_one_process_and_listen_on_loopback_only(episode, engine, single, tmp_path):
    psutil = pytest.importorskip("psutil")
    from ifrnet.jobs.ray_cluster import RayExecutor

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    executor = RayExecutor(engine[0], workers=2, threads=1, num_cpus=2)
    try:
        ray_processes = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        out = tmp_path / "ray.mkv"
        summary = run_video_job(episode, out, executor, OPTIONS, JobOptions(chunk_seconds=1))
        listening = _listening([*ray_processes, psutil.Process()])
        assert listening, "found no listening socket of the Ray instance"
        assert [x for x in listening if not _is_loopback(x[1])] == []
        assert summary.chunks == 4 and "2 Ray worker(s)" in summary.engine
    finally:
        executor.close()
    _assert_same(single, out)
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(p) for p in ray_processes):
        time.sleep(0.2)
    assert [p.pid for p in ray_processes if _alive(p)] == []


def test_a_ray_worker_killed_mid_chunk_is_replaced_and_the_result_unchanged(episode, engine, single, tmp_path):
    pytest.importorskip("psutil")
    from ifrnet.jobs.ray_cluster import RayExecutor
    from ifrnet.video.pipeline import Progress

    executor = RayExecutor(engine[0], workers=2, threads=1, num_cpus=2)
    pids = executor.pids()
    killed: list[int] = []

    class KillOnFirstChunk(Progress):
        def update(self, n: int = 1) -> None:
            if n and not killed:  # the first chunk is back: the other worker is busy with its own
                victim = pids[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

    try:
        out = tmp_path / "ray.mkv"
        run_video_job(
            episode, out, executor, OPTIONS, JobOptions(chunk_seconds=0.5), progress=lambda total: KillOnFirstChunk()
        )
        after = executor.pids()
    finally:
        executor.close()
    assert killed and killed[0] not in after  # Ray restarted the actor in a new process
    _assert_same(single, out)


# -- batch --


def test_batch_mirrors_the_tree_names_the_corrupt_file_and_skips_done_outputs(episode, engine, tmp_path, capsys):
    tree = tmp_path / "season"
    (tree / "disc1").mkdir(parents=True)
    short = write_clip(tree / "disc1" / "ep1.mkv", moving_frames(8), rate=RATE)
    (tree / "disc1" / "ep2.mkv").write_bytes(short.read_bytes())
    (tree / "broken.mp4").write_bytes(os.urandom(4096))
    (tree / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    argv = ["batch", str(tree), "-o", str(out), "--codec", "ffv1", "--backend", "torch"]
    argv += ["--checkpoint", engine[0].checkpoint, "--threads", "1", "--progress", "none"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and str(tree / "broken.mp4") in errors[0] and "Traceback" not in captured.err
    assert f"{tree / 'notes.txt'}: skipped (not a video file)" in captured.err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["disc1/ep1.mkv", "disc1/ep2.mkv"]
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.mkv")}
    assert re.search(r"3 file\(s\): 2 done, 0 already complete, 1 failed", captured.out)
    time.sleep(0.05)
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mkv")} == stamps
    assert "0 done, 2 already complete, 1 failed" in captured.out


def test_batch_writes_matroska_for_containers_a_chunk_cannot_stamp(engine, tmp_path, capsys):
    tree = tmp_path / "tapes"
    (tree / "alone").mkdir(parents=True)
    (tree / "pair").mkdir()
    write_clip(tree / "alone" / "ep.avi", moving_frames(4), rate=RATE)
    write_clip(tree / "pair" / "ep.avi", moving_frames(4), rate=RATE)
    write_clip(tree / "pair" / "ep.mkv", moving_frames(4), rate=RATE)
    out = tmp_path / "out"
    argv = ["batch", str(tree), "-o", str(out), "--codec", "ffv1", "--backend", "torch"]
    argv += ["--checkpoint", engine[0].checkpoint, "--threads", "1", "--progress", "none"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["alone/ep.mkv", "pair/ep.mkv"]
    assert f"{tree / 'alone' / 'ep.avi'}: written as ep.mkv, since a chunked job cannot write .avi" in captured.err
    # pair/ep.mkv keeps its own name; pair/ep.avi, which would have written it too, fails before any work
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert errors == [
        f"ifrnet: error: {tree / 'pair' / 'ep.avi'}: its output {out / 'pair' / 'ep.mkv'} is also the output of "
        f"{tree / 'pair' / 'ep.mkv'}; rename one, or give --container"
    ]
    assert "3 file(s): 2 done, 0 already complete, 1 failed" in captured.out
    decoded = [len(list(av.open(str(p)).decode(video=0))) for p in sorted(out.rglob("*.mkv"))]
    assert decoded == [2 * 4] * 2  # as one run of each gives


def test_batch_output_names_follow_the_container_rules(tmp_path):
    from ifrnet.jobs.batch import output_path

    rel = Path("disc1") / "ep.avi"
    assert output_path(rel, tmp_path, None) == tmp_path / "disc1" / "ep.mkv"  # AVI: no per-frame stamps
    assert output_path(Path("ep.mov"), tmp_path, None) == tmp_path / "ep.mov"
    assert output_path(Path("ep.wmv"), tmp_path, None) == tmp_path / "ep.mkv"  # no muxer for the extension
    assert output_path(rel, tmp_path, "mp4") == tmp_path / "disc1" / "ep.mp4"
    assert output_path(rel, tmp_path, None, "nut") == tmp_path / "disc1" / "ep.avi"  # the muxer was named
