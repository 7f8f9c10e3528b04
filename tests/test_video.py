"""`ifrnet video`: timing, pass-through, scene cuts, audio, VFR, image sequences and bad input."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import av
import numpy as np
import pytest

from ifrnet import InputError, Interpolator
from ifrnet.cli import main
from ifrnet.video import Timeline, TimeMap, VideoOptions, interpolate_video, parse_rate
from ifrnet.video.pipeline import Progress

from .conftest import seeded_model
from .videos import (
    audio_packets,
    capture_cut_mid_gop,
    first_times,
    hdr10_clip,
    moving_frames,
    read_clip,
    real_frames,
    write_clip,
)

LOSSLESS = {"codec": "ffv1", "pix_fmt": "bgr0"}


def run(src, dst, interp, **kw):
    interp.calls.clear()
    return interpolate_video(src, dst, interp, VideoOptions(**{**LOSSLESS, **kw}))


# -- pure timing --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60000/1001", Fraction(60000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        ("60", Fraction(60)),
        ("12.5", Fraction(25, 2)),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "1/0"])
def test_parse_rate_refuses_nonsense(bad):
    with pytest.raises(InputError):
        parse_rate(bad)


def test_time_map_does_not_drift_over_hours():
    tm = TimeMap(Fraction(0), Fraction(60000, 1001))
    hours = 3 * 3600
    # independent integer arithmetic: frames with k * 1001 / 60000 < hours
    assert tm.count_until(Fraction(hours)) == -(-hours * 60000 // 1001)
    steps = tm.steps_between(Fraction(hours) - Fraction(1, 25), Fraction(hours))
    assert all(0 <= s.t < 1 for s in steps) and len(steps) in (2, 3)


@pytest.mark.parametrize(
    ("rate", "factor", "sample_rate"),
    [
        (Fraction(24000, 1001), None, Fraction(60000, 1001)),
        (Fraction(25), None, Fraction(60)),
        (Fraction(60), None, Fraction(24)),  # fewer output frames than source frames
        (Fraction(30000, 1001), None, Fraction(30000, 1001)),
        (Fraction(24000, 1001), 2, None),
        (Fraction(10), 5, None),
    ],
)
def test_frame_map_is_the_timeline_in_any_order(rate, factor, sample_rate):
    """:class:`FrameMap` (random access, for VapourSynth) places output frames as :class:`Timeline`
    fed in order does, for single intervals, for spans of several frames (held drawings with
    --dedup) and for the last frame; ``source_of`` names each output frame's interval."""
    from ifrnet.video.schedule import FrameMap

    n = 37
    kept = [0, 1, 2, 5, 6, 7, 11, 12, 20, 21, 22, 23, 30, 36]  # drawings; the frames between are held
    for frames in (list(range(n)), kept):
        timeline = Timeline(Fraction(0), rate, factor=factor, sample_rate=sample_rate)
        fmap = FrameMap(n, rate, factor=factor, sample_rate=sample_rate)
        expected, got = [], []
        for a, b in itertools.pairwise(frames):
            expected += timeline.steps_to(b / rate)
            got += fmap.steps(a, b)
        expected += timeline.finish((n - frames[-1]) / rate)
        got += fmap.steps(frames[-1], n)
        assert got == expected
        assert [s.index for s in got] == list(range(len(fmap)))
    for a in range(n):
        assert all(fmap.source_of(s.index) == a for s in fmap.steps(a, a + 1))
    with pytest.raises(IndexError):
        fmap.source_of(len(fmap))


