from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from classroom import hooks
        from insights import page_hooks
        from insights.hooks import session_ended

        hooks.session_ended.register(session_ended)
        # The pages' links and the console panel (insights/page_hooks.py).
        page_hooks.register()
