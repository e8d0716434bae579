"""The small test override: the env-driven settings, with a fast password
hasher (test users are created by the hundred). Subprocesses started by tests
(Daphne, Celery) inherit DJANGO_SETTINGS_MODULE and so verify the same hashes.

The database settings are production's own (on PostgreSQL: the connection
pool, CONN_MAX_AGE 0), so the tests see the connection model that runs."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