# -- end to end on generated and real footage --


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(10)])
@pytest.mark.parametrize("source", ["generated", "real"])
def test_factor_two_doubles_frames_and_keeps_originals(tmp_path, interp, rate, source):
    frames = moving_frames(8) if source == "generated" else real_frames("opencv_vtest.avi", 8, start=300)
    src = write_clip(tmp_path / "in.mkv", frames, rate=rate)
    summary = run(src, tmp_path / "out.mkv", interp, factor=2)
    out, times, out_rate = read_clip(tmp_path / "out.mkv")
    assert out_rate == 2 * rate
    assert len(out) == summary.frames_out == 16
    assert times[-1] + 1 / out_rate == pytest.approx(len(frames) / rate, abs=float(1 / out_rate) / 2)
    for i, original in enumerate(frames):
        assert np.array_equal(out[2 * i], original), f"source frame {i} not passed through unchanged"
    assert summary.interpolated == 7  # the last frame is held: there is nothing after it
    assert np.array_equal(out[-1], frames[-1])


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(10)])
def test_ntsc_target_rate_from_real_footage(tmp_path, interp, rate):
    frames = real_frames("visp_cube.mkv", 6, start=20)
    src = write_clip(tmp_path / "in.mkv", frames, rate=rate)
    target = Fraction(60000, 1001)
    # Matroska keeps millisecond timestamps, too coarse for 60000/1001: MP4 with lossless x264 RGB
    summary = run(src, tmp_path / "out.mp4", interp, fps=target, codec="libx264rgb", pix_fmt="rgb24", crf=0)
    out, _, out_rate = read_clip(tmp_path / "out.mp4")
    duration = Fraction(len(frames)) / rate
    expected = math.ceil(duration * target)
    assert out_rate == target and len(out) == expected == summary.frames_out
    assert abs(len(out) / target - duration) <= 1 / target  # duration within one output frame
    assert np.array_equal(out[0], frames[0])
    # every model call asked for exactly the times the rational map gives; an output time within
    # half a timestamp tick (Matroska: 1 ms) or 1/50 of the shorter frame interval of a source
    # frame shows that frame (0.1 and 0.4 ms away at 10 -> 59.94)
    tolerance = max(Fraction(1, 2000), 1 / (50 * max(rate, target)))
    wanted = []
    for i in range(len(frames) - 1):
        ts = [(Fraction(k) / target - Fraction(i) / rate) * rate for k in range(expected)]
        wanted.append([float(t) for t in ts if 0 < t < 1 and tolerance < t / rate < 1 / rate - tolerance])
    assert interp.calls == [w for w in wanted if w]


def test_no_blend_across_a_scene_cut(tmp_path, interp):
    shot_a = moving_frames(5, seed=1)
    shot_b = [255 - f for f in moving_frames(5, seed=2)]
    frames = shot_a + shot_b
    src = write_clip(tmp_path / "cut.mkv", frames)
    summary = run(src, tmp_path / "out.mkv", interp, factor=4)
    assert summary.cuts == 1
    out, _, _ = read_clip(tmp_path / "out.mkv")
    # the four outputs from the last frame of shot A up to shot B are copies, two of each
    across = out[4 * 4 : 4 * 5]
    assert all(np.array_equal(f, shot_a[-1]) for f in across[:2])
    assert all(np.array_equal(f, shot_b[0]) for f in across[2:])
    assert len(interp.calls) == 8  # 9 pairs, one of them the cut
    summary = run(src, tmp_path / "blend.mkv", interp, factor=4, scene_threshold=None, overwrite=True)
    assert summary.cuts == 0 and len(interp.calls) == 9


def test_repeated_frames_do_not_run_the_model(tmp_path, interp):
    base = moving_frames(4)
    frames = [base[0], base[1], base[1], base[1], base[2], base[3]]
    src = write_clip(tmp_path / "dup.mkv", frames)
    summary = run(src, tmp_path / "out.mkv", interp, factor=2)
    assert summary.duplicates == 2
    assert len(interp.calls) == 3
    out, _, _ = read_clip(tmp_path / "out.mkv")
    assert all(np.array_equal(out[k], base[1]) for k in range(2, 7))


