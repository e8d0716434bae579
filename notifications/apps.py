from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # Imported here, not at the top: models load only once apps are ready.
        from notifications import delivery
        from notifications.kinds import KIND_SYSTEM, kind_register

        delivery.channels_connect()
        kind_register(
            KIND_SYSTEM,
            label=_("Announcements from Roundtable"),
            description=_("Messages about your account and the platform."),
        )
