"""Write Janus recording files (.mjr, version 2) of an Opus tone, as Janus's
recorder does: "MJR00002", a JSON header (codec, first-packet wall time in
µs), then per RTP packet "MEET" + relative ms (u32) + length (u16) + packet.
janus-pp-rec reads them like Janus's own (tests/faults check that)."""

from __future__ import annotations

import array
import fractions
import json
import math
import struct
from pathlib import Path

SAMPLE_RATE = 48_000
FRAME = 960  # 20 ms


def opus_tone_mjr(path: Path, seconds: float, first_packet_us: int, frequency: int = 440) -> None:
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32_000
    encoder.time_base = fractions.Fraction(1, SAMPLE_RATE)
    period = array.array(
        "h",
        (int(6000 * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)) for n in range(FRAME)),
    ).tobytes()
    header = json.dumps({"t": "a", "c": "opus", "s": first_packet_us, "u": first_packet_us})
    with open(path, "wb") as out:
        out.write(b"MJR00002")
        out.write(struct.pack(">H", len(header)) + header.encode())
        seq = 0
        for index in range(int(seconds * SAMPLE_RATE / FRAME)):
            frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
            frame.planes[0].update(period)
            frame.sample_rate = SAMPLE_RATE
            frame.pts = index * FRAME
            frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
            for packet in encoder.encode(frame):
                rtp = struct.pack(">BBHII", 0x80, 111, seq & 0xFFFF, seq * FRAME, 0x1234)
                rtp += bytes(packet)
                out.write(b"MEET" + struct.pack(">IH", seq * 20, len(rtp)) + rtp)
                seq += 1
