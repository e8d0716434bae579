"""Publish a new LTI signing key; it signs after the lead time (default 1 h)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from lti.services import tool_key_rotate


class Command(BaseCommand):
    help = "Publish a new LTI tool key; it starts signing after --lead seconds."

    def add_arguments(self, parser):
        parser.add_argument("--lead", type=int, default=None, help="seconds before it signs")

    def handle(self, *args, lead=None, **options):
        key = tool_key_rotate(lead=timedelta(seconds=lead) if lead is not None else None)
        self.stdout.write(f"new key {key.kid} published; signs from {key.use_after.isoformat()}")
