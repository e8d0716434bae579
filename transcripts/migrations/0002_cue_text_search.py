"""Course transcript search (transcripts/search.py) on PostgreSQL only: a
stored, generated `search_vector` column (the cue text as a tsvector, kept
by PostgreSQL itself on every insert and edit) and a GIN index on it.

Ranking reads the stored vectors: computing `to_tsvector` per matching row at
query time took seconds on 400,000 cues (bench/transcript_search.py). SQLite
has no tsvector and searches with icontains; the Django model does not know
the column (it is never written by Django)."""

from django.db import migrations

INDEX = "transcripts_cue_text_fts"
CREATE = [
    "ALTER TABLE transcripts_cue ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(text, ''))) STORED",
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON transcripts_cue USING gin (search_vector)",
]
DROP = [
    f"DROP INDEX IF EXISTS {INDEX}",
    "ALTER TABLE transcripts_cue DROP COLUMN IF EXISTS search_vector",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("transcripts", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
