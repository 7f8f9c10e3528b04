"""``ifrnet.vapoursynth``: the filter gives what ``ifrnet video`` writes, frame for frame.

VapourSynth installs from PyPI only on Python 3.12 and later, so the filter runs in a venv made
once from that interpreter (pyenv's, where there is one) in ``.venv-vs/``: VapourSynth, numpy,
onnxruntime, PyAV and this package without torch (``tests/vs_child.py``). The command line runs
here, on the same graph (the seeded IFRNet_S, onnxruntime), and writes lossless RGB (FFV1 bgr0).
Skipped, with the reason, where no such interpreter or no package index is at hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ifrnet.cli import main

from .conftest import REPO
from .videos import SHARED_DATA, read_clip, real_frames, write_clip

VENV = REPO / ".venv-vs"
#: what the venv holds besides this package (installed with --no-deps: torch stays out)
PACKAGES = (
    "vapoursynth>=70",
    "numpy>=1.24",
    "onnxruntime>=1.20",
    "av>=18.1",
    "pillow>=10.0",
    "safetensors>=0.4",
    # vs-mlrt's plugins and a source filter, as a VapourSynth user installs them
    "vapoursynth-mlrt-ort>=17",
    "vapoursynth-mlrt-ov>=17",
    "vapoursynth-bestsource>=16",
)


def _interpreter() -> str | None:
    """A Python 3.12+ to build the venv from: pyenv's 3.12 or 3.13, else one on the PATH."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        for minor in ("3.12", "3.13"):
            found = sorted(Path(root, "versions").glob(f"{minor}.*/bin/python{minor}"))
            if found:
                return str(found[-1])
    return shutil.which("python3.12") or shutil.which("python3.13")


@pytest.fixture(scope="session")
def vs_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "ifrnet-packages.txt"
    wanted = "\n".join(PACKAGES)
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        base = _interpreter()
        if base is None:
            pytest.skip("no Python 3.12 or later here (VapourSynth's wheels need one)")
        shutil.rmtree(VENV, ignore_errors=True)
        steps = [
            [base, "-m", "venv", str(VENV)],
            [str(python), "-m", "pip", "install", "-q", *PACKAGES],
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                pytest.skip(f"could not set up VapourSynth ({' '.join(step[-3:])}): {done.stderr.strip()[-300:]}")
        stamp.write_text(wanted)
    return python


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Real footage at 23.976 fps with one cut: 16 frames of vtest, then 8 of the cup clip,
    128x96, lossless RGB."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found")
    frames = real_frames("opencv_vtest.avi", 16, (128, 96), start=40) + real_frames("opencv_cup.mp4", 8, (128, 96))
    path = tmp_path_factory.mktemp("vs") / "shots.mkv"
    return write_clip(path, frames, rate=Fraction(24000, 1001), pix_fmt="bgr0")


