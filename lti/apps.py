from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = _("LMS integration")

    def ready(self) -> None:
        # Imported here, not at the top: models load only once apps are ready.
        from lti import hooks

        hooks.register()
