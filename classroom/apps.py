from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClassroomConfig(AppConfig):
    name = "classroom"
    verbose_name = _("Live classroom")

    def ready(self) -> None:
        from django.conf import settings

        from classroom.selectors import LEARNER_SHARED

        LEARNER_SHARED.enabled = getattr(settings, "SNAPSHOT_SHARED", True)
