"""The caption file reader (strict, with line numbers) and the writers."""

from __future__ import annotations

import pytest

from transcripts.formats import (
    CaptionFormatError,
    ParsedCue,
    parse_captions,
    parse_srt,
    parse_vtt,
    write_srt,
    write_text,
    write_vtt,
)

GOOD_VTT = (
    "\ufeffWEBVTT - lecture\r\n"
    "Kind: captions\r\n"
    "\r\n"
    "NOTE made by hand\r\n"
    "\r\n"
    "intro\r\n"
    "00:01.000 --> 00:04.500 align:start\r\n"
    "<v Dr. Rivera>Good <b>morning</b> &amp; welcome\r\n"
    "\r\n"
    "01:00:02.250 --> 01:00:03.000\r\n"
    "second line\r\n"
    "continues\r\n"
).encode()

GOOD_SRT = b"1\n00:00:01,000 --> 00:00:04,500\nGood morning\n\n2\n00:00:05,000 --> 00:00:06,000\n<i>Bye</i>\n"


def test_vtt_reads_cues_speakers_and_markup():
    cues = parse_vtt(GOOD_VTT)
    assert [(c.start_ms, c.end_ms, c.text, c.speaker) for c in cues] == [
        (1000, 4500, "Good morning & welcome", "Dr. Rivera"),
        (3_602_250, 3_603_000, "second line continues", ""),
    ]
    assert cues[0].line == 7


def test_srt_reads_cues():
    cues = parse_srt(GOOD_SRT)
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (1000, 4500, "Good morning"),
        (5000, 6000, "Bye"),
    ]
    assert parse_captions(GOOD_SRT, "x.srt") == cues
    assert parse_captions(GOOD_VTT, "x.txt")[0].speaker == "Dr. Rivera"


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b"WEBVT\n\n00:01.000 --> 00:02.000\nx\n", 1, "WEBVTT"),
        (b"WEBVTT\n\n00:01.000 -> 00:02.000\nx\n", 3, "timing"),
        (
            b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:05.000 --> 00:04.000\nback\n",
            6,
            "ends before",
        ),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n00:03.000 --> 00:04.000\nno gap\n", 5, "-->"),
        (b"WEBVTT\n\n00:01,000 --> 00:02,000\nx\n", 3, "timing"),
        (b"WEBVTT\n\n", 1, "no cues"),
        (b"WEBVTT\n\nabc\n\xff\xfe\n", 4, "UTF-8"),
    ],
)
def test_bad_vtt_names_the_line(data, line, fragment):
    with pytest.raises(CaptionFormatError) as caught:
        parse_vtt(data)
    assert caught.value.line == line
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"one\n00:00:01,000 --> 00:00:02,000\nx\n", 1),
        (b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:01 --> 00:00:02\nx\n", 6),
        (b"1\n00:00:03,000 --> 00:00:02,000\nx\n", 2),
        (b"1\n", 2),
        (b"", 1),
    ],
)
def test_bad_srt_names_the_line(data, line):
    with pytest.raises(CaptionFormatError) as caught:
        parse_srt(data)
    assert caught.value.line == line


def test_writers_round_trip_and_escape():
    cues = [
        ParsedCue(0, 1500, "a < b & c --> d", "Ann"),
        ParsedCue(3_723_004, 3_724_000, "later", ""),
    ]
    vtt = write_vtt(cues)
    assert vtt.startswith(
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\n<v Ann>a &lt; b &amp; c --&gt; d"
    )
    assert "01:02:03.004 --> 01:02:04.000" in vtt
    back = parse_vtt(vtt.encode())
    assert [(c.start_ms, c.end_ms, c.text, c.speaker) for c in back] == [
        (0, 1500, "a < b & c --> d", "Ann"),
        (3_723_004, 3_724_000, "later", ""),
    ]
    srt = write_srt(cues)
    assert "01:02:03,004 --> 01:02:04,000" in srt
    assert [c.text for c in parse_srt(srt.encode())] == ["Ann: a < b & c -> d", "later"]
    assert write_text(cues) == "[00:00:00] Ann: a < b & c --> d\n\n[01:02:03] later\n"
