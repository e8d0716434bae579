"""The live classroom page: the instructor console for staff, the learner view
for everyone else. The page is a shell; its script loads everything else over
the session's WebSocket (docs/realtime.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from classroom.access import access_live_session
from core.errors import NotFoundError
from courses.access import CourseAction

# Strings the script builds at run time (DjangoJSONEncoder renders the lazy
# translations). Keys are the script's; text is plain (no HTML).
LIVE_STRINGS = {
    "connecting": _("Connecting…"),
    "connected": _("Connected"),
    "reconnecting": _("Reconnecting…"),
    "offline": _("Connection lost. Reconnecting…"),
    "back_online": _("You are back online."),
    "cannot_join": _("You cannot join this session."),
    "session_ended": _("This session has ended"),
    "session_cancelled": _("This session was cancelled"),
    "starts_at": _("Scheduled for {time}."),
    "state_scheduled": _("Not started"),
    "state_live": _("Live"),
    "state_ended": _("Ended"),
    "state_cancelled": _("Cancelled"),
    "present": _("{n} present"),
    "mode_lecture": _("Lecture — the instructor is speaking to everyone"),
    "mode_table_talk": _("Table talk — talk with your table"),
    "mode_table_talk_podium": _("Table talk — talk with your table; the podium is heard by all"),
    "mode_visiting_mine": _("The instructor is visiting your table"),
    "mode_visiting_other": _("Table talk — the instructor is visiting {table}"),
    "mode_stage_mine": _("Your table is on stage — everyone can hear you"),
    "mode_stage_other": _("{table} is on stage — listen in"),
    "mode_podium": _("Podium — the speakers at the podium address everyone"),
    "another_table": _("another table"),
    "staff_mode_lecture": _("Lecture"),
    "staff_mode_table_talk": _("Table talk"),
    "staff_mode_visiting": _("Visiting {table}"),
    "staff_mode_stage": _("{table} on stage"),
    "staff_mode_podium": _("Podium"),
    "staff_scheduled": _("Not started yet. Press “Start session” when the class is ready."),
    "staff_ended": _("This session has ended. Chat and questions stay here to read."),
    "staff_cancelled": _("This session was cancelled."),
    "online": _("online"),
    "offline_member": _("not here"),
    "away": _("away"),
    "you": _("you"),
    "instructor": _("Instructor"),
    "podium_empty": _("Only the instructor is on the podium."),
    "on_podium": _("You are on the podium: everyone can hear you."),
    "leave_podium": _("Leave the podium"),
    "remove": _("Remove"),
    "raise_hand": _("Raise hand"),
    "lower_hand": _("Lower hand"),
    "hand_position": _("Your hand is raised: number {n} in the queue."),
    "hands_empty": _("No hands raised."),
    "invite": _("Invite to podium"),
    "lower": _("Lower"),
    "timer_left": _("{time} left"),
    "timer_ending": _("{label}: ending soon"),
    "extend": _("+1 min"),
    "shorten": _("−1 min"),
    "extend_label": _("Add one minute to {label}"),
    "shorten_label": _("Take one minute off {label}"),
    "stop": _("Stop"),
    "stop_label": _("Stop {label}"),
    "announcements_none": _("No announcements yet."),
    "announcement_new": _("Announcement: {body}"),
    "chat_empty": _("No messages yet."),
    "chat_deleted": _("Message deleted"),
    "chat_sending": _("sending…"),
    "chat_read_only": _("The session has ended; chat is read-only."),
    "chat_not_seated": _("You are not seated at a table yet."),
    "delete": _("Delete"),
    "delete_message_label": _("Delete the message from {name}"),
    "channel_class": _("Class"),
    "channel_table": _("Table"),
    "channel_staff": _("Staff"),
    "new_message": _("New message from {name}: {body}"),
    "questions_none": _("No questions yet."),
    "anonymous": _("Anonymous"),
    "upvote": _("Upvote"),
    "upvote_label": _("Upvote this question ({n} so far)"),
    "upvotes": _("{n} upvotes"),
    "answered": _("Answered"),
    "mark_answered": _("Mark answered"),
    "help_open": _("Your table asked for help. Someone is on the way."),
    "help_none": _("No table needs help."),
    "help_from": _("asked by {name}"),
    "resolve": _("Resolve"),
    "help_table": _("{table} needs help"),
    "away_on": _("I'm back"),
    "away_off": _("Step away"),
    "visit": _("Visit"),
    "stage": _("On stage"),
    "flag_hand": _("Hand raised"),
    "flag_podium": _("On the podium"),
    "seat_none": _("No tables yet. Seat the learners first."),
    "unseated_table": _("You have no table yet."),
    "unseated_help": _("Your instructor seats everyone at tables; yours will show here."),
    "engagement_none": _("No learner has joined yet."),
    "marker_chatted": _("chatted"),
    "marker_reacted": _("reacted"),
    "marker_answered": _("answered"),
    "marker_spoke": _("spoke"),
    "confirm_end": _("End the session for everyone? This cannot be undone."),
    "reaction_thumbs_up": _("Thumbs up"),
    "reaction_thumbs_down": _("Thumbs down"),
    "reaction_clap": _("Clap"),
    "reaction_laugh": _("Laugh"),
    "reaction_confused": _("Confused"),
    "reaction_slower": _("Slower, please"),
    "reaction_faster": _("Faster, please"),
    "dismiss": _("Dismiss"),
    "error": _("Something went wrong."),
}


@login_required
@require_GET
def session_live(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_live_session(user=request.user, session_id=session_id)
    except NotFoundError as error:
        raise Http404(error.message) from error
    session = access.session
    config = {
        "ws_path": f"/ws/live/{session.pk}/",
        "session_id": session.pk,
        "is_staff": access.is_staff,
        "may_participate": access.may_participate,
        "may_manage": access.course_access.may(CourseAction.MANAGE),
    }
    return render(
        request,
        "classroom/live.html",
        {
            "session": session,
            "course": session.course,
            "is_staff": access.is_staff,
            "live_config": config,
            "live_strings": LIVE_STRINGS,
        },
    )
