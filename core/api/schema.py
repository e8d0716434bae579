"""The OpenAPI schema (drf-spectacular) tells the truth about errors.

Every operation documents the error responses it can give, all in the one
error shape (`ErrorResponse`, core/api/__init__.py):

- 400 `invalid`/`parse_error`/…: any operation that takes a body, or query
  parameters it validates;
- 403 `not_authenticated`/`permission_denied`/`role_forbidden`/…: any
  operation that needs a login (DRF answers 403, not 401, to a missing login
  because session authentication comes first);
- 404 `*_not_found`: any operation with a path parameter (an id that does
  not exist, or that belongs to a course I am not in);
- 409 `conflict`/…: any write (POST, PUT, PATCH, DELETE): the services refuse
  what the current state does not allow (already planned, not seated, …);
- 413 `request_too_large`/`file_too_large` and 415 `unsupported_media_type`:
  any operation that takes a body;
- 429: throttled operations.

A view can add statuses with `extend_schema(responses=...)`; what it names
wins over these defaults."""

from __future__ import annotations

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.drainage import set_override
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.api.authentication import SessionAuthenticationCsrfLater


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="stable snake_case code, e.g. `course_not_found`")
    message = serializers.CharField(help_text="for people, translated")
    details = serializers.DictField(
        required=False, help_text="validation errors: field name → messages (or nested fields)"
    )


class ErrorResponse(serializers.Serializer):
    error = ErrorBody()


ERROR_DESCRIPTIONS = {
    400: "The request cannot be used: malformed or invalid body (`details` names the fields).",
    403: "Not logged in, or not allowed (role, course membership, CSRF).",
    404: "No such object, or not in a course I am a member of.",
    409: "The current state does not allow this.",
    413: "The body is over the size limit.",
    415: "The body is not of a type this operation takes.",
    429: "Too many requests.",
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(SpectacularAutoSchema):
    def _error_statuses(self) -> list[int]:
        statuses = []
        takes_body = self.method in ("POST", "PUT", "PATCH")
        if takes_body or self.get_override_parameters():
            statuses.append(400)
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses.append(403)
        if "{" in self.path:
            statuses.append(404)
        if self.method in WRITES:
            statuses.append(409)
        if takes_body:
            statuses += [413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status in self._error_statuses():
            if str(status) not in responses:
                body = self._get_response_for_code(ErrorResponse, str(status), direction=direction)
                body["description"] = ERROR_DESCRIPTIONS[status]
                responses[str(status)] = body
        return responses


class SessionCsrfLaterScheme(SessionScheme):
    """The upload's session authentication (CSRF checked after the role) is
    the same cookie login."""

    target_class = "core.api.authentication.SessionAuthenticationCsrfLater"


# Both classes are the one `cookieAuth` scheme: the same component, on purpose.
set_override(SessionAuthenticationCsrfLater, "suppress_collision_warning", True)


# Text no column can store (core/api/parsers.py refuses it with a 400): NUL
# and unpaired surrogates, in values and in keys. A regex, with escapes the
# regex engine reads (no raw NUL in the schema).
STORABLE_TEXT = "^[^\\u0000\\ud800-\\udfff]*$"


STORABLE_STRING = {"type": "string", "pattern": STORABLE_TEXT}
# Any JSON value without such text (free-form objects: a question's
# definition, plan settings, chapter titles).
STORABLE_VALUE = "StorableValue"
STORABLE_VALUE_SCHEMA = {
    "description": "Any JSON value; text holds no NUL and no unpaired surrogate.",
    "nullable": True,
    "anyOf": [
        STORABLE_STRING,
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{STORABLE_VALUE}"}},
        {
            "type": "object",
            "propertyNames": STORABLE_STRING,
            "additionalProperties": {"$ref": f"#/components/schemas/{STORABLE_VALUE}"},
        },
    ],
}


def _storable(schema: dict) -> None:
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    kind = schema.get("type")
    if kind == "string" and not {"format", "enum", "pattern"} & set(schema):
        schema["pattern"] = STORABLE_TEXT
    if kind == "object":
        if "properties" in schema:
            # Declared fields only: InputSerializer refuses the others.
            schema.setdefault("additionalProperties", False)
        elif schema.get("additionalProperties") in (None, True, {}):
            schema["additionalProperties"] = {"$ref": f"#/components/schemas/{STORABLE_VALUE}"}
        if schema.get("additionalProperties") is not False:
            schema.setdefault("propertyNames", dict(STORABLE_STRING))
    for child in (schema.get("properties") or {}).values():
        _storable(child)
    for key in ("items", "additionalProperties"):
        _storable(schema.get(key))
    for key in ("allOf", "oneOf", "anyOf"):
        for child in schema.get(key) or []:
            _storable(child)


def storable_text_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook for request bodies (the `…Request`
    components of COMPONENT_SPLIT_REQUEST): text says it holds no NUL or
    unpaired surrogate (STORABLE_TEXT), objects take their declared fields
    only, free-form objects take storable JSON."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _storable(schema)
    schemas[STORABLE_VALUE] = STORABLE_VALUE_SCHEMA
    return result


# OpenAPI links: which response gives the ids of a next request. They make
# Schemathesis's stateful run chain real sequences (a plan item created, then
# deleted; a room opened, then invited into; a recording deleted, then read).
# (operationId, status) → {link name: (target operationId, {parameter: expression})}
LINKS = {
    ("courses_sessions_schedule_create", "201"): {
        "SessionPlan": ("sessions_plan_list", {"session_id": "$response.body#/id"}),
        "SessionPlanAdd": ("sessions_plan_create", {"session_id": "$response.body#/id"}),
    },
    ("sessions_plan_create", "201"): {
        "PlanItemRemove": (
            "sessions_plan_destroy",
            {"session_id": "$request.path.session_id", "item_id": "$response.body#/0/id"},
        ),
        "PlanReorder": ("sessions_plan_reorder_create", {"session_id": "$request.path.session_id"}),
    },
    ("sessions_plan_destroy", "204"): {
        "SessionPlan": ("sessions_plan_list", {"session_id": "$request.path.session_id"}),
    },
    ("recordings_rooms_create", "201"): {
        "RoomInvite": ("playback_rooms_invite_create", {"room_id": "$response.body#/id"}),
    },
    ("recordings_rooms_create", "200"): {
        "RoomInvite": ("playback_rooms_invite_create", {"room_id": "$response.body#/id"}),
    },
    ("recordings_notes_create_create", "201"): {
        "Notes": ("recordings_notes_list", {"recording_id": "$request.path.recording_id"}),
    },
    ("courses_recordings_upload_create", "201"): {
        "Recording": ("recordings_retrieve", {"recording_id": "$response.body#/id"}),
        "RecordingDelete": ("recordings_delete_destroy", {"recording_id": "$response.body#/id"}),
    },
    ("recordings_delete_destroy", "204"): {
        "RecordingGone": ("recordings_retrieve", {"recording_id": "$request.path.recording_id"}),
    },
}


def links_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: add LINKS to the responses."""
    operations = {
        operation.get("operationId"): operation
        for item in result.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
    }
    for (operation_id, status), links in LINKS.items():
        response = operations.get(operation_id, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
            if target in operations
        }
    return result
