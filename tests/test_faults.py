"""Faults injected into the real command line, in a subprocess: one line, an exit status, nothing lost.

Each case asserts the exit status, exactly one line on stderr and no traceback, that no output and no
temporary file is left, and that the inputs are byte for byte what they were. A full disk and a
read-only file system are real small tmpfs mounts where the test may mount one (root on Linux);
elsewhere the full disk is a faked ``OSError`` and the read-only case is skipped.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from .test_fidelity import encode
from .videos import moving_frames

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def cli(*args, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ifrnet.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)


def one_line(proc: subprocess.CompletedProcess, status: int, fragment: str) -> None:
    err = proc.stderr
    assert proc.returncode == status, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and err.count("\n") == 1, err[-2000:]
    assert fragment in err, err


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".partial" in p.name or p.name.startswith(".ifrnet"))


@pytest.fixture
def clip(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    return encode(src / "clip.mkv", moving_frames(30, height=96, width=128), rate=Fraction(10))


@pytest.fixture
def tmpfs(tmp_path):
    """A mount point factory: ``mount(options)`` mounts a small tmpfs, or skips where it cannot."""
    mounted = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], capture_output=True)


# -- bad requests: refused before any work --


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (["--fps", "1e9"], 1, "--fps must be between 0.1 and 1000"),
        (["--fps", "1e-9"], 1, "--fps must be between 0.1 and 1000"),
        (["--fps", "999"], 1, "more than 64 frames per source frame"),  # the clip is 10 fps
        (["--factor", "1000"], 1, "--factor must be an integer from 2 to 64"),
        (["--slowmo", "100"], 1, "--slowmo must be an integer from 2 to 64"),
        (["--batch", "0"], 1, "--batch must be an integer from 1 to 64"),
        (["--scene-threshold", "-5"], 1, "--scene-threshold must be between 1 and 100"),
        (["--dedup-tolerance", "-1"], 1, "--dedup-tolerance must be between 0 and 64"),
        (["--codec", "nosuchcodec"], 1, "unknown or unavailable video encoder"),
        (["--pix-fmt", "yuv420p", "--codec", "ffv1", "--cuts", "missing.txt"], 1, "cannot read the cut list"),
    ],
)
def test_bad_requests(tmp_path, clip, args, status, fragment):
    before = digest(clip.parent)
    out = tmp_path / "out" / "o.mkv"
    one_line(cli("video", clip, "-o", out, "--quiet", *args), status, fragment)
    assert not out.parent.exists() and digest(clip.parent) == before


def test_empty_and_truncated_inputs(tmp_path, clip):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    one_line(cli("video", empty, "-o", tmp_path / "o.mp4", "--quiet"), 1, "empty.mp4: not a readable video file")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[:600])  # the header and hardly a frame
    proc = cli("video", cut, "-o", tmp_path / "o.mkv", "--quiet")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert not leftovers(tmp_path)


# -- the output location --


def test_read_only_output_is_refused_before_work(tmp_path, clip, tmpfs):
    ro = tmpfs("ro,size=64k")
    for output in (ro / "o.mkv", ro / "frames" / "%04d.png", ro / "sub" / "o.mp4"):
        started = time.perf_counter()
        one_line(cli("video", clip, "-o", output, "--quiet"), 1, "Read-only file system")
        assert time.perf_counter() - started < 60
    assert list(ro.iterdir()) == []
    examples = Path(__file__).resolve().parents[1] / "examples"
    one_line(cli("pair", examples / "vtest_200.png", examples / "vtest_202.png", "-o", ro / "pair"), 1, "Read-only")


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, clip, tmpfs):
    full = tmpfs("size=96k")
    before = digest(clip.parent)
    for output in (full / "o.mkv", full / "frames" / "%04d.png"):
        proc = cli("video", clip, "-o", output, "--codec", "ffv1", "--quiet")
        one_line(proc, 1, "No space left on device")
        assert str(full) in proc.stderr and ".partial" not in proc.stderr  # the user's path, not a temporary one
        assert list(full.iterdir()) == [], list(full.iterdir())
    assert digest(clip.parent) == before


def test_a_fault_while_cleaning_up_does_not_hide_the_first(tmp_path, clip, capsys, monkeypatch):
    # where no tmpfs can be mounted: the same fault, faked in-process
    from ifrnet.cli import main
    from ifrnet.video import writer

    def no_space(self, frame, index, time=None):
        raise OSError(28, "No space left on device", str(self.path))

    def close_fails(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.VideoFileWriter, "write", no_space)
    monkeypatch.setattr(writer.VideoFileWriter, "abort", close_fails)
    code = main(["video", str(clip), "-o", str(tmp_path / "o.mkv"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err and "o.mkv" in err
    assert ".partial" not in err and not leftovers(tmp_path) and not (tmp_path / "o.mkv").exists()


# -- signals and workers --


def _start(args: list) -> subprocess.Popen:
    # faulthandler: a crash on the way out prints every thread's stack instead of a bare -11
    cmd = [sys.executable, "-X", "faulthandler", "-m", "ifrnet", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(predicate, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("form", ["file", "frames"])
def test_termination_signals_clean_up_like_ctrl_c(tmp_path, clip, sig, status, form):
    out_dir = tmp_path / "out"
    output = out_dir / "o.mkv" if form == "file" else out_dir / "frames" / "%04d.png"
    proc = _start(["video", clip, "-o", output, "--codec", "ffv1", "--quiet"])
    _wait_for(lambda: bool(leftovers(tmp_path)) or proc.poll() is not None)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.strip() == f"ifrnet: stopped by {signal.Signals(sig).name}"
    assert not out_dir.exists() or list(out_dir.iterdir()) == [], list(out_dir.rglob("*"))


@pytest.mark.parametrize("form", ["file", "frames"])
def test_what_a_killed_run_left_goes_with_the_next_run(tmp_path, clip, form):
    # SIGKILL runs no clean-up at all: the temporary output stays until a run of the same output
    # sees that its process is gone (one still running, or another machine's, is left alone)
    out_dir = tmp_path / "out"
    output = out_dir / "o.mkv" if form == "file" else out_dir / "frames" / "%04d.png"
    proc = _start(["video", clip, "-o", output, "--codec", "ffv1", "--quiet"])
    _wait_for(lambda: bool(leftovers(tmp_path)) or proc.poll() is not None)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in out_dir.iterdir()]
    assert len(left) == 1 and ".partial" in left[0]
    elsewhere = out_dir / left[0].replace(left[0].split(".")[2].rsplit("-", 2)[0], "otherhost", 1)
    (elsewhere.mkdir if form == "frames" else elsewhere.touch)()  # as seen in a shared folder
    done = subprocess.run([sys.executable, "-m", "ifrnet", "video", clip, "-o", output, "--codec", "ffv1", "--quiet"],
                          capture_output=True, text=True, env=ENV, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [output.name if form == "file" else "frames", elsewhere.name]
    )


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_killed_parent_leaves_no_workers(tmp_path):
    src = encode(tmp_path / "long.mkv", moving_frames(60, height=96, width=128))
    proc = _start(["video", src, "-o", tmp_path / "o.mkv", "--workers", "2", "--quiet"])
    workers: list[int] = []

    def two_workers() -> bool:
        # the spawn context's resource tracker is a child too; workers are the ones importing ifrnet
        workers[:] = [p for p in _children(proc.pid) if "ifrnet" in _cmdline(p) or "spawn_main" in _cmdline(p)]
        return len(workers) >= 2 or proc.poll() is not None

    _wait_for(two_workers)
    assert proc.poll() is None, proc.stderr.read()
    time.sleep(1.0)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), f"workers {workers} outlived their parent by 5 s"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- training state --


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of two saves (so a previous state exists), its data, and its files' bytes."""
    from .datasets import make_vimeo_triplets

    root = tmp_path_factory.mktemp("faults_train")
    data = make_vimeo_triplets(root / "v", n_train=4, n_test=1, with_flow=False)
    run = root / "run"
    common = ["--data", f"vimeo90k:{data}", "--out", run, "--model", "IFRNet_S", "--batch-size", "2", "--crop", "32"]
    common += ["--workers", "0", "--save-every", "1", "--device", "cpu", "--quiet"]
    proc = cli("train", *common, "--iterations", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run, common


def _copy_run(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


def test_crafted_training_state_never_runs(tmp_path, trained):
    run, common = trained
    copy = _copy_run(run, tmp_path / "run")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    state = copy / "training_state.pt"
    torch.save({"format": 2, "model_name": "IFRNet_S", "x": Payload()}, state)
    for path in (copy / "training_state.prev.pt",):
        path.unlink()
    args = [a if a != run else copy for a in common]
    one_line(cli("train", *args, "--iterations", "3", "--resume"), 1, "training_state.pt")
    assert not marker.exists()
    # even with a matching digest beside it (an attacker can write both), nothing runs
    (copy / "training_state.pt.sha256").write_text(hashlib.sha256(state.read_bytes()).hexdigest() + "\n")
    one_line(cli("train", *args, "--iterations", "3", "--resume"), 1, "unreadable training state")
    assert not marker.exists()


def test_damaged_training_state_falls_back_to_the_previous_one(tmp_path, trained):
    run, common = trained
    copy = _copy_run(run, tmp_path / "run")
    args = [a if a != run else copy for a in common]
    state = copy / "training_state.pt"
    data = bytearray(state.read_bytes())
    data[1000:6000] = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    state.write_bytes(bytes(data))
    kept = {name: (copy / name).read_bytes() for name in ("latest.pth", "training_state.prev.pt")}
    proc = cli("train", *args, "--iterations", "3", "--resume", "--log-every", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "damaged training state" in proc.stderr and "resuming from the previous state" in proc.stderr
    # without a previous state: one line, exit 1, and the files untouched
    lone = _copy_run(run, tmp_path / "lone")
    args = [a if a != run else lone for a in common]
    (lone / "training_state.prev.pt").unlink()
    (lone / "training_state.pt").write_bytes(bytes(data))
    before = digest(lone)
    one_line(cli("train", *args, "--iterations", "3", "--resume"), 1, "damaged training state")
    assert digest(lone) == before
    assert kept  # the fallback run above replaced them with new states: it continued


def test_undecodable_first_frames_are_noted(tmp_path):
    import av

    from ifrnet.video import open_source

    coded = encode(tmp_path / "gop.mp4", moving_frames(15), codec="libx264", options={"g": "5", "bf": "0"})
    cut = tmp_path / "no_first_key.mkv"
    with av.open(str(coded)) as c, av.open(str(cut), "w") as out:
        stream = out.add_stream_from_template(c.streams.video[0])
        for i, packet in enumerate(c.demux(c.streams.video[0])):
            if i == 0 or packet.dts is None:
                continue  # the first keyframe is lost: nothing decodes until the next one
            packet.stream = stream
            out.mux(packet)
    with open_source(cut) as reader:
        frames = list(reader.frames())
        warnings = reader.warnings
    assert len(frames) < 15
    assert any("damaged or missing first frames" in w for w in warnings), warnings


def test_checkpoint_in_a_newer_pickle_protocol_is_explained(tmp_path):
    from ifrnet import create_model

    path = tmp_path / "p4.pth"
    torch.save(create_model("IFRNet_S").state_dict(), path, pickle_protocol=4)
    examples = Path(__file__).resolve().parents[1] / "examples"
    proc = cli(
        "pair", examples / "vtest_200.png", examples / "vtest_202.png", "-o", tmp_path / "o", "--checkpoint", path
    )
    one_line(proc, 1, "written with pickle protocol 4")
    assert not (tmp_path / "o").exists()


def test_audio_a_container_refuses_is_dropped_with_a_notice(tmp_path):
    import av

    src = tmp_path / "opus.mkv"
    with av.open(str(src), "w") as out:
        video = out.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for i, image in enumerate(moving_frames(6)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        tone = (0.3 * np.sin(np.arange(48000 * 6 // 25) / 48000 * 2 * np.pi * 440)).astype(np.float32)
        for start in range(0, len(tone), 960):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 960], format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                out.mux(packet)
    proc = cli("video", src, "-o", tmp_path / "o.mov", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "audio stream 1 (opus) cannot be stored in .mov" in proc.stderr and "Traceback" not in proc.stderr
    with av.open(str(tmp_path / "o.mov")) as c:
        assert len(c.streams.video) == 1 and not c.streams.audio


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_ctrl_c_at_any_moment_of_start_up(tmp_path, clip, delay):
    # early signals land in torch's import, where an exception used to abort the interpreter
    proc = _start(["video", clip, "-o", tmp_path / "o.mkv", "--quiet"])
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 0), err  # 0: it finished first
    assert "Traceback" not in err and "terminate called" not in err
    if proc.returncode == 130:
        assert not (tmp_path / "o.mkv").exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_after_the_job_ends_leaves_its_outcome(tmp_path, clip, sig):
    """Ctrl-C just as a job ends (CI saw -2 at 1.5 s): the signal lands in the interpreter's
    teardown, after the output is complete. An atexit hook sends it there on purpose; the run must
    still end with status 0, no traceback and its output, as a run that got no signal does."""
    hook = (
        "import atexit, os, signal, sys, time\n"
        f"atexit.register(lambda: (os.kill(os.getpid(), {int(sig)}), time.sleep(0.3)))\n"
        "from ifrnet.cli import entry\n"
        "entry()\n"
    )
    out = tmp_path / "o.mkv"
    cmd = [sys.executable, "-X", "faulthandler", "-c", hook, "video", str(clip), "-o", str(out), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 2 * 30  # the clip's 30 frames, doubled


def test_make_parents_takes_a_folder_another_process_made_meanwhile(tmp_path, monkeypatch):
    """Two parallel workers creating the same folder (ifrnet flow --workers 2 writing
    flow/00001/0001/): the one that loses the race must carry on, not fail with "File exists".
    The race is staged: the folder appears between the check and the mkdir."""
    from pathlib import Path

    from ifrnet import InputError
    from ifrnet.io.files import make_parents

    target = tmp_path / "flow" / "00001" / "0001"
    real_mkdir = Path.mkdir

    def racing_mkdir(self, *args, **kwargs):
        if self == target.parent:
            real_mkdir(self)  # the other worker's
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    created = make_parents(target)
    assert target.is_dir()
    assert created == [tmp_path / "flow", target]  # the other worker's folder is not ours to remove
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"file: is a file, not a folder, so .*file/sub cannot be made in it"):
        make_parents(blocker / "sub")


@pytest.mark.parametrize("form", ["file", "frames"])
def test_two_runs_onto_one_new_output_never_replace_each_other(tmp_path, clip, form):
    """Issue 34: two runs onto one output that did not exist both passed the check made before the
    work, and the second to finish silently replaced the first. Run A is stopped mid-work (its
    temporary output exists), run B writes the output meanwhile; A, resumed, must keep B's output
    and publish its own beside it, saying where, with status 1."""
    out_dir = tmp_path / "out"
    target = out_dir / "o.mkv" if form == "file" else out_dir / "frames"
    output = target if form == "file" else f"{target}/"
    short = encode(tmp_path / "in" / "short.mkv", moving_frames(3, height=96, width=128), rate=Fraction(10))
    first = _start(["video", clip, "-o", output, "--quiet"])
    try:
        _wait_for(lambda: out_dir.is_dir() and any(".partial" in p.name for p in out_dir.iterdir()))
        first.send_signal(signal.SIGSTOP)
        second = cli("video", short, "-o", output, "--quiet")
        assert second.returncode == 0, second.stderr
        theirs = {k: v for k, v in digest(out_dir).items() if ".partial" not in k}  # B's, without A's temporary
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=180)
    beside = out_dir / ("o.1.mkv" if form == "file" else "frames.1")
    assert first.returncode == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{target if form == 'file' else target / '%08d.png'}: appeared while this run was working" in err, err
    assert str(beside) in err, err
    # B's output is untouched, A's complete result is beside it, and nothing temporary is left
    assert {k: v for k, v in digest(out_dir).items() if not k.startswith(beside.name)} == theirs
    if form == "file":
        with av.open(str(beside)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 60
    else:
        assert len(list(beside.iterdir())) == 60 and len(list(target.iterdir())) == 6
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("output", ["afile/%04d.png", "afile/frames/%04d.png", "afile/", "afile/o.mkv"])
def test_an_output_inside_a_plain_file_is_refused_before_work(tmp_path, clip, output):
    """Issue 34: `-o afile/%04d.png` with afile a plain file ran the whole job, then failed naming a
    hidden temporary path (.afile.XXXX.partial/0000.png). It is one line before any work, naming
    afile, and afile is untouched."""
    afile = tmp_path / "afile"
    afile.write_bytes(b"not a folder")
    proc = cli("video", clip, "-o", f"{tmp_path}/{output}", "--quiet")
    one_line(proc, 1, f"{afile}: is a file, not a folder")
    assert ".partial" not in proc.stderr
    assert afile.read_bytes() == b"not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "in"]


def test_temporary_folder_names_are_mapped_back_in_messages():
    from ifrnet.io.files import describe_os_error

    exc = OSError(28, "No space left on device", "/out/.frames.k3j2x.partial/00000007.png")
    assert describe_os_error(exc) == "/out/frames/00000007.png: No space left on device"


# For the child scripts below: wait until thread ``tid`` is inside system call ``number`` (x86-64
# numbering: 0 read, 1 write); where /proc cannot tell, a pause instead.
_IN_SYSCALL = r"""
import time

def in_syscall(tid, number):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            with open(f"/proc/self/task/{tid}/syscall") as f:
                if f.read().split()[0] == str(number):
                    return
        except (OSError, IndexError):
            time.sleep(1)
            return
"""


# A reader decoding on one thread while another closes it (the pipeline's stop): the decode thread
# is held inside a read from a named pipe whose writer has stalled, the close comes meanwhile,
# then the writer goes on. Freeing the demuxer under that read corrupted the heap (SIGTERM during
# decode: "free(): corrupted unsorted chunks"); the close must leave it to the reading thread.
_CLOSE_DURING_READ = (
    _IN_SYSCALL
    + r"""
import os, sys, threading, time
import numpy as np
import ifrnet.video.native as native
from ifrnet.video.reader import VideoFileReader

fifo = sys.argv[1]
frame = (b"FRAME\n" + bytes(64 * 48 * 3 // 2))
writer_ready = threading.Event()
go_on = threading.Event()

def write():
    with open(fifo, "wb", buffering=0) as pipe:
        pipe.write(b"YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg\n" + frame * 3)
        writer_ready.set()
        go_on.wait()
        pipe.write(frame * 40)

threading.Thread(target=write, daemon=True).start()
reader = VideoFileReader(fifo)
seen, tid = [], []
def decode():
    tid.append(threading.get_native_id())
    for f in reader.frames():
        seen.append(f.index)
decoder = threading.Thread(target=decode)
decoder.start()
writer_ready.wait()
in_syscall(tid[0], 0)  # read(2) on the stalled pipe
native.CLOSE_WAIT_S = 0.3
started = time.monotonic()
reader.close()
waited = time.monotonic() - started
go_on.set()
decoder.join(timeout=30)
print(len(seen), round(waited, 2), decoder.is_alive(), reader._guard.closed)
"""
)


def test_closing_a_reader_while_its_thread_reads_a_stalled_pipe(tmp_path):
    fifo = tmp_path / "in.y4m"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _CLOSE_DURING_READ, str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen, waited, alive, closed = done.stdout.split()
    assert int(seen) == 3  # the frames before the stall, none after the close
    assert float(waited) < 5  # the close did not wait for the stalled read
    assert alive == "False" and closed == "True"  # the reading thread stopped and closed the file


# The writer's side of the same fault: the encode thread inside write(2) to a pipe nobody reads yet,
# an abort from the stopping thread, then the reader drains the pipe.
_ABORT_DURING_WRITE = (
    _IN_SYSCALL
    + r"""
import os, sys, threading, time
from fractions import Fraction
import numpy as np
import ifrnet.video.native as native
from ifrnet.video.reader import VideoFileReader
from ifrnet.video.writer import VideoFileWriter

source, fifo = sys.argv[1], sys.argv[2]
with VideoFileReader(source) as reader:
    info = reader.info
drain = threading.Event()
drained = []
def read_later():
    with open(fifo, "rb") as pipe:
        drain.wait()
        drained.append(len(pipe.read()))
threading.Thread(target=read_later, daemon=True).start()
writer = VideoFileWriter(fifo, info, Fraction(10), container_format="yuv4mpegpipe", streaming=True)
image = np.zeros((info.height, info.width, 3), np.uint8)
written, tid = [], []
def encode():
    tid.append(threading.get_native_id())
    try:
        for index in range(200):  # far more than a pipe's 64 KiB holds
            writer.write(image, index)
            written.append(index)
    except native.Closed:
        written.append("closed")
encoder = threading.Thread(target=encode)
encoder.start()
in_syscall(tid[0], 1)  # write(2) on the full pipe
native.CLOSE_WAIT_S = 0.3
started = time.monotonic()
writer.abort()
waited = time.monotonic() - started
drain.set()
encoder.join(timeout=30)
print(written[-1], round(waited, 2), encoder.is_alive(), writer._guard.closed)
"""
)


def test_aborting_a_writer_while_its_thread_writes_a_full_pipe(tmp_path):
    source = encode(tmp_path / "in.mkv", moving_frames(2, height=48, width=64), rate=Fraction(10))
    fifo = tmp_path / "out.y4m"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _ABORT_DURING_WRITE, str(source), str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last, waited, alive, closed = done.stdout.split()
    assert last == "closed"  # the write after the abort was refused
    assert float(waited) < 5  # the abort did not wait for the blocked write
    assert alive == "False" and closed == "True"  # the writing thread stopped and closed the file
