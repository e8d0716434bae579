from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuestionsConfig(AppConfig):
    """The question bank and grading: below classroom, above courses."""

    name = "questions"
    verbose_name = _("Questions")
