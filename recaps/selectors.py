"""Reads of recaps."""

from __future__ import annotations

from recaps.models import Recap, RecapStatus


def recap_for_session(*, session_id: int) -> Recap | None:
    return Recap.objects.select_related("session", "course").filter(session_id=session_id).first()


def recaps_visible_for_sessions(*, session_ids: list[int], is_staff: bool) -> dict[int, Recap]:
    """Each session's recap this viewer may read (learners: published ones). One query."""
    recaps = Recap.objects.filter(session_id__in=session_ids)
    if not is_staff:
        recaps = recaps.filter(status=RecapStatus.PUBLISHED)
    return {recap.session_id: recap for recap in recaps}


def published_recap_for_session(*, session_id: int) -> Recap | None:
    return Recap.objects.filter(session_id=session_id, status=RecapStatus.PUBLISHED).first()


def recap_payload(recap: Recap, *, is_staff: bool) -> dict:
    """The recap as the API returns it."""
    payload = {
        "session_id": recap.session_id,
        "course_id": recap.course_id,
        "status": recap.status,
        "published_at": recap.published_at,
        "built_at": recap.built_at,
        "version": recap.version,
        "recording_id": recap.recording_id,
        "transcript_status": recap.transcript_status,
        "note": recap.note,
        "points": recap.points,
        **{
            key: recap.content.get(key, [])
            for key in ("chapters", "polls", "questions", "announcements", "chat_peaks")
        },
    }
    if is_staff:
        payload["points_edited"] = recap.points_edited
        payload["summariser"] = recap.summariser
    return payload


def recap_text(recap: Recap, *, points: int = 5) -> str:
    """A plain-text digest (notification bodies): the staff note and the first key points."""
    lines = []
    if recap.note:
        lines.append(recap.note)
    chosen = recap.points[:points]
    if chosen:
        lines.append("Key points:")
        lines.extend(f"• {point['text']}" for point in chosen)
    return "\n".join(lines)
