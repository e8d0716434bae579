"""The small test override: the env-driven settings, with a fast password
hasher (test users are created by the hundred). Subprocesses started by tests
(Daphne, Celery) inherit DJANGO_SETTINGS_MODULE and so verify the same hashes."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Worker threads of `core.asyncdb.db_call` would keep persistent connections
# open past the end of a test and block dropping the test database.
for _database in DATABASES.values():  # noqa: F405
    _database["CONN_MAX_AGE"] = 0