@pytest.fixture(scope="module")
def twos(tmp_path_factory) -> Path:
    """Drawings on twos: every other frame of real footage, each shown twice (exact copies)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found")
    drawings = real_frames("opencv_vtest.avi", 20, (128, 96), start=80)[::2]
    path = tmp_path_factory.mktemp("vs") / "twos.mkv"
    return write_clip(path, [d for d in drawings for _ in range(2)], rate=Fraction(24000, 1001), pix_fmt="bgr0")


@pytest.fixture(scope="module")
def filtered(vs_python, clip, twos, exported_s, tmp_path_factory) -> tuple[dict, dict]:
    """What the VapourSynth side made (arrays, and its report)."""
    _, graph, _ = exported_s
    out = tmp_path_factory.mktemp("vs-out") / "results.npz"
    done = subprocess.run(
        [str(vs_python), str(REPO / "tests" / "vs_child.py"), str(clip), str(twos), str(graph), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out)), json.loads(done.stdout.strip().splitlines()[-1])


def cli_frames(clip: Path, graph: Path, out: Path, *rate: str) -> list[np.ndarray]:
    args = ["video", str(clip), "-o", str(out), "--codec", "ffv1", "--pix-fmt", "bgr0", *rate, "-q"]
    assert main([*args, "--backend", "onnxruntime", "--checkpoint", str(graph)]) == 0
    return read_clip(out)[0]


@pytest.mark.parametrize(("case", "rate"), [("factor2", ("--factor", "2")), ("fps60", ("--fps", "60000/1001"))])
def test_filter_matches_the_command_line(filtered, clip, exported_s, tmp_path, case, rate):
    """2x and 24000/1001 -> 60000/1001: the same number of frames, each identical, the cut held
    the same way (the filter judged it with the same detector, from the frames around it)."""
    arrays, info = filtered
    expected = cli_frames(clip, exported_s[1], tmp_path / "cli.mkv", *rate)
    got = arrays[case]
    assert info[case]["num_frames"] == len(expected) == len(got)
    for k, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert np.array_equal(a, b), f"output frame {k} differs by up to {np.abs(a.astype(int) - b).max()}"
    out_rate = Fraction(*info[case]["fps"])
    assert out_rate == (Fraction(48000, 1001) if case == "factor2" else Fraction(60000, 1001))
    assert info[case]["durations"] == [[out_rate.denominator, out_rate.numerator]]
    # the cut between source frames 15 and 16, marked on the output frames on either side of it
    assert len(info[case]["cut_next"]) == 1 and info[case]["cut_prev"] == [info[case]["cut_next"][0] + 1]
    # every source frame came through VapourSynth's frame requests, none by get_frame in a callback
    assert info[case]["fetched"] == 0


def test_dedup_matches_the_command_line(filtered, twos, exported_s, tmp_path):
    """Drawings on twos with dedup (the filter's frames asked for backwards): the command line's
    frames, whose in-betweens sit at the held copies' times."""
    arrays, _ = filtered
    expected = cli_frames(twos, exported_s[1], tmp_path / "cli.mkv", "--factor", "2", "--dedup")
    assert len(arrays["dedup"]) == len(expected) == 40
    for k, (a, b) in enumerate(zip(arrays["dedup"], expected, strict=True)):
        assert np.array_equal(a, b), f"output frame {k} differs by up to {np.abs(a.astype(int) - b).max()}"
    # a held copy's slot (source frame 1, output frame 2) shows an in-between, not the copy
    assert not np.array_equal(arrays["dedup"][2], arrays["dedup"][0])


def test_frames_asked_for_backwards_equal_frames_asked_for_in_order(filtered):
    arrays, _ = filtered
    assert np.array_equal(arrays["fps60_reversed"], arrays["fps60"])


def test_a_cut_named_by_a_frame_property_is_held(filtered):
    """``_SceneChangeNext`` on source frame 6 of a shot with no cut: output frames 12 and 13 are
    source frames 6 and 7 themselves, where without the property frame 13 is a new one."""
    arrays, info = filtered
    plain, marked, source = arrays["shot_plain"], arrays["shot_marked"], arrays["shot_source"]
    assert np.array_equal(marked[12], source[6]) and np.array_equal(marked[13], source[7])
    assert not np.array_equal(plain[13], source[7]) and not np.array_equal(plain[13], source[6])
    others = [k for k in range(len(plain)) if k not in (12, 13)]
    assert np.array_equal(marked[others], plain[others])
    assert info["shot_marked"] == {"cut_next": [12], "cut_prev": [13]}


def test_player_mode_takes_mpvs_clip_and_answers_a_seek_from_two_frames(filtered, exported_s):
    """player=True on a clip built as mpv builds video_in (INT_MAX / 16 frames, fps 0/1, VFR
    durations, _AbsoluteTime): source frames pass through, the frame between is the engine's, each
    output lasts half its source frame, and a frame 200 million in reads two source frames."""
    from ifrnet.backends.onnx import OnnxInterpolator

    arrays, info = filtered
    player, sources = info["player"], arrays["player_sources"]
    assert player["num_frames"] == 2 * ((2**31 - 1) // 16) and player["fps"] == [0, 1]
    got = arrays["player"]
    engine = OnnxInterpolator(exported_s[1])
    for k in range(8):
        j = k // 2
        if k % 2 == 0:
            assert np.array_equal(got[k], sources[j])
        else:
            expected = engine.interpolate(sources[j][None], sources[j + 1][None], (0.5,))[0][0]
            assert np.abs(got[k] - np.clip(expected, 0, 1)).max() <= 1e-5, k
    # 1001/24000 and 1001/30000 alternate in the source: halved, per output frame
    assert player["durations"] == [[1001, 48000]] * 2 + [[1001, 60000]] * 2 + [[1001, 48000]] * 2 + [[1001, 60000]] * 2
    source_times = np.cumsum([0, 1001 / 24000, 1001 / 30000, 1001 / 24000])
    expected_times = [source_times[k // 2] + (k % 2) * [1001 / 48000, 1001 / 60000][(k // 2) % 2] for k in range(8)]
    assert np.allclose(player["times"], expected_times)
    assert player["seek_requested"] == [100_000_000, 100_000_001]
    assert player["seek_duration"] == [1001, 48000]


def test_filter_refuses_what_it_cannot_take_and_runs_without_torch(filtered):
    _, info = filtered
    refusals = info["refusals"]
    assert (
        "YUV420P8" in refusals["yuv"]
        and 'core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="709")' in (refusals["yuv"])
    )
    assert "--factor must be an integer from 2" in refusals["factor1"]
    assert "no constant frame rate" in refusals["vfr"]
    assert info["torch_imported"] is False


def test_module_imports_without_vapoursynth():
    """``import ifrnet.vapoursynth`` works anywhere (VapourSynth is imported when the filter runs)."""
    done = subprocess.run([sys.executable, "-c", "import ifrnet.vapoursynth"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


#: run in the VapourSynth venv: vs-mlrt's plugins on the vs-mlrt graph, saving what they made
_PLUGINS = """
import sys
import numpy as np
import vapoursynth as vs
core = vs.core
graph, frames_path, out = sys.argv[1:]
frames = np.load(frames_path)["frames"]  # (2, H, W, 3) float32
h, w = frames.shape[1:3]
def clip_of(image):
    blank = core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=1)
    def fill(n, f):
        frame = f.copy()
        for p in range(3):
            np.copyto(np.asarray(frame[p]), image[..., p])
        return frame
    return core.std.ModifyFrame(blank, blank, fill)
a, b = clip_of(frames[0]), clip_of(frames[1])
t = core.std.BlankClip(a, format=vs.GRAYS, color=0.3, keep=True)
def planes(clip):
    frame = clip.get_frame(0)
    return np.stack([np.asarray(frame[p]) for p in range(3)])
np.savez(
    out,
    ort=planes(core.ort.Model([a, b, t], network_path=graph, provider="CPU")),
    ov_f32=planes(core.ov.Model([a, b, t], network_path=graph, config=lambda: {"INFERENCE_PRECISION_HINT": "f32"})),
    ov_default=planes(core.ov.Model([a, b, t], network_path=graph)),
)
"""


@pytest.fixture(scope="module")
def vsmlrt_graph(exported_s, tmp_path_factory) -> Path:
    from ifrnet.graphs.layouts import write_vsmlrt_graph

    return write_vsmlrt_graph(exported_s[1], tmp_path_factory.mktemp("vsmlrt") / "ifrnet_s_vsmlrt.onnx")


def test_vsmlrt_plugins_run_the_vsmlrt_graph_as_our_engines_do(vs_python, vsmlrt_graph, exported_s, tmp_path):
    """vs-mlrt's real plugins from PyPI (core.ort.Model, core.ov.Model) on real frames at a size
    the network does not take as it is (250x142): within 1e-4 of our onnxruntime and OpenVINO
    fp32 engines. core.ov.Model at its defaults follows OpenVINO's default, bf16 where the CPU
    has it natively: far from fp32 there (the README says so and how to ask for fp32)."""
    from ifrnet.backends.onnx import OnnxInterpolator
    from ifrnet.backends.openvino import OpenVinoInterpolator, native_precisions

    a, b = (f.astype(np.float32) / 255 for f in real_frames("opencv_vtest.avi", 2, (250, 142), start=120))
    np.savez(tmp_path / "frames.npz", frames=np.stack([a, b]))
    done = subprocess.run(
        [str(vs_python), "-c", _PLUGINS, str(vsmlrt_graph), str(tmp_path / "frames.npz"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    x0, x1 = (np.ascontiguousarray(f.transpose(2, 0, 1)[None]) for f in (a, b))
    ours_ort = OnnxInterpolator(exported_s[1]).interpolate(x0, x1, (0.3,))[0][0]
    ours_ov = OpenVinoInterpolator(exported_s[1], precision="fp32", streams=1).interpolate(x0, x1, (0.3,))[0][0]
    assert np.abs(got["ort"] - ours_ort).max() <= 1e-4
    assert np.abs(got["ov_f32"] - ours_ov).max() <= 1e-4
    default = np.abs(got["ov_default"] - ours_ov).max()
    assert default > 1e-3 if "bf16" in native_precisions() else default <= 1e-4, default


#: the example scripts and the frames each gives for a clip of CLIP_FRAMES frames (2x)
EXAMPLES = ("ifrnet_filter", "vsmlrt_ort", "vsmlrt_ov", "upscale_chain", "mpv_player")
CLIP_FRAMES = 10


def test_every_example_script_runs_under_vspipe(vs_python, vsmlrt_graph, exported_s, tmp_path):
    """Each script in examples/vapoursynth/ under the real vspipe, on a real clip read by
    BestSource: twice its frames, at twice its rate, as 10-bit 4:2:0 (the upscaler chain at twice
    the size). ``vapoursynth config`` writes vspipe's configuration (into a temporary
    XDG_CONFIG_HOME here, as a user's ~/.config), without which vspipe cannot start."""
    frames = real_frames("opencv_vtest.avi", CLIP_FRAMES, (128, 96), start=60)
    clip = write_clip(tmp_path / "clip.mkv", frames, rate=Fraction(10), pix_fmt="yuv420p")
    env = {
        **{k: v for k, v in os.environ.items() if k != "IFRNET_BACKEND"},
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        # relative paths, as a user types them in the shell: vspipe runs a script from its own
        # folder, so the scripts take them from $PWD (the shell sets it; here it is set by hand)
        "PWD": str(tmp_path),
        "IFRNET_CLIP": clip.name,
        # an ONNX graph for the project's filter: with vs-mlrt's OpenVINO plugin in the process,
        # OpenVINO's Python package cannot load (README), so onnxruntime runs it
        "IFRNET_GRAPH": str(exported_s[1]),
        "IFRNET_VSMLRT_GRAPH": os.path.relpath(vsmlrt_graph, tmp_path),
    }
    bin_dir = Path(vs_python).parent
    configured = subprocess.run([str(bin_dir / "vapoursynth"), "config"], capture_output=True, text=True, env=env)
    assert configured.returncode == 0, configured.stderr
    for name in EXAMPLES:
        script = os.path.relpath(REPO / "examples" / "vapoursynth" / f"{name}.vpy", tmp_path)
        out = tmp_path / f"{name}.y4m"
        done = subprocess.run(
            [str(bin_dir / "vspipe"), "-c", "y4m", script, out.name],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        data = out.read_bytes()
        header = data[: data.index(b"\n")].decode()
        assert data.count(b"FRAME") == 2 * CLIP_FRAMES, name
        width = 256 if name == "upscale_chain" else 128
        assert f" W{width} " in header and " F20:1 " in header and "C420p10" in header, (name, header)
