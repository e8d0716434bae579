"""playback.ingest: the active-speaker picture (no Janus or ffmpeg needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from playback.ingest import Track, picture_shots

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def span(pk, start_s, end_s, offset_ms):
    return SimpleNamespace(
        pk=pk,
        started_at=T0 + timedelta(seconds=start_s),
        ended_at=T0 + timedelta(seconds=end_s),
        media_offset_ms=offset_ms,
    )


def video(span_id, user_id, media_start_ms):
    return Track(
        path=Path(f"rec1-s{span_id}-u{user_id}-aa-video-1.mjr"),
        span_id=span_id,
        user_id=user_id,
        kind="video",
        codec="vp8",
        first_packet=T0,
        media_start_ms=media_start_ms,
    )


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def shots_of(shots):
    return [(shot.track.user_id, shot.start_ms, shot.end_ms) for shot in shots]


def test_the_picture_starts_on_the_first_video_and_cuts_to_who_starts_talking():
    spans = [span(1, 0, 30, 0)]
    tracks = [video(1, 7, 200), video(1, 8, 100), video(1, 9, 300)]
    talks = [(at(5), 9), (at(6), 7), (at(12), 7), (at(20), 8), (at(21), 99)]
    assert shots_of(picture_shots(tracks, spans, talks)) == [
        (8, 0, 5000),  # the first video to arrive
        (9, 5000, 12000),  # Cleo talks at 5 s; Ann at 6 s is within the 2 s hold
        (7, 12000, 20000),
        (8, 20000, 30000),  # 99 has no video: no cut
    ]


def test_pauses_cut_the_timeline_and_each_span_starts_its_own_shot():
    spans = [span(1, 0, 10, 0), span(2, 13, 23, 10_000)]
    tracks = [video(1, 7, 50), video(2, 7, 10_040), video(2, 8, 10_020)]
    talks = [(at(11), 8), (at(16), 7)]  # 11 s falls in the pause
    assert shots_of(picture_shots(tracks, spans, talks)) == [
        (7, 0, 10_000),
        (8, 10_000, 13_000),
        (7, 13_000, 20_000),
    ]


def test_no_video_no_picture():
    assert picture_shots([], [span(1, 0, 10, 0)], []) == []