def test_audio_is_copied_unchanged(tmp_path, interp):
    frames = moving_frames(10)
    src = write_clip(tmp_path / "av.mkv", frames, audio_seconds=10 / 25)
    summary = run(src, tmp_path / "out.mkv", interp, factor=2)
    assert summary.audio == "copied"
    src_packets, src_duration = audio_packets(src)
    out_packets, out_duration = audio_packets(tmp_path / "out.mkv")
    assert src_packets and out_packets == src_packets
    assert out_duration == pytest.approx(float(src_duration), abs=0.001)
    # and into an .mp4 with the default H.264 encoder
    frames_264 = write_clip(tmp_path / "av264.mp4", frames, codec="libx264", pix_fmt="yuv420p", audio_seconds=0.4)
    interpolate_video(frames_264, tmp_path / "out.mp4", interp, VideoOptions(factor=2))
    assert audio_packets(tmp_path / "out.mp4")[0] == audio_packets(frames_264)[0]
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.video[0].frames == 20


def test_slow_motion_keeps_the_rate_and_drops_audio(tmp_path, interp):
    src = write_clip(tmp_path / "av.mkv", moving_frames(4), audio_seconds=4 / 25)
    summary = run(src, tmp_path / "slow.mkv", interp, slowmo=3)
    out, _, rate = read_clip(tmp_path / "slow.mkv")
    assert rate == 25 and len(out) == 12
    assert "dropped" in summary.audio and audio_packets(tmp_path / "slow.mkv")[0] == []
    assert any("audio dropped (slow motion" in n for n in summary.notices)


@pytest.mark.parametrize(
    ("container", "pix_fmt"), [("mkv", "bgr0"), ("avi", "bgr0"), ("y4m", "yuv444p"), ("mp4", "yuv444p")]
)
def test_fps_interpolates_whatever_the_timestamp_tick(tmp_path, interp, container, pix_fmt):
    """10 -> 25 fps: AVI and YUV4MPEG2 stamp frames in ticks of one frame (time base 1/10), Matroska
    in milliseconds, MP4 finer. Half a one-frame tick once passed every output time through as a
    source frame (0 interpolated); now every container gives the same 25 frames, 18 of them new
    (the last source frame is held for its interval, as always)."""
    frames = moving_frames(10)
    codec = {"y4m": "rawvideo", "mp4": "libx264"}.get(container, "ffv1")
    src = write_clip(tmp_path / f"in.{container}", frames, rate=Fraction(10), codec=codec, pix_fmt=pix_fmt)
    summary = run(src, tmp_path / "out.mkv", interp, fps=Fraction(25), pix_fmt=None)
    assert (summary.frames_out, summary.interpolated) == (25, 18)


def test_variable_frame_rate_follows_timestamps(tmp_path, interp):
    frames = moving_frames(5)
    times = [Fraction(0), Fraction(40, 1000), Fraction(160, 1000), Fraction(200, 1000), Fraction(320, 1000)]
    src = write_clip(tmp_path / "vfr.mkv", frames, times=times)
    summary = run(src, tmp_path / "cfr.mkv", interp, fps=Fraction(25))
    out, _, _ = read_clip(tmp_path / "cfr.mkv")
    # last frame lasts one average frame (5 frames over 0.32 s ... as the stream says); output ends within a frame
    assert len(out) == summary.frames_out
    for i, t in enumerate(times):
        k = int(t * 25)
        assert np.array_equal(out[k], frames[i]), f"source frame {i} at {t} s not at output frame {k}"
    # the gap 0.04 -> 0.16 s holds outputs at 0.08 and 0.12 s: t = 1/3 and 2/3, not 1/2
    assert [pytest.approx(1 / 3), pytest.approx(2 / 3)] == interp.calls[1]


def test_image_sequences_in_and_out(tmp_path, interp):
    from ifrnet.io import write_png

    frames = moving_frames(4)
    (tmp_path / "in").mkdir()
    for i, f in enumerate(frames):
        write_png(tmp_path / "in" / f"img_{i + 1:03d}.png", f)
    summary = interpolate_video(
        tmp_path / "in" / "img_%03d.png",
        tmp_path / "out" / "%05d.png",
        interp,
        VideoOptions(factor=2, input_fps=Fraction(12)),
    )
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written][:2] == ["00000.png", "00001.png"] and len(written) == 8 == summary.frames_out
    from ifrnet.io import read_image

    assert np.array_equal(read_image(written[2]), frames[1])
    with pytest.raises(InputError, match="output exists"):
        interpolate_video(tmp_path / "in", tmp_path / "out" / "%05d.png", interp, VideoOptions(factor=2))


