"""The notification settings, read from django.conf.settings at call time
(tests override them)."""

from __future__ import annotations

from django.conf import settings


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def email_from() -> str:
    return settings.ROUNDTABLE_EMAIL_FROM


def daily_cap_default() -> int:
    return settings.NOTIFICATIONS_DAILY_CAP


def digest_hour() -> int:
    return settings.NOTIFICATIONS_DIGEST_HOUR


def digest_weekday() -> int:
    return settings.NOTIFICATIONS_DIGEST_WEEKDAY


def retry_base_seconds() -> float:
    return settings.NOTIFICATIONS_RETRY_BASE_SECONDS


def retry_max_seconds() -> float:
    return settings.NOTIFICATIONS_RETRY_MAX_SECONDS


def max_attempts() -> int:
    return settings.NOTIFICATIONS_MAX_ATTEMPTS


def claim_seconds() -> int:
    return settings.NOTIFICATIONS_CLAIM_SECONDS


def unsubscribe_max_age_seconds() -> int:
    return settings.NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS * 24 * 3600
