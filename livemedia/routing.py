from django.urls import path

from livemedia.consumers import MediaConsumer

websocket_urlpatterns = [path("ws/media/<int:session_id>/", MediaConsumer.as_asgi())]
