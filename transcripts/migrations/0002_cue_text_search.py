"""The GIN index behind course transcript search (transcripts/search.py), on
PostgreSQL only: SQLite has no tsvector and searches with icontains.

The indexed expression is exactly the one Django's SearchVector("text",
config="english") writes, so the planner uses it for `@@` queries."""

from django.db import migrations

INDEX = "transcripts_cue_text_fts"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON transcripts_cue USING gin "
    "(to_tsvector('english'::regconfig, COALESCE((text)::text, '')))"
)
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("transcripts", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
