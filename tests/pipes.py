"""Both ends of a YUV4MPEG2 pipe, as ``ffmpeg ... -f yuv4mpegpipe -`` and ``ffmpeg -i - ...`` would be,
made with PyAV (FFmpeg's libraries: the machines have no ffmpeg program).

``python tests/pipes.py produce CLIP SECONDS WIDTH HEIGHT PIX_FMT [FIELD_ORDER]`` writes CLIP's
frames, scaled, converted and looped until SECONDS of it, as YUV4MPEG2 on standard output
(FIELD_ORDER: FFmpeg's number, 2 for top field first, written as the header's ``It``).
``python tests/pipes.py consume`` reads YUV4MPEG2 on standard input and prints one JSON line: the
header's format, rate and field order, and the sha256 of each frame's planes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from fractions import Fraction

import av


def produce(clip: str, seconds: float, width: int, height: int, pix_fmt: str, field_order: int = 0) -> None:
    with av.open(clip) as src:
        stream = src.streams.video[0]
        rate = Fraction(stream.average_rate or 25)
        frames = [f.reformat(width, height, pix_fmt) for f in src.decode(video=0)]
    wanted = round(Fraction(seconds) * rate)
    with av.open("pipe:1", "w", format="yuv4mpegpipe", options={"strict": "unofficial"}) as out:
        video = out.add_stream("wrapped_avframe", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if field_order:
            video.codec_context.field_order = field_order
        for i in range(wanted):
            # there and back again: a loop that never jumps, so no pair is a scene cut
            cycle = i % (2 * len(frames) - 2)
            frame = frames[cycle if cycle < len(frames) else 2 * len(frames) - 2 - cycle]
            frame.pts, frame.time_base = i, 1 / rate
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)


def consume() -> None:
    with av.open("pipe:0", format="yuv4mpegpipe") as src:
        stream = src.streams.video[0]
        ctx = stream.codec_context
        hashes = [
            hashlib.sha256(b"".join(bytes(p) for p in frame.planes)).hexdigest()[:16] for frame in src.decode(video=0)
        ]
        print(
            json.dumps(
                {
                    "pix_fmt": ctx.pix_fmt,
                    "rate": str(stream.average_rate),
                    "field_order": int(ctx.field_order or 0),
                    "size": [ctx.width, ctx.height],
                    "frames": hashes,
                }
            )
        )


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(
            sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], *map(int, sys.argv[7:])
        )
    else:
        consume()
