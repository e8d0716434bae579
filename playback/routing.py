from django.urls import path

from playback.consumers import PlaybackRoomConsumer

websocket_urlpatterns = [path("ws/playback/<int:room_id>/", PlaybackRoomConsumer.as_asgi())]
