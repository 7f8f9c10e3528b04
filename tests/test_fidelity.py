"""`ifrnet video` keeps what the source carries: its frames, bit depth, colour, streams and order.

Each test builds a small input from ../shared/data clips (or generated frames) that showed one
fault, and checks the output against the source itself.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import av
import numpy as np
import pytest

from ifrnet.cli import main
from ifrnet.video import VideoOptions, interpolate_video, open_source

from .videos import SHARED_DATA, add_ass_subtitles, moving_frames, real_frames, write_clip

FFV1 = {"codec": "ffv1"}


def encode(path, frames, rate=Fraction(25), codec="ffv1", pix_fmt="yuv420p", **kw):
    """``write_clip`` with YUV 4:2:0 by default, the usual pixel format of real files."""
    return write_clip(path, frames, rate=rate, codec=codec, pix_fmt=pix_fmt, **kw)


def native(path):
    """Every frame of the first video stream in its own pixel format, and the stream's codec context facts."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray() for f in c.decode(stream)]
        ctx = stream.codec_context
        return frames, {"pix_fmt": ctx.pix_fmt, "color_range": int(ctx.color_range), "rate": stream.average_rate}


def run(src, dst, interp, **kw):
    interp.calls.clear()
    return interpolate_video(src, dst, interp, VideoOptions(**kw))


# -- pass-through by identity --


@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(30000, 1001)])
def test_ntsc_matroska_doubles_exactly_and_passes_sources_bit_exact(tmp_path, interp, rate):
    # Matroska stores 1 ms ticks: no source time is an exact multiple of the output frame interval
    src = encode(tmp_path / "in.mkv", real_frames("visp_castel.mkv", 10, size=(96, 64)), rate=rate)
    with av.open(str(src)) as c:
        assert c.streams.video[0].time_base == Fraction(1, 1000)
    summary = run(src, tmp_path / "out.mkv", interp, factor=2, **FFV1)
    source, _ = native(src)
    out, facts = native(tmp_path / "out.mkv")
    assert len(out) == 2 * len(source) == summary.frames_out
    assert facts["pix_fmt"] == "yuv420p"
    for i, frame in enumerate(source):
        assert np.array_equal(out[2 * i], frame), f"source frame {i} was not passed through bit-exact"
    # the network ran once per new frame, at t = 1/2 exactly (the last frame is held)
    assert interp.calls == [[0.5]] * (len(source) - 1)
    assert summary.interpolated == len(source) - 1


def test_phone_timestamps_keep_every_source_frame():
    # opencv_box.mp4: jittery microsecond timestamps, B-frames and a damaged first slice
    from ifrnet.video.schedule import Timeline

    with open_source(SHARED_DATA / "opencv_box.mp4") as reader:
        times = [f.time for f in reader.frames()]
        rate, tb = reader.info.rate, reader.info.time_base
    timeline = Timeline(times[0], rate, factor=2, time_base=tb)
    steps = [s for t in times[1:] for s in timeline.steps_to(t)] + timeline.finish(None)
    assert len(times) == 455 and len(steps) == 910
    assert [s.t for s in steps[::2]] == [0] * 455 and all(s.t == Fraction(1, 2) for s in steps[1::2])


def test_timestamps_swapped_by_the_container_keep_decoder_order(tmp_path):
    # H.264 with B-frames remuxed with pts := dts, as AVI stores them: the decoder hands out frames
    # in presentation order, stamped 0, 2, 1, 3, 5, 4, ...
    frames = real_frames("opencv_vtest.avi", 12, size=(96, 72), start=300)
    coded = encode(tmp_path / "b.mp4", frames, codec="libx264", options={"bframes": "2", "crf": "10"})
    swapped = tmp_path / "swapped.mkv"
    with av.open(str(coded)) as c, av.open(str(swapped), "w") as out:
        stream = out.add_stream_from_template(c.streams.video[0])
        for packet in c.demux(c.streams.video[0]):
            if packet.dts is None:
                continue
            packet.pts = packet.dts
            packet.stream = stream
            out.mux(packet)
    with av.open(str(swapped)) as c:
        stamps = [f.pts for f in c.decode(video=0)]
    assert stamps != sorted(stamps), "the remux did not reproduce swapped timestamps"
    with open_source(swapped) as reader:
        decoded = list(reader.frames())
        warnings = reader.warnings
    assert len(decoded) == len(frames)
    assert all(a.time < b.time for a, b in itertools.pairwise(decoded))
    for i, frame in enumerate(decoded):
        errors = [np.abs(frame.image.astype(int) - f).mean() for f in frames]
        assert int(np.argmin(errors)) == i, f"frame {i} read out of order"
    assert any("decoder order" in w for w in warnings)


