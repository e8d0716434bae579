from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        # Imported here, not at the top: models load only once apps are ready.
        from insights import page_hooks

        page_hooks.register()
