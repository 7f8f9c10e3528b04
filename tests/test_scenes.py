"""Scene cuts that hold on animation and fast motion, --dedup for drawings held on twos, --cuts FILE."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from ifrnet import InputError, Interpolator
from ifrnet.cli import main
from ifrnet.video import VideoOptions, interpolate_video
from ifrnet.video.scenes import SceneDetector, check_scene_threshold, cut_mask, read_cut_list

from .test_fidelity import encode, native
from .videos import moving_frames, real_frames


def cel(seed: int, n: int, palette: list[tuple[int, int, int]], speed: float = 1.5, size=(72, 96)) -> list:
    """Flat-colour ellipses with dark outlines over a flat background: an animation-like shot."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    layers = [
        (rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(8, 20), palette[1 + i % 3]) for i in range(4)
    ]
    frames = []
    for t in range(n):
        image = np.empty((h, w, 3), np.uint8)
        image[:] = palette[0]
        for cx, cy, r, colour in layers:
            d = (xx - cx - speed * t) ** 2 + (yy - cy) ** 2
            image[d <= r * r] = (20, 16, 24)
            image[d <= (0.85 * r) ** 2] = colour
        frames.append(image)
    return frames


DARK = [(28, 30, 48), (70, 40, 60), (40, 60, 90), (60, 64, 40)]


def test_dark_animation_cut_is_found_and_the_old_threshold_missed_it():
    shot_a, shot_b = cel(1, 8, DARK), cel(2, 8, DARK)
    detector = SceneDetector()
    assert detector.cuts(shot_a + shot_b) == [7]
    # the fixed threshold of 25 the package used before saw nothing here
    from ifrnet.video.scenes import Thumbnail, scene_score

    frames = shot_a + shot_b
    assert scene_score(Thumbnail.of(frames[7]), Thumbnail.of(frames[8])) < 25


def test_fast_motion_and_drawings_on_threes_are_not_cuts():
    frames = real_frames("visp_cube.mkv", 60, size=(160, 120))
    fast = frames[::5]  # every 5th frame: fast handheld motion
    assert SceneDetector().cuts(fast) == []
    drawings = cel(3, 8, DARK, speed=5.0)
    noise = np.random.default_rng(0)
    on_threes = [
        np.clip(d + noise.normal(0, 1.5, d.shape), 0, 255).astype(np.uint8) for d in drawings for _ in range(3)
    ]
    assert SceneDetector().cuts(on_threes) == []


def test_whole_clip_rule_matches_the_streaming_one():
    from ifrnet.video.scenes import Thumbnail, held, pair_measures

    frames = cel(4, 6, DARK) + cel(5, 6, DARK) + real_frames("visp_castel.mkv", 6, size=(96, 72))
    frames = [f[:72, :96] for f in frames]
    thumbs = [Thumbnail.of(f) for f in frames]
    measures = [pair_measures(a, b) for a, b in itertools.pairwise(thumbs)]
    still = [held(a, b) for a, b in itertools.pairwise(thumbs)]
    mask = cut_mask([m[0] for m in measures], [m[1] for m in measures], still)
    assert list(np.flatnonzero(mask)) == SceneDetector().cuts(frames) == [5, 11]


@pytest.mark.parametrize("bad", [0, -5, 101, 1e9])
def test_nonsense_thresholds_are_refused(bad):
    with pytest.raises(InputError, match="--scene-threshold must be between 1 and 100"):
        check_scene_threshold(bad)


def test_cut_lists_in_every_form(tmp_path):
    plain = tmp_path / "cuts.txt"
    plain.write_text("# first frames of new shots\n12\n00:00:02.500\n3.25\n30 I -1\n0\n")
    cuts = read_cut_list(plain)
    assert cuts.frames == {0, 12, 30} and cuts.times == [Fraction(5, 2), Fraction(13, 4)]
    csv = tmp_path / "scenes.csv"  # as `scenedetect -i clip.mp4 detect-adaptive list-scenes` writes it
    csv.write_text(
        "Timecode List:,00:00:01.000,00:00:02.000\n"
        "Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,"
        "End Time (seconds),Length (frames),Length (timecode),Length (seconds)\n"
        "1,1,00:00:00.000,0.000,25,00:00:01.000,1.000,25,00:00:01.000,1.000\n"
        "2,26,00:00:01.000,1.000,50,00:00:02.000,2.000,25,00:00:01.000,1.000\n"
        "3,51,00:00:02.000,2.000,60,00:00:02.400,2.400,10,00:00:00.400,0.400\n"
    )
    assert read_cut_list(csv).frames == {25, 50}
    bad = tmp_path / "bad.txt"
    bad.write_text("12\nscene two\n")
    with pytest.raises(InputError, match=r"bad.txt:2: 'scene two' is neither a frame index nor a timecode"):
        read_cut_list(bad)


