"""The admin names every model in plain English (no "Timeline entrys")."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db


def _naive_plural(name: str) -> str:
    return f"{name}s"


def test_no_model_has_a_naive_broken_plural():
    broken = []
    for model in admin.site._registry:
        meta = model._meta
        name, plural = str(meta.verbose_name), str(meta.verbose_name_plural)
        if plural == _naive_plural(name) and re.search(r"([^aeiou]y|s|x|ch|sh)$", name):
            broken.append(f"{meta.label}: {plural}")
    assert broken == []


def test_the_admin_index_reads_well(client, platform_admin):
    client.force_login(platform_admin)
    html = client.get("/admin/").content.decode()
    assert "Timeline entries" in html and "Watch progress<" in html
    assert "entrys" not in html and "progresss" not in html
