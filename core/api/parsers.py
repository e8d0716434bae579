"""Request parsers of the REST API."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as BaseJSONParser

from core.protocol import json_strict_loads, text_storable


class JSONParser(BaseJSONParser):
    """DRF's JSON parser, stricter where DRF's answer was a 500:

    - a body nested too deep for Python's parser (DRF catches only ValueError);
    - numbers that overflow a float (1e999), NaN and Infinity;
    - text holding NUL or an unpaired surrogate (`"\\ud800"`): no column can
      store it, and a validation error echoing it could not be rendered.

    Each is a 400 `parse_error`, and nothing is stored."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json_strict_loads(codecs.getreader(encoding)(stream).read())
        except ValueError as error:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {error}.") from None
        if not text_storable(data):
            raise ParseError("Text may not contain NUL characters or unpaired surrogates.")
        return data
