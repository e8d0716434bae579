"""Serving recording files with HTTP range requests, to course members only.

Seeking in a long recording asks for a byte range (`Range: bytes=a-b`) and
gets `206 Partial Content` with exactly those bytes; a range past the end
gets `416` with `Content-Range: bytes */size`. The file is streamed from
storage in chunks, never read whole, also under ASGI (an async iterator:
Django would otherwise buffer a sync iterator completely).

In production set `RECORDING_X_ACCEL_PREFIX` (e.g. "/protected-media/"):
Django then only checks access and answers with `X-Accel-Redirect`, and the
web server (nginx `internal` location) sends the file and handles ranges
itself. See docs/playback.md."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date, parse_http_date_safe

from playback.models import Recording

CHUNK_BYTES = 256 * 1024
CACHE_SECONDS = 3600
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class FileRange:
    """Bytes [start, start+length) of an open file, iterable both ways."""

    def __init__(self, handle, start: int, length: int) -> None:
        self.handle = handle
        self.start = start
        self.length = length

    def _chunks(self) -> Iterator[int]:
        remaining = self.length
        while remaining > 0:
            size = min(CHUNK_BYTES, remaining)
            remaining -= size
            yield size

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.start)
        for size in self._chunks():
            data = self.handle.read(size)
            if not data:
                return
            yield data

    async def aiter(self) -> AsyncIterator[bytes]:
        await asyncio.to_thread(self.handle.seek, self.start)
        for size in self._chunks():
            data = await asyncio.to_thread(self.handle.read, size)
            if not data:
                return
            yield data

    def close(self) -> None:
        self.handle.close()


class RangedFileResponse(StreamingHttpResponse):
    """Streams a FileRange: synchronously under WSGI and the test client,
    asynchronously (a thread per read) under ASGI."""

    def __init__(self, body: FileRange, **kwargs) -> None:
        super().__init__(body, **kwargs)
        self._body = body

    async def __aiter__(self):
        async for chunk in self._body.aiter():
            yield chunk


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) byte positions, None to ignore the header (malformed or
    several ranges: the whole file is sent, as RFC 9110 allows), or False when
    the range cannot be satisfied."""
    if "," in header:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the final N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    first_byte = int(first)
    last_byte = int(last) if last else size - 1
    if first_byte >= size or last_byte < first_byte:
        return False
    return first_byte, min(last_byte, size - 1)


def _validators(recording: Recording) -> tuple[str, datetime, int]:
    storage = recording.file.storage
    size = storage.size(recording.file.name)
    try:
        modified = storage.get_modified_time(recording.file.name)
    except (NotImplementedError, OSError):
        modified = recording.updated_at
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    etag = f'"rec-{recording.pk}-{size}-{int(modified.timestamp())}"'
    return etag, modified, size


def recording_file_response(request: HttpRequest, recording: Recording) -> HttpResponse:
    """The response for GET/HEAD of a recording's file, access already checked."""
    etag, modified, size = _validators(recording)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(modified.timestamp()),
        # Only members may fetch it: browsers may keep it, shared caches may not.
        "Cache-Control": f"private, max-age={CACHE_SECONDS}",
        "Content-Type": recording.mime_type or "application/octet-stream",
        "X-Content-Type-Options": "nosniff",
    }
    if _precondition_failed(request, etag, modified):
        response = HttpResponse(status=412)
        response["ETag"] = etag
        return response
    if _not_modified(request, etag, modified):
        response = HttpResponse(status=304)
        for name in ("ETag", "Last-Modified", "Cache-Control", "Accept-Ranges"):
            response[name] = headers[name]
        return response
    prefix = getattr(settings, "RECORDING_X_ACCEL_PREFIX", "")
    if prefix:
        response = HttpResponse(status=200)
        for name, value in headers.items():
            response[name] = value
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(recording.file.name)
        return response

    byte_range = None
    header = request.META.get("HTTP_RANGE", "")
    if header and _if_range_holds(request, etag, modified):
        byte_range = parse_range(header, size)
        if byte_range is False:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            response["Accept-Ranges"] = "bytes"
            return response
    first, last = byte_range if byte_range else (0, size - 1)
    length = max(0, last - first + 1)
    status = 206 if byte_range else 200
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        handle = recording.file.storage.open(recording.file.name, "rb")
        response = RangedFileResponse(FileRange(handle, first, length), status=status)
    for name, value in headers.items():
        response[name] = value
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def _precondition_failed(request: HttpRequest, etag: str, modified: datetime) -> bool:
    """RFC 9110, 13.2.2: If-Match, or else If-Unmodified-Since, names another
    version of the file (strong comparison; a weak tag never matches)."""
    if_match = request.META.get("HTTP_IF_MATCH")
    if if_match:
        if if_match.strip() == "*":
            return False
        return etag not in [tag.strip() for tag in if_match.split(",")]
    since = parse_http_date_safe(request.META.get("HTTP_IF_UNMODIFIED_SINCE", ""))
    return since is not None and int(modified.timestamp()) > since


def _not_modified(request: HttpRequest, etag: str, modified: datetime) -> bool:
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match == "*"
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and int(modified.timestamp()) <= since


def _if_range_holds(request: HttpRequest, etag: str, modified: datetime) -> bool:
    """A range applies unless If-Range names another version of the file."""
    if_range = request.META.get("HTTP_IF_RANGE")
    if not if_range:
        return True
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    since = parse_http_date_safe(if_range)
    return since is not None and int(modified.timestamp()) <= since
