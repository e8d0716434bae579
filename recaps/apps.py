from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecapsConfig(AppConfig):
    name = "recaps"
    verbose_name = _("Session recaps")

    def ready(self) -> None:
        from recaps import hooks

        hooks.register()
