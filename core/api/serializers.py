"""The base of every API input serializer."""

from __future__ import annotations

from rest_framework import serializers


# Refuses fields it does not know (a 400 naming them) instead of silently
# ignoring them: a misspelt optional field would otherwise look like success.
# The schema says the same (`additionalProperties: false`, core/api/schema.py).
# (A comment, not a docstring: the schema would show it for every input.)
class InputSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(dict.fromkeys(unknown, "Unknown field."))
        return super().to_internal_value(data)