# -- bad input and safe output --


def _cli(capsys, *argv):
    code = main(["video", *map(str, argv), "--quiet"])
    return code, capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(tmp_path, capsys, checkpoint_s):
    ck = ("--checkpoint", checkpoint_s)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 20)
    audio_only = tmp_path / "tone.mka"
    with av.open(str(audio_only), "w") as out:
        from .videos import _encode_tone

        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        _encode_tone(out, stream, 0.2)
    # a valid H.264 stream header whose every packet is garbage: nothing decodes
    h264 = write_clip(tmp_path / "h264.mp4", moving_frames(3), codec="libx264", pix_fmt="yuv420p")
    empty = tmp_path / "empty.mkv"
    with av.open(str(h264)) as src, av.open(str(empty), "w") as out:
        template = src.streams.video[0]
        stream = out.add_stream_from_template(template)
        for i in range(5):
            packet = av.Packet(bytes(range(7, 200)))
            packet.pts = packet.dts = i * 512
            packet.time_base = template.time_base
            packet.stream = stream
            out.mux(packet)
    cases = [
        (tmp_path / "missing.mp4", "missing.mp4: no such file"),
        (text, "notes.mp4: not a readable video file"),
        (audio_only, "tone.mka: has no video stream"),
        (empty, "empty.mkv: no decodable video frames"),
    ]
    for path, message in cases:
        code, err = _cli(capsys, path, "-o", tmp_path / "out.mp4", *ck)
        assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out.mp4").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_damaged_stream_keeps_what_decodes(tmp_path, interp, capsys, checkpoint_s):
    frames = moving_frames(30)
    src = write_clip(tmp_path / "ok.mkv", frames)
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    bad = tmp_path / "damaged.mkv"
    bad.write_bytes(bytes(data))
    code, err = _cli(
        capsys, bad, "-o", tmp_path / "out.mkv", "--codec", "ffv1", "--pix-fmt", "bgr0", "--checkpoint", checkpoint_s
    )
    assert code == 0
    assert "note:" in err and "damaged data near frame" in err
    out, _, _ = read_clip(tmp_path / "out.mkv")
    assert len(out) == 60  # the timeline is kept: the frames around the hole are interpolated across it


def test_real_file_with_damaged_start_and_disordered_timestamps():
    # opencv_box.mp4: a damaged first slice, and presentation timestamps that do not rise in the
    # decoder's output order (0, 101, 67, 134, 34 ms, ...). The decoder's order is the right one:
    # consecutive frames differ less in it than sorted by pts (1.2 against 2.1 levels), so
    # frames keep it and are timed by their decode timestamps, as FFmpeg's best effort does.
    from ifrnet.video import open_source

    from .videos import SHARED_DATA

    with open_source(SHARED_DATA / "opencv_box.mp4") as reader:
        frames = list(reader.frames())
        warnings = reader.warnings
    times = [f.time for f in frames]
    assert len(times) == 455
    assert all(a < b for a, b in itertools.pairwise(times))
    assert any("timed by decode timestamps" in w for w in warnings)
    small = [f.image[::4, ::4].astype(np.float32) for f in frames[:60]]
    by_decoder = np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(small)])
    assert by_decoder < 1.6  # sorted by pts, the first 60 frames differ by 2.1 levels on average


