"""The question bank moved to the `questions` app (questions/migrations/0001).

State only for the schema: the foreign keys of Poll and SessionPlanItem now
name questions.BankQuestion, whose table is the same `classroom_bankquestion`,
so the database constraints stay as they are and no row moves. The content
type is renamed so admin permissions on bank questions carry over.
"""

import django.db.models.deletion
from django.db import migrations, models


def content_type_move(apps, schema_editor, old="classroom", new="questions"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="bankquestion").exists():
        ContentType.objects.filter(app_label=old, model="bankquestion").update(app_label=new)


def content_type_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old="questions", new="classroom")


class Migration(migrations.Migration):

    dependencies = [
        ("classroom", "0005_anonymous_poll_ballots"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("questions", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="poll",
                    name="source_question",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="questions.bankquestion",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionplanitem",
                    name="question",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="questions.bankquestion",
                    ),
                ),
                migrations.DeleteModel(name="BankQuestion"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_move, content_type_back),
    ]