# -- bit depth, chroma and range --


def _ramp_frames(n: int, height: int = 32, width: int = 128) -> list[np.ndarray]:
    """A 16-bit horizontal ramp over the whole range with a texture sliding across it."""
    ramp = np.linspace(0, 65535, width)[None, :, None].repeat(height, 0).repeat(3, 2)
    texture = np.kron(np.random.default_rng(3).random((height // 8, width // 8 + n, 1)), np.ones((8, 8, 3)))
    frames = []
    for i in range(n):
        shade = 0.85 + 0.15 * texture[:, 2 * i : 2 * i + width // 8 * 8][:, :width]
        frames.append(np.clip(ramp * shade, 0, 65535).astype(np.uint16))
    return frames


def test_ten_bit_source_stays_ten_bit(tmp_path, interp):
    src = encode(tmp_path / "in10.mkv", _ramp_frames(4), pix_fmt="yuv420p10le")
    summary = run(src, tmp_path / "out.mkv", interp, factor=2, **FFV1)
    source, _ = native(src)
    out, facts = native(tmp_path / "out.mkv")
    assert facts["pix_fmt"] == "yuv420p10le" and len(out) == 8
    assert all(np.array_equal(out[2 * i], f) for i, f in enumerate(source))
    luma = out[1][: out[1].shape[0] * 2 // 3]  # the Y plane of a new frame
    assert len(np.unique(luma)) > 256 * 2, "the interpolated frame holds 8-bit data"
    assert summary.interpolated == 3
    # and the default H.264 encoder writes 10 bits too
    run(src, tmp_path / "out.mp4", interp, factor=2)
    assert native(tmp_path / "out.mp4")[1]["pix_fmt"] == "yuv420p10le"


def test_yuv444_stays_444_and_full_range_is_tagged_full(tmp_path, interp):
    frames = moving_frames(3)
    src444 = encode(tmp_path / "in444.mkv", frames, pix_fmt="yuv444p")
    run(src444, tmp_path / "out444.mp4", interp, factor=2)
    assert native(tmp_path / "out444.mp4")[1]["pix_fmt"] == "yuv444p"
    full = encode(tmp_path / "full.mkv", frames, pix_fmt="yuv420p", colour={"color_range": 2})
    assert native(full)[1]["color_range"] == 2
    run(full, tmp_path / "full_out.mkv", interp, factor=2, **FFV1)
    out, facts = native(tmp_path / "full_out.mkv")
    assert facts["color_range"] == 2  # JPEG ("pc"); it used to come out tagged limited
    assert all(np.array_equal(out[2 * i], f) for i, f in enumerate(native(full)[0]))
    # the new frame keeps full-range levels: dark pixels below 16, as in the source
    assert out[1].min() < 16 and native(full)[0][0].min() < 16


def test_yuv_rgb_yuv_round_trip_has_no_bias():
    # A frame the network returns unchanged must come back as it went in. FFmpeg's default swscale
    # flags made a yuv420p -> RGB -> yuv420p round trip about one level darker.
    import av

    from ifrnet.video.formats import Colour, from_rgb, to_rgb

    image = moving_frames(1, height=96, width=128)[0]
    colour = Colour(colorspace=1, color_range=1)  # BT.709, limited
    for pix_fmt in ("yuv420p", "yuv444p", "yuv420p10le"):
        source = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
            format=pix_fmt, dst_colorspace="itu709", dst_color_range=1
        )
        back = from_rgb(to_rgb(source, colour), pix_fmt, colour)
        diff = back.to_ndarray().astype(float) - source.to_ndarray()
        assert abs(diff.mean()) < 0.05, pix_fmt
        luma = diff[0] if "444" in pix_fmt else diff[: image.shape[0]]  # 4:2:0 chroma is resampled twice
        assert np.percentile(np.abs(luma), 99) <= 1, pix_fmt  # saturated colours may clip in RGB


# -- other streams --


def _ass_subtitles(out, video):
    out.add_attachment("Font.ttf", "font/ttf", b"\x00\x01\x00\x00 font bytes")
    out.set_chapters(
        [
            {"id": 1, "start": 0, "end": 2, "time_base": Fraction(1, 25), "metadata": {"title": "Opening"}},
            {"id": 2, "start": 2, "end": 4, "time_base": Fraction(1, 25), "metadata": {"title": "Part A"}},
        ]
    )
    video.metadata["language"] = "jpn"
    out.metadata["title"] = "Episode 1"
    add_ass_subtitles(out, [(40, 80, "Hello")], title="Signs")


def _streams(path):
    with av.open(str(path)) as c:
        subs = [(dict(s.metadata), [bytes(p) for p in c.demux(s) if p.size]) for s in c.streams.subtitles]
    with av.open(str(path)) as c:
        attachments = [(s.metadata.get("filename"), bytes(s.data)) for s in c.streams if s.type == "attachment"]
        chapters = [(ch["metadata"].get("title"), ch["start"] * ch["time_base"]) for ch in c.chapters()]
        return subs, attachments, chapters, c.metadata.get("title"), c.streams.video[0].metadata.get("language")


def test_subtitles_chapters_attachments_and_tags_are_kept(tmp_path, interp):
    src = encode(tmp_path / "in.mkv", moving_frames(4), setup=_ass_subtitles)
    summary = run(src, tmp_path / "out.mkv", interp, factor=2, **FFV1)
    subs, attachments, chapters, title, language = _streams(tmp_path / "out.mkv")
    assert subs and subs[0][0]["language"] == "jpn" and subs[0][0]["title"] == "Signs"
    assert subs[0][1] == [b"0,0,Default,,0,0,0,,Hello"]
    assert attachments == [("Font.ttf", b"\x00\x01\x00\x00 font bytes")]
    assert chapters == [("Opening", 0), ("Part A", Fraction(2, 25))]
    assert title == "Episode 1" and language == "jpn"
    assert summary.notices == []
    # MP4 holds neither ASS nor attachments: the text becomes MP4 timed text, the font is dropped
    summary = run(src, tmp_path / "out.mp4", interp, factor=2)
    notes = "\n".join(summary.notices)
    assert "subtitle stream 1 (ssa, jpn) converted to MP4 timed text (mov_text)" in notes
    assert "attachment(s) Font.ttf dropped" in notes and "write .mkv" in notes
    subs, _, chapters, _, _ = _streams(tmp_path / "out.mp4")
    assert subs[0][0]["language"] == "jpn" and any(b"Hello" in cue for cue in subs[0][1])
    assert [title for title, _ in chapters] == ["Opening", "Part A"]


# -- alpha, interlacing --


def test_transparency_is_refused_not_dropped(tmp_path, interp, capsys, checkpoint_s):
    rgba = [np.dstack([f, np.full(f.shape[:2], 128, np.uint8)]) for f in moving_frames(3)]
    mov = tmp_path / "alpha.mov"
    with av.open(str(mov), "w") as out:
        stream = out.add_stream("qtrle", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "argb"
        for i, image in enumerate(rgba):
            frame = av.VideoFrame.from_ndarray(image, format="rgba").reformat(format="argb")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    webm = encode(tmp_path / "alpha.webm", moving_frames(3), codec="libvpx-vp9", pix_fmt="yuva420p")
    gif = _gif(tmp_path / "alpha.gif", [np.dstack([f, (f[..., 0] > 128) * 255]) for f in moving_frames(4)])
    for path in (mov, webm, gif):
        code = main(["video", str(path), "-o", str(tmp_path / "out.mkv"), "--quiet", "--checkpoint", str(checkpoint_s)])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and ("alpha" in err or "transparent" in err), err
        assert "flatten it first" in err and "ffmpeg" in err
        assert not (tmp_path / "out.mkv").exists()
    # an opaque alpha channel is no reason to refuse
    opaque = encode(tmp_path / "opaque.mkv", moving_frames(3), pix_fmt="yuva420p")
    assert run(opaque, tmp_path / "opaque_out.mkv", interp, factor=2, **FFV1).frames_out == 6
    # nor an opaque GIF (decoded as bgra), whose 10 ms delays of 70, 70, 60 ms still give exactly 2x
    opaque_gif = _gif(tmp_path / "opaque.gif", [np.dstack([f, np.full(f.shape[:2], 255)]) for f in moving_frames(4)])
    assert run(opaque_gif, tmp_path / "gif_out.mkv", interp, factor=2, **FFV1).frames_out == 8
    assert interp.calls == [[0.5]] * 3


def _gif(path, rgba_frames):
    from PIL import Image

    images = [Image.fromarray(f.astype(np.uint8), "RGBA") for f in rgba_frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=[70, 70, 60, 70], loop=0, disposal=2)
    return path


def test_interlaced_input_is_noted_and_deinterlaced_on_request(tmp_path, interp):
    src = encode(tmp_path / "tff.mkv", moving_frames(4), codec="libx264", options={"x264-params": "interlaced=1:tff=1"})
    summary = run(src, tmp_path / "out.mkv", interp, factor=2, **FFV1)
    assert any("interlaced (top field first)" in n and "--deinterlace" in n for n in summary.notices)
    summary = run(src, tmp_path / "deint.mkv", interp, factor=2, deinterlace=True, **FFV1)
    assert summary.frames_out == 8 and not any("interlaced" in n for n in summary.notices)
    # bwdif changed the frames: they are not the decoded ones
    plain, _ = native(tmp_path / "out.mkv")
    deint, _ = native(tmp_path / "deint.mkv")
    assert not np.array_equal(plain[2], deint[2])


@pytest.mark.parametrize(("code", "shown"), [(2, 2), (3, 3), (4, 2), (5, 3)])
def test_a_stream_tag_names_the_field_order_of_frames_without_flags(tmp_path, interp, code, shown):
    """ffv1 frames carry no interlacing flags, so the container's AVFieldOrder tag decides, read as
    FFmpeg writes it (tb, 4, for top field first); a YUV4MPEG2 output (t or b only) carries it on."""
    names = {2: "top field first", 3: "bottom field first"}

    def tag(_container, stream):
        stream.codec_context.field_order = code

    src = encode(tmp_path / "in.mkv", moving_frames(3), setup=tag)
    with av.open(str(src)) as c:
        assert int(c.streams.video[0].codec_context.field_order) == code
    summary = run(src, tmp_path / "out.y4m", interp, factor=2)
    assert any(f"interlaced ({names[shown]})" in n for n in summary.notices), summary.notices
    with av.open(str(tmp_path / "out.y4m")) as c:
        assert int(c.streams.video[0].codec_context.field_order) == shown


def test_the_frames_own_field_order_wins_over_the_stream_tag(tmp_path, interp):
    """An interlaced H.264 bitstream says top field first in every picture; a container tag saying
    bottom first (bb) is what a remux can leave behind, and bwdif would follow the pictures."""

    def tag(_container, stream):
        stream.codec_context.field_order = 3

    options = {"x264-params": "interlaced=1:tff=1"}
    src = encode(tmp_path / "tff.mkv", moving_frames(4), codec="libx264", options=options, setup=tag)
    with av.open(str(src)) as c:
        assert int(c.streams.video[0].codec_context.field_order) == 3
    summary = run(src, tmp_path / "out.mkv", interp, factor=2, **FFV1)
    assert any("interlaced (top field first)" in n for n in summary.notices), summary.notices


# -- image sequences, names and rotation --


def _sequence(folder, names, frames):
    from ifrnet.io import write_png

    folder.mkdir()
    for name, frame in zip(names, frames, strict=True):
        write_png(folder / name, frame)
    return folder


def test_numbered_images_in_numeric_order_and_gaps_timed(tmp_path, interp):
    from ifrnet.io import read_image

    frames = moving_frames(12)
    seq = _sequence(tmp_path / "seq", [f"{i + 1}.png" for i in range(12)], frames)
    run(seq, tmp_path / "out" / "%03d.png", interp, factor=2)
    assert np.array_equal(read_image(tmp_path / "out" / "018.png"), frames[9])  # 10.png, not 2.png
    # 0001-0004 and 0007-0010: the missing 0005-0006 are two intervals, interpolated across
    gap = _sequence(tmp_path / "gap", [f"{n:04d}.png" for n in (1, 2, 3, 4, 7, 8, 9, 10)], frames[:8])
    summary = run(gap, tmp_path / "gap_out" / "%03d.png", interp, factor=2)
    assert summary.frames_out == 20
    assert any("frame number(s) 5-6 missing" in n for n in summary.notices)
    assert np.array_equal(read_image(tmp_path / "gap_out" / "012.png"), frames[4])  # 0007.png at 6 intervals
    assert interp.calls[3] == pytest.approx([k / 6 for k in range(1, 6)])  # 0004 -> 0007: three intervals


def test_percent_in_an_existing_file_name_is_a_file(tmp_path, interp):
    for name in ("100%done.mkv", "Summer%20day.mkv"):
        src = encode(tmp_path / name, moving_frames(3))
        out = tmp_path / f"out {name}"
        summary = run(src, out, interp, factor=2, **FFV1)
        assert out.is_file() and summary.frames_out == 6


def test_rotated_source_gives_upright_png_frames(tmp_path, interp):
    from ifrnet.io import read_image

    frames = moving_frames(3)
    src = encode(
        tmp_path / "rot.mp4",
        frames,
        codec="libx264",
        pix_fmt="yuv444p",
        options={"crf": "0"},
        setup=lambda out, stream: stream.set_display_rotation(90),
    )
    run(src, tmp_path / "png" / "%02d.png", interp, factor=2)
    first = read_image(tmp_path / "png" / "00.png")
    assert first.shape == (64, 48, 3)
    # FFmpeg's autorotate: a display matrix of +90 degrees (counter-clockwise) turns the picture so
    assert np.abs(first.astype(int) - np.rot90(frames[0]).astype(int)).max() <= 2


def test_input_folder_as_output_is_refused_and_untouched(tmp_path, capsys, checkpoint_s):
    seq = _sequence(tmp_path / "seq", [f"{i:08d}.png" for i in range(4)], moving_frames(4))
    before = {p.name: p.read_bytes() for p in seq.iterdir()}
    for output in (f"{seq}/", str(seq / "%08d.png"), str(seq / "new_%03d.png")):
        code = main(["video", str(seq), "-o", output, "--overwrite", "--quiet", "--checkpoint", str(checkpoint_s)])
        err = capsys.readouterr().err
        assert code == 1 and "would write into the input sequence" in err and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in seq.iterdir()} == before
    # a linked path to the same file is the same file
    src = encode(tmp_path / "in.mkv", moving_frames(3))
    (tmp_path / "link.mkv").symlink_to(src)
    code = main(["video", str(src), "-o", str(tmp_path / "link.mkv"), "--overwrite", "--quiet"])
    assert code == 1 and "would overwrite the input" in capsys.readouterr().err


# -- the engines at 16 bits --


def sixteen_bit_agrees(engine) -> None:
    frames8 = real_frames("visp_castel.mkv", 2, size=(64, 48))
    frames16 = [f.astype(np.uint16) * 257 for f in frames8]
    out8 = engine.interpolate(*frames8, [0.5])[0]
    out16 = engine.interpolate(*frames16, [0.5])[0]
    assert out16.dtype == np.uint16 and out16.shape == out8.shape
    # the same prediction, rounded to 16 bits instead of 8: within half an 8-bit level
    assert np.abs(out16 / 257 - out8).max() <= 0.5 + 1e-3
    assert (out16 % 257 != 0).mean() > 0.5  # and more than 8 bits of it kept


def test_torch_engine_takes_sixteen_bit_frames():
    from ifrnet import Interpolator

    from .conftest import seeded_model

    sixteen_bit_agrees(Interpolator(seeded_model("IFRNet_S")))
