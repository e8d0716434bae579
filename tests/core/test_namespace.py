"""core/namespace.py: the deployment namespace of Redis keys is read from the
settings. Frames are published from the event loop, where every task has its
own context: reading `django.db.connection` there built a new database wrapper
per task (cyclic garbage on every published frame)."""

from __future__ import annotations

import asyncio

from django.db import connection
from django.db.utils import ConnectionHandler

from core.namespace import deployment_namespace


def test_publishing_tasks_build_no_database_connection_object(monkeypatch):
    built = []
    original = ConnectionHandler.create_connection

    def counted(self, alias):
        built.append(alias)
        return original(self, alias)

    monkeypatch.setattr(ConnectionHandler, "create_connection", counted)

    async def many_tasks() -> set[str]:
        tasks = [asyncio.create_task(_namespace_in_task()) for _ in range(20)]
        return set(await asyncio.gather(*tasks))

    values = asyncio.run(many_tasks())
    assert values == {deployment_namespace()}
    assert built == []


async def _namespace_in_task() -> str:
    return deployment_namespace()


def test_it_differs_per_database_and_is_stable(settings):
    first = deployment_namespace()
    assert deployment_namespace() == first and len(first) == 10
    settings.DATABASES = {"default": {**settings.DATABASES["default"], "NAME": "another"}}
    assert deployment_namespace() != first
    assert connection.vendor in ("postgresql", "sqlite")
