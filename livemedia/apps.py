from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveMediaConfig(AppConfig):
    """Audio/video of the live room (Janus): above `classroom`, beside `playback`.

    The live room calls media only through the hooks in `classroom.hooks`,
    registered here.
    """

    name = "livemedia"
    verbose_name = _("Live media")

    def ready(self) -> None:
        # Imported here, not at the top: models load only once apps are ready.
        from livemedia import hooks

        hooks.register()
