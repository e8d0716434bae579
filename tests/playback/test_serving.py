"""Serving recording files with HTTP range requests (playback.serving)."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from playback.models import RecordingStatus
from playback.serving import parse_range

pytestmark = pytest.mark.django_db


def _url(recording) -> str:
    return f"/recordings/{recording.pk}/media"


def _bytes(recording) -> bytes:
    with recording.file.open("rb") as handle:
        return handle.read()


def test_a_range_request_gets_206_with_exactly_those_bytes(client, recording, learner):
    client.force_login(learner)
    data = _bytes(recording)
    response = client.get(_url(recording), HTTP_RANGE="bytes=100-1123")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[100:1124]
    assert response["Content-Range"] == f"bytes 100-1123/{len(data)}"
    assert response["Content-Length"] == "1024"
    assert response["Content-Type"] == "video/webm"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response["ETag"].startswith('"rec-')


def test_open_ended_and_suffix_ranges(client, recording, learner):
    client.force_login(learner)
    data = _bytes(recording)
    tail = client.get(_url(recording), HTTP_RANGE=f"bytes={len(data) - 10}-")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == data[-10:]
    suffix = client.get(_url(recording), HTTP_RANGE="bytes=-5")
    assert b"".join(suffix.streaming_content) == data[-5:]
    beyond = client.get(_url(recording), HTTP_RANGE=f"bytes=0-{len(data) * 2}")
    assert beyond["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"


def test_a_range_past_the_end_gets_416(client, recording, learner):
    client.force_login(learner)
    size = len(_bytes(recording))
    for header in (f"bytes={size}-", f"bytes={size + 100}-{size + 200}", "bytes=-0", "bytes=50-10"):
        response = client.get(_url(recording), HTTP_RANGE=header)
        assert response.status_code == 416, header
        assert response["Content-Range"] == f"bytes */{size}"


def test_without_a_range_the_whole_file_streams(client, recording, learner):
    client.force_login(learner)
    response = client.get(_url(recording))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _bytes(recording)
    head = client.head(_url(recording))
    assert head.status_code == 200 and head["Content-Length"] == str(len(_bytes(recording)))


def test_conditional_requests_and_if_range(client, recording, learner):
    client.force_login(learner)
    etag = client.head(_url(recording))["ETag"]
    assert client.get(_url(recording), HTTP_IF_NONE_MATCH=etag).status_code == 304
    stale = client.get(_url(recording), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200  # another version: the whole file, not a piece of it
    fresh = client.get(_url(recording), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert fresh.status_code == 206


def test_if_match_and_if_unmodified_since_guard_the_version(client, recording, learner):
    client.force_login(learner)
    head = client.head(_url(recording))
    etag, modified = head["ETag"], head["Last-Modified"]
    assert client.get(_url(recording), HTTP_IF_MATCH=etag).status_code == 200
    assert client.get(_url(recording), HTTP_IF_MATCH="*").status_code == 200
    assert client.get(_url(recording), HTTP_IF_MATCH='"nope"').status_code == 412
    assert client.get(_url(recording), HTTP_IF_UNMODIFIED_SINCE=modified).status_code == 200
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(_url(recording), HTTP_IF_UNMODIFIED_SINCE=past).status_code == 412
    ranged = client.get(_url(recording), HTTP_RANGE="bytes=0-9", HTTP_IF_MATCH=etag)
    assert ranged.status_code == 206


def test_another_course_gets_404_and_anonymous_403(client, recording, outsider):
    assert client.get(_url(recording), HTTP_RANGE="bytes=0-9").status_code == 403
    client.force_login(outsider)
    assert client.get(_url(recording), HTTP_RANGE="bytes=0-9").status_code == 404
    assert client.get("/recordings/999999/media").status_code == 404


def test_learners_get_404_for_a_recording_still_processing(client, recording, learner):
    recording.status = RecordingStatus.PROCESSING
    recording.save(update_fields=["status"])
    client.force_login(learner)
    assert client.get(_url(recording)).status_code == 404


def test_x_accel_redirect_hands_the_file_to_the_web_server(client, recording, learner, settings):
    settings.RECORDING_X_ACCEL_PREFIX = "/protected-media/"
    client.force_login(learner)
    response = client.get(_url(recording), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{recording.file.name}"
    assert response["Content-Type"] == "video/webm"


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_range_streams_asynchronously(recording, learner):
    from asgiref.sync import sync_to_async

    client = AsyncClient()
    await sync_to_async(client.force_login)(learner)
    data = await sync_to_async(_bytes)(recording)
    response = await client.get(_url(recording), headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    # The ASGI handler iterates the response with `async for` (our __aiter__).
    chunks = [chunk async for chunk in response]
    assert b"".join(chunks) == data[10:20]
    from django.db import connections

    await sync_to_async(connections.close_all)()  # the worker thread's connection


async def test_ranges_stream_in_chunks_never_whole():
    import io

    from playback.serving import CHUNK_BYTES, FileRange, RangedFileResponse

    data = bytes(range(256)) * 3000  # 768,000 bytes
    response = RangedFileResponse(FileRange(io.BytesIO(data), 1000, 700_000), status=206)
    chunks = [chunk async for chunk in response]
    assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, 700_000 - 2 * CHUNK_BYTES]
    assert b"".join(chunks) == data[1000:701_000]


def test_parse_range_cases():
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=0-1,5-6", 1000) is None  # several ranges: whole file
    assert parse_range("items=0-1", 1000) is None
    assert parse_range("bytes=1000-", 1000) is False