def test_output_is_never_clobbered_or_the_input(tmp_path, capsys, checkpoint_s):
    src = write_clip(tmp_path / "in.mkv", moving_frames(3))
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"precious")
    code, err = _cli(capsys, src, "-o", existing, "--checkpoint", checkpoint_s)
    assert code == 1 and "output exists; pass --overwrite" in err
    assert existing.read_bytes() == b"precious"
    code, err = _cli(capsys, src, "-o", src, "--overwrite", "--checkpoint", checkpoint_s)
    assert code == 1 and "would overwrite the input" in err
    code, err = _cli(capsys, src, "-o", tmp_path / "out.xyz", "--checkpoint", checkpoint_s)
    assert code == 1 and "cannot tell the container format" in err
    assert (
        main(["video", str(src), "-o", str(existing), "--overwrite", "--quiet", "--checkpoint", str(checkpoint_s)]) == 0
    )
    assert read_clip(existing)[0][0].shape == (48, 64, 3)


def test_odd_sizes_need_a_suitable_pixel_format(tmp_path, interp):
    frames = [f[:47, :63] for f in moving_frames(3)]
    src = write_clip(tmp_path / "odd.mkv", frames)
    with pytest.raises(InputError, match="even width and height"):
        interpolate_video(src, tmp_path / "o.mp4", interp, VideoOptions(factor=2, pix_fmt="yuv420p"))
    # by default the RGB source is written 4:4:4 (H.264's nearest to RGB), which keeps odd sizes
    summary = interpolate_video(src, tmp_path / "o444.mp4", interp, VideoOptions(factor=2))
    assert read_clip(tmp_path / "o444.mp4")[0][0].shape == (47, 63, 3)
    with av.open(str(tmp_path / "o444.mp4")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"
    assert any("cannot write the source's bgr0; writing yuv444p" in n for n in summary.notices)


def test_interrupt_leaves_no_partial_output(tmp_path):
    class Interrupting(Interpolator):
        calls = 0

        def interpolate(self, *args, **kwargs):
            type(self).calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return super().interpolate(*args, **kwargs)

    src = write_clip(tmp_path / "in.mkv", moving_frames(10))
    with pytest.raises(KeyboardInterrupt):
        interpolate_video(src, tmp_path / "out.mp4", Interrupting(seeded_model()), VideoOptions(factor=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_rotation_and_colour_tags_are_kept(tmp_path, interp):
    src = tmp_path / "rot.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, 1  # BT.709, limited
        stream.set_display_rotation(90)
        for i, image in enumerate(moving_frames(3)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709"
            )
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    interpolate_video(src, tmp_path / "out.mp4", interp, VideoOptions(factor=2))
    with av.open(str(tmp_path / "out.mp4")) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range) == (1, 1, 1, 1)
        assert next(c.decode(video=0)).rotation == 90


def test_batched_pairs_give_the_same_video(tmp_path, interp):
    src = write_clip(tmp_path / "in.mkv", moving_frames(7))
    run(src, tmp_path / "one.mkv", interp, factor=3)
    run(src, tmp_path / "three.mkv", interp, factor=3, batch=3)
    assert len(interp.calls) == 2  # 6 pairs in batches of 3
    one, _, _ = read_clip(tmp_path / "one.mkv")
    three, _, _ = read_clip(tmp_path / "three.mkv")
    assert len(one) == len(three) == 21
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(one, three, strict=True)) <= 1


def test_ctrl_c_on_the_command_line_leaves_no_partial_file(tmp_path, checkpoint_s):
    import signal
    import subprocess
    import sys
    import time

    src = write_clip(tmp_path / "in.mkv", moving_frames(120, height=144, width=192))
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",  # a crash on the way out prints every thread's stack, not a bare -11
            "-m",
            "ifrnet",
            "video",
            str(src),
            "-o",
            str(out),
            "--checkpoint",
            str(checkpoint_s),
            "--factor",
            "4",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".out.*partial.mp4")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.*partial.mp4")), "the run never started writing"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IFRNet_S_test.pth", "in.mkv"]