def test_a_given_cut_is_held_where_the_detector_sees_none(tmp_path, interp, capsys, checkpoint_s):
    frames = moving_frames(8)  # one smooth pan: no cut to detect
    src = encode(tmp_path / "pan.mkv", frames)
    summary = interpolate_video(src, tmp_path / "plain.mkv", interp, VideoOptions(factor=2, codec="ffv1"))
    assert summary.cuts == 0
    cuts = tmp_path / "cuts.txt"
    cuts.write_text("4\n99\n")  # frame 4 starts a new shot; the clip has no frame 99
    code = main(
        [
            "video",
            str(src),
            "-o",
            str(tmp_path / "cut.mkv"),
            "--codec",
            "ffv1",
            "--cuts",
            str(cuts),
            "--quiet",
            "--checkpoint",
            str(checkpoint_s),
        ]
    )
    assert code == 0
    assert "1 cut(s) not in the video, ignored: frame 99" in capsys.readouterr().err
    out, _ = native(tmp_path / "cut.mkv")
    source, _ = native(src)
    # across the given cut the output shows frame 3, then frame 4 (the nearer one from t = 1/2 on):
    # never a blend of the two
    assert np.array_equal(out[6], source[3]) and np.array_equal(out[7], source[4])
    plain, _ = native(tmp_path / "plain.mkv")
    assert not np.array_equal(plain[7], source[4])  # without the cut list: an interpolated frame
    # by timecode too, and with detection off
    cuts.write_text("0.16\n")  # 4 / 25 s
    code = main(
        [
            "video",
            str(src),
            "-o",
            str(tmp_path / "tc.mkv"),
            "--codec",
            "ffv1",
            "--cuts",
            str(cuts),
            "--no-scene-detect",
            "--quiet",
            "--checkpoint",
            str(checkpoint_s),
        ]
    )
    assert code == 0 and np.array_equal(native(tmp_path / "tc.mkv")[0][7], source[4])


@pytest.fixture(scope="module")
def on_twos(tmp_path_factory):
    """Real footage drawn on twos: every other frame of opencv_vtest held for two frames, H.264 CRF 20."""
    frames = real_frames("opencv_vtest.avi", 17, size=(384, 288), start=300)
    drawings = frames[::2]
    held = [d for d in drawings for _ in range(2)][: len(frames)]
    path = tmp_path_factory.mktemp("twos") / "twos.mkv"
    encode(path, held, rate=Fraction(24000, 1001), codec="libx264", options={"crf": "20"})
    return path, frames


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def test_dedup_rebuilds_the_frames_between_held_drawings(tmp_path, on_twos):
    from ifrnet import load_model

    src, truth = on_twos
    engine = Interpolator(load_model(checkpoint="starter", device="cpu"))
    summary = interpolate_video(src, tmp_path / "dedup.mkv", engine, VideoOptions(factor=2, codec="ffv1", dedup=True))
    assert summary.held == 8 and summary.frames_out == 2 * len(truth)
    with __import__("av").open(str(tmp_path / "dedup.mkv")) as c:
        out = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with __import__("av").open(str(src)) as c:
        copies = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    rebuilt = [_psnr(out[2 * k], truth[k]) for k in range(1, 16, 2)]  # where the held copies were
    repeated = [_psnr(copies[k], truth[k]) for k in range(1, 16, 2)]
    gain = float(np.mean(rebuilt) - np.mean(repeated))
    print(f"--dedup: {np.mean(rebuilt):.2f} dB against held copies' {np.mean(repeated):.2f} dB (+{gain:.2f})")
    assert gain >= 1.0, f"rebuilt frames gain only {gain:.2f} dB over the held copies"


def test_without_dedup_held_copies_pass_through(tmp_path, on_twos, interp):
    src, _ = on_twos
    interp.calls.clear()
    summary = interpolate_video(src, tmp_path / "plain.mkv", interp, VideoOptions(factor=2, codec="ffv1"))
    out, _ = native(tmp_path / "plain.mkv")
    source, _ = native(src)
    assert summary.held == 0 and summary.frames_out == 2 * len(source)
    assert all(np.array_equal(out[2 * k], source[k]) for k in range(len(source)))
    assert len(interp.calls) == len(source) - 1  # every pair, copies included, as before --dedup existed


def test_dedup_never_merges_across_a_cut(tmp_path, interp):
    bright = [(236, 222, 200), (220, 90, 80), (90, 140, 220), (250, 210, 90)]
    shot_a, shot_b = cel(6, 3, bright, speed=4.0), cel(7, 3, DARK, speed=4.0)
    frames = [d for d in shot_a for _ in range(2)] + [d for d in shot_b for _ in range(2)]
    src = encode(tmp_path / "twos_cut.mkv", frames, pix_fmt="yuv444p")
    interp.calls.clear()
    summary = interpolate_video(src, tmp_path / "out.mkv", interp, VideoOptions(factor=2, codec="ffv1", dedup=True))
    assert summary.cuts == 1 and summary.held == 6 and summary.frames_out == 24
    out, _ = native(tmp_path / "out.mkv")
    source, _ = native(src)
    # the last drawing of shot A holds through its copy's slot (outputs 8-10); from halfway to shot B's
    # first frame (output 11) the nearer frame is B's, as across any cut; nothing is interpolated there
    assert all(np.array_equal(out[k], source[4]) for k in range(8, 11))
    assert np.array_equal(out[11], source[6]) and np.array_equal(out[12], source[6])
    assert len(interp.calls) == 4  # A1-A2, A2-A3, B1-B2, B2-B3


def test_folder_output_with_a_trailing_slash(tmp_path, interp):
    src = encode(tmp_path / "in.mkv", moving_frames(3))
    summary = interpolate_video(src, f"{tmp_path / 'frames'}/", interp, VideoOptions(factor=2))
    assert summary.frames_out == 6 and len(list((tmp_path / "frames").glob("*.png"))) == 6
