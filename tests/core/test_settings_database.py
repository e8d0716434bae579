"""config/settings.py: DATABASE_URL picks the engine; only PostgreSQL gets the
connection pool (SQLite has none, and refused to connect when given one)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = (
    "import django; django.setup();"
    "from django.conf import settings; from django.db import connection;"
    "d = settings.DATABASES['default'];"
    "print(d['ENGINE'], 'pool' in d.get('OPTIONS', {}));"
    "connection.ensure_connection(); print('connected')"
)


def _settings_with(url: str) -> list[str]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_sqlite_url_is_a_sqlite_database_without_a_pool(tmp_path):
    assert _settings_with(f"sqlite:///{tmp_path / 'x.sqlite3'}") == [
        "django.db.backends.sqlite3",
        "False",
        "connected",
    ]