def test_uhd_shorthand_runs_the_network_at_half_size(tmp_path, capsys, checkpoint_s):
    src = write_clip(tmp_path / "in.mkv", moving_frames(3, height=72, width=100))
    code = main(
        [
            "video",
            str(src),
            "-o",
            str(tmp_path / "o.mkv"),
            "--uhd",
            "--codec",
            "ffv1",
            "--pix-fmt",
            "bgr0",
            "--checkpoint",
            str(checkpoint_s),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "6 frames" in out and "2 interpolated" in out
    frames, _, _ = read_clip(tmp_path / "o.mkv")
    assert frames[1].shape == (72, 100, 3)
    # --uhd is --scale 0.5: given with another scale, neither silently wins
    argv = ["video", str(src), "-o", str(tmp_path / "p.mkv"), "--uhd", "--scale", "auto"]
    argv += ["--checkpoint", str(checkpoint_s)]
    assert main(argv) == 1
    assert "give either --uhd or --scale auto, not both" in capsys.readouterr().err
    assert not (tmp_path / "p.mkv").exists()


@pytest.mark.parametrize(
    ("options", "suffix"),
    [(VideoOptions(factor=2), ".mkv"), (VideoOptions(fps=Fraction(50)), ".mp4"), (VideoOptions(factor=2), ".ts")],
)
def test_a_capture_cut_mid_gop_stays_in_sync_with_its_audio(tmp_path, interp, options, suffix):
    """Issue 34: the first frames of a TS recording begun mid-GOP do not decode; the output's
    first frame must still be shown when the source's first decodable frame was, against the
    copied audio (it was put at the stream's declared start, 0.9 s early)."""
    src, video_at, audio_at = capture_cut_mid_gop(tmp_path / "cut.ts")
    with av.open(str(src)) as probe:
        declared = Fraction(probe.streams.video[0].start_time) * probe.streams.video[0].time_base
    assert video_at - declared > Fraction(1, 2)  # the case itself: half a second and more lost
    out = tmp_path / f"out{suffix}"
    summary = interpolate_video(src, out, interp, options)
    assert summary.audio == "copied"
    out_video, out_audio = first_times(out)
    assert abs((out_video - out_audio) - (video_at - audio_at)) <= Fraction(1, 100), (
        float(out_video - out_audio),
        float(video_at - audio_at),
    )


def _relative_times(path) -> list[Fraction]:
    _, times, _ = read_clip(path)
    return [t - times[0] for t in times]


def test_a_phone_clip_dropping_to_15_fps_doubles_to_a_steady_60(tmp_path, interp):
    """Issue 34: a phone clip at 30 fps that drops to 15 for a second (75 frames, 3 s, in MP4,
    whose average rate is 25) came out as 180 frames stamped at 50 fps: 3.6 s against 3 s of
    audio. The grid is 30 fps, the 15 fps second holds 4 frames per interval, and every frame is
    stamped at the time it shows: a steady 60 fps, as long as the source, the filling named."""
    times = [Fraction(i, 30) for i in range(30)] + [1 + Fraction(i, 15) for i in range(15)]
    times += [2 + Fraction(i, 30) for i in range(30)]
    src = write_clip(
        tmp_path / "phone.mp4",
        moving_frames(75),
        rate=Fraction(30),
        times=times,
        codec="libx264",
        pix_fmt="yuv420p",
        audio_seconds=3.0,
        tick=Fraction(1, 600),  # a phone's timescale: every stamp exact
    )
    summary = interpolate_video(src, tmp_path / "out.mp4", interp, VideoOptions(factor=2))
    assert summary.output_rate == 60 and (summary.frames_in, summary.frames_out) == (75, 180)
    assert _relative_times(tmp_path / "out.mp4") == [Fraction(k, 60) for k in range(180)]
    assert any("15 interval(s) longer than one frame at 30.000 fps" in n for n in summary.notices), summary.notices
    assert not any("variable frame rate" in n for n in summary.notices)


@pytest.mark.parametrize("suffix", [".mp4", ".y4m"])
def test_frames_between_irregular_stamps_are_stamped_between_them(tmp_path, interp, suffix):
    """A clip mixing 30 and 24 fps (no common grid): with --factor 2 each interval holds one new
    frame at its middle, stamped there where the container keeps per-frame times; YUV4MPEG2,
    which has none, says the variable timing is lost."""
    times = [Fraction(i, 30) for i in range(10)] + [Fraction(1, 3) + Fraction(i, 24) for i in range(10)]
    times += [Fraction(1, 3) + Fraction(10, 24) + Fraction(i, 30) for i in range(10)]
    src = write_clip(
        tmp_path / "mixed.mp4", moving_frames(30), rate=Fraction(30), times=times, codec="libx264", pix_fmt="yuv420p"
    )
    stamped = _relative_times(src)
    summary = interpolate_video(src, tmp_path / f"out{suffix}", interp, VideoOptions(factor=2))
    assert summary.frames_out == 60  # N per interval: no interval spans two frames of the 27.7 fps average
    if suffix == ".y4m":
        assert any("variable frame rate is lost" in n for n in summary.notices), summary.notices
        return
    expected = [t for a, b in itertools.pairwise(stamped) for t in (a, (a + b) / 2)]
    assert _relative_times(tmp_path / "out.mp4")[:-2] == expected
    assert any("variable frame rate kept" in n for n in summary.notices), summary.notices


def test_video_starting_after_its_audio_is_neither_truncated_nor_longer(tmp_path, interp):
    """Issue 34: an MKV whose video starts 0.4 s after its audio was said to end early
    ("truncated?") and to hold 51 frames for 40: the file's end was added to the video's start."""
    from ifrnet.video import open_source

    times = [Fraction(2, 5) + Fraction(i, 25) for i in range(40)]
    src = write_clip(tmp_path / "late.mkv", moving_frames(40), times=times, audio_seconds=2.0)
    with open_source(src) as reader:
        assert (reader.info.start, reader.info.frame_count, reader.info.duration) == (
            Fraction(2, 5),
            40,
            Fraction(8, 5),
        )
    counted = []
    summary = interpolate_video(
        src,
        tmp_path / "out.mkv",
        interp,
        VideoOptions(factor=2, **LOSSLESS),
        progress=lambda total: counted.append(total) or Progress(),
    )
    assert counted == [80] and summary.frames_in == 40
    assert not any("truncated" in n for n in summary.notices), summary.notices


@pytest.mark.parametrize(("codec", "suffix"), [("libx265", ".mkv"), ("libx265", ".mp4"), ("libsvtav1", ".mkv")])
def test_hdr10_metadata_reaches_the_output(tmp_path, interp, codec, suffix):
    """Issue 34: the mastering display and content light level of an HDR10 source vanished; they
    are now written into the output's bitstream (x265's master-display / max-cll, SVT-AV1's
    mastering-display / content-light) and decoded back unchanged, on a new frame too."""
    from ifrnet.video.formats import HdrMetadata

    src = hdr10_clip(tmp_path / "hdr.mkv")
    with av.open(str(src)) as container:
        source = HdrMetadata.of(next(container.decode(video=0)))
    assert source is not None and source.max_cll == 1000 and source.luminance == (Fraction(1, 10000), 1000)
    out = tmp_path / f"out{suffix}"
    summary = interpolate_video(src, out, interp, VideoOptions(factor=2, codec=codec))
    assert not any("HDR10" in n for n in summary.notices), summary.notices
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
        assert frames[0].format.name == "yuv420p10le" and frames[0].color_trc == 16
        carried = HdrMetadata.of(frames[0])
    assert (carried.max_cll, carried.max_fall) == (source.max_cll, source.max_fall)
    # AV1 stores the colour volume in binary fixed point (chromaticity in 1/65536, minimum
    # luminance in 1/16384 cd/m²); HEVC in x265's decimal units, exactly
    for ours, theirs in zip(_flat(carried), _flat(source), strict=True):
        assert ours == theirs if codec == "libx265" else ours == pytest.approx(theirs, rel=1e-4, abs=1e-4)


def _flat(hdr) -> list[Fraction]:
    return [*itertools.chain.from_iterable(hdr.primaries), *hdr.white_point, *hdr.luminance]


def test_hdr10_metadata_an_encoder_cannot_carry_is_named(tmp_path, interp):
    src = hdr10_clip(tmp_path / "hdr.mkv", n=3)
    summary = interpolate_video(src, tmp_path / "out.mkv", interp, VideoOptions(factor=2, codec="ffv1"))
    assert any(
        "encoder ffv1 cannot carry the source's HDR10 mastering display (SMPTE ST 2086) and content light level "
        "(MaxCLL 1000, MaxFALL 400); dropped" in n
        for n in summary.notices
    ), summary.notices


def _read_png16(path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name == "rgb48be", f"{path.name}: {frame.format.name}"
        return frame.to_ndarray(format="rgb48le")


@pytest.mark.parametrize("output", ["frames", "clip.mkv"])
def test_a_16_bit_png_sequence_stays_16_bit(tmp_path, interp, output):
    """Issue 34: a 16-bit PNG sequence (a renderer's or a grader's output) was read through
    Pillow, which rounds 16-bit RGB to 8 bits, and came out as 8-bit PNG: off by up to 279/65535.
    Its frames now pass through to 16-bit PNG (or a 16-bit video) exactly, new frames at 16 bits."""
    from ifrnet.io.images import png_bytes

    rng = np.random.default_rng(5)
    frames = [f.astype(np.uint16) * 257 + rng.integers(0, 257, f.shape).astype(np.uint16) for f in moving_frames(3)]
    (tmp_path / "in").mkdir()
    for i, image in enumerate(frames):
        (tmp_path / "in" / f"{i:04d}.png").write_bytes(png_bytes(image))
    out = tmp_path / output
    options = VideoOptions(factor=2, codec="ffv1" if output.endswith(".mkv") else None)
    summary = interpolate_video(tmp_path / "in", f"{out}/" if output == "frames" else out, interp, options)
    assert summary.input.depth == 16 and summary.frames_out == 6
    if output == "frames":
        written = [_read_png16(p) for p in sorted(out.iterdir())]
    else:
        assert summary.pix_fmt.endswith(("48le", "64le", "16le")), summary.pix_fmt
        with av.open(str(out)) as container:
            written = [f.to_ndarray(format="rgb48le") for f in container.decode(video=0)]
    for i, image in enumerate(frames):
        assert np.array_equal(written[2 * i], image), f"source frame {i} changed"
    assert np.unique(written[1] % 257).size > 1  # the new frame has values no 8-bit frame has


@pytest.mark.parametrize(
    ("suffix", "codec", "expected_codec", "expected_format"),
    [(".gif", None, "gif", "bgr8"), (".gif", "gif", "gif", "bgr8"), (".webm", None, "vp9", "yuv420p")],
)
def test_gif_and_webm_work_at_their_defaults(tmp_path, interp, suffix, codec, expected_codec, expected_format):
    """Issue 34: `--codec gif` failed at the first frame ("Operation not supported": it chose pal8,
    which swscale cannot write), and .gif and .webm outputs were refused with the default libx264.
    Each container now gets FFmpeg's own encoder, in a pixel format its frames convert to."""
    src = write_clip(tmp_path / "clip.mkv", moving_frames(4), codec="libx264", pix_fmt="yuv420p")
    out = tmp_path / f"out{suffix}"
    summary = interpolate_video(src, out, interp, VideoOptions(factor=2, codec=codec))
    assert summary.frames_out == 8
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == expected_codec
        frames = list(container.decode(stream))
    assert len(frames) == 8 and summary.pix_fmt == expected_format


def test_a_pixel_format_frames_cannot_be_converted_to_is_refused_before_work(tmp_path, capsys, checkpoint_s):
    src = write_clip(tmp_path / "clip.mkv", moving_frames(3))
    code, err = _cli(capsys, src, "-o", tmp_path / "o.gif", "--pix-fmt", "pal8", "--checkpoint", checkpoint_s)
    assert code == 1 and err.count("\n") == 1 and "cannot be converted to pal8" in err, err
    assert not list(tmp_path.glob("*o*.gif"))
