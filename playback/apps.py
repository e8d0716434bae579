from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlaybackConfig(AppConfig):
    name = "playback"
    verbose_name = _("Playback")

    def ready(self) -> None:
        # Imported here, not at the top: models load only once apps are ready.
        from playback import hooks

        hooks.register()
