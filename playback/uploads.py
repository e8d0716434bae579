"""Upload plumbing: a body that is not multipart refused before it is read, a
size limit enforced while the body is parsed (chunked uploads have no
Content-Length to check first), and a file always spooled to disk so PyAV can
read it by path.

Order in both the page and the API: who may upload (403, nothing read), the
body's type (400), its declared length (413), then the limited read."""

from __future__ import annotations

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from playback.services.recordings import upload_max_bytes

MULTIPART_OVERHEAD_BYTES = 64 * 1024


class FileTooLargeError(ApplicationError):
    status_code = 413
    default_code = "file_too_large"


class NotMultipartError(ApplicationError):
    status_code = 400
    default_code = "not_multipart"


def upload_body_check(request) -> None:
    """Before anything reads the body: it must be multipart/form-data (a form
    with a file field), within the size limit; then installs the limited
    upload handler. `request` is Django's HttpRequest."""
    if request.content_type != "multipart/form-data":
        message = _("Send the recording as multipart/form-data, with the file in the field “file”.")
        raise NotMultipartError(message, details={"file": message})
    install_upload_limit(request)


def file_too_large() -> FileTooLargeError:
    limit = upload_max_bytes()
    message = _("The file is larger than the limit of %(mb)d MB.") % {"mb": limit // 1024**2}
    return FileTooLargeError(message, details={"file": message})


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Stops reading an upload as soon as it passes the limit and marks the
    request (`upload_too_large`), so the view answers 413 instead of
    "no file"."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.limit = upload_max_bytes()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = True
            self.file.close()
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def install_upload_limit(request) -> None:
    """Call before anything reads request.POST/FILES. Refuses at once when the
    declared length is already beyond the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > upload_max_bytes() + MULTIPART_OVERHEAD_BYTES:
        raise file_too_large()
    request.upload_too_large = False
    request.upload_handlers = [LimitedUploadHandler(request)]


def upload_check(request) -> None:
    if getattr(request, "upload_too_large", False):
        raise file_too_large()
