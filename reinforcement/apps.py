from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReinforcementConfig(AppConfig):
    name = "reinforcement"
    verbose_name = _("Reinforcement")

    def ready(self) -> None:
        from reinforcement import hooks

        hooks.register()
