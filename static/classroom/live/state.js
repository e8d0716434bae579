// The client's copy of the session: built from a snapshot, changed by frames.
// Every frame is applied idempotently (docs/realtime.md): full state where the
// server sends it, ids otherwise. `applyFrame` returns the one-off effects a
// view may want to show (a new chat line, an announcement, a reaction burst).

import { gradeAnswer } from "./poll_common.js";

export function stateFromSnapshot(data, previous) {
  const staff = data.staff
    ? {
        seatMap: data.staff.seat_map || [],
        help: data.staff.help || [],
        engagement: data.staff.engagement || { learners: {} },
        online: new Set(data.staff.online || []),
        away: new Set(),
        // media.health: audio/video down (Janus gone) until it says up again.
        media: previous?.staff?.media || { up: true },
      }
    : null;
  if (staff) {
    // Names of people the console may need to list (who has not answered a poll).
    staff.names = new Map(previous?.staff?.names || []);
    for (const person of data.staff_members || []) staff.names.set(person.id, person.name);
    for (const table of staff.seatMap) {
      for (const member of table.members) {
        if (member.away) staff.away.add(member.id);
        staff.names.set(member.id, member.name);
      }
    }
  }
  const messages = new Map();
  for (const message of data.chat?.messages || []) messages.set(message.id, message);
  const questions = new Map();
  for (const question of data.questions || []) questions.set(question.id, question);
  const polls = new Map();
  for (const poll of data.polls || []) {
    const before = previous?.polls?.get(poll.id);
    // Who set a table's shared answer only comes with poll.table_answer_changed frames.
    const answeredBy =
      before && JSON.stringify(before.my_answer) === JSON.stringify(poll.my_answer)
        ? before.answered_by
        : null;
    polls.set(poll.id, { ...poll, answered_by: answeredBy, live: before?.live || null });
  }
  return {
    loaded: true,
    me: data.me,
    course: data.course,
    session: data.session,
    mode: data.mode,
    podium: data.podium || [],
    hands: data.hands || [],
    timers: data.timers || [],
    table: data.table,
    channels: data.chat?.channels || ["class"],
    messages,
    questions,
    present: data.present ?? 0,
    announcements: data.announcements || [],
    polls,
    staff,
    // Kept across snapshots: what this browser asked for and knows already.
    upvoted: new Set([
      ...(previous?.upvoted || []),
      ...(data.questions || []).filter((q) => q.upvoted_by_me).map((q) => q.id),
    ]),
    // My own questions (anonymous ones too): never upvoted by me. Frames do not say it.
    mine: new Set([
      ...(previous?.mine || []),
      ...(data.questions || []).filter((q) => q.asked_by_me).map((q) => q.id),
    ]),
  };
}

function setMemberFlags(members, id, flags) {
  for (const member of members) if (member.id === id) Object.assign(member, flags);
}

export function applyFrame(state, frame) {
  const data = frame.data || {};
  const effects = [];
  switch (frame.type) {
    case "session.changed":
      state.session = data;
      if (data.state === "ended" || data.state === "cancelled") {
        // The end closes hands, podium and timers without frames of their own.
        state.hands = [];
        state.podium = [];
        state.timers = [];
      }
      break;
    case "mode.changed": {
      const before = JSON.stringify(state.mode || null);
      state.mode = data;
      if (before !== JSON.stringify(data)) effects.push({ kind: "mode" });
      break;
    }
    case "podium.changed":
      state.podium = data.speakers || [];
      break;
    case "hands.changed":
      state.hands = data.queue || [];
      break;
    case "chat.posted":
      if (!state.messages.has(data.id)) effects.push({ kind: "chat", message: data });
      state.messages.set(data.id, data);
      break;
    case "chat.deleted": {
      const message = state.messages.get(data.id);
      if (message) Object.assign(message, { deleted: true, body: "", author: null });
      break;
    }
    case "question.changed":
      state.questions.set(data.id, data);
      break;
    case "question.deleted":
      state.questions.delete(data.id);
      break;
    case "timers.changed":
      state.timers = data.timers || [];
      break;
    case "announcement.posted":
      if (!state.announcements.some((a) => a.id === data.id)) {
        state.announcements = [data, ...state.announcements].slice(0, 5);
        effects.push({ kind: "announcement", announcement: data });
      }
      break;
    case "help.changed":
      if (state.staff) state.staff.help = data.queue || [];
      break;
    case "table.help_changed":
      if (state.table && state.table.id === data.table_id) state.table.help_open = data.open;
      break;
    case "away.changed":
      if (state.me.id === data.user_id) state.me.away = data.away;
      if (state.table) setMemberFlags(state.table.members, data.user_id, { away: data.away });
      if (state.staff) {
        if (data.away) state.staff.away.add(data.user_id);
        else state.staff.away.delete(data.user_id);
        for (const table of state.staff.seatMap) {
          setMemberFlags(table.members, data.user_id, { away: data.away });
        }
      }
      break;
    case "staff.presence_changed":
      if (state.staff) {
        state.staff.online = new Set(data.online || []);
        state.staff.away = new Set(data.away || []);
        for (const table of state.staff.seatMap) {
          for (const member of table.members) {
            member.online = state.staff.online.has(member.id);
            member.away = state.staff.away.has(member.id);
          }
        }
      }
      break;
    case "presence.changed":
      if (state.staff) {
        const id = data.user?.id;
        if (data.user?.name) state.staff.names.set(id, data.user.name);
        if (data.present) state.staff.online.add(id);
        else state.staff.online.delete(id);
        for (const table of state.staff.seatMap) {
          setMemberFlags(table.members, id, { online: Boolean(data.present) });
        }
      }
      break;
    case "seating.changed":
      if (state.staff) {
        for (const table of data.tables || []) {
          for (const member of table.members) state.staff.names.set(member.id, member.name);
        }
        state.staff.seatMap = (data.tables || []).map((table) => ({
          ...table,
          members: table.members.map((member) => ({
            ...member,
            online: state.staff.online.has(member.id),
            away: state.staff.away.has(member.id),
          })),
        }));
      }
      break;
    case "presence.summary_changed":
      state.present = data.present ?? state.present;
      break;
    case "table.presence_changed":
      if (state.table && state.table.id === data.table_id) {
        const online = new Set(data.online || []);
        const away = new Set(data.away || []);
        for (const member of state.table.members) {
          member.online = online.has(member.id);
          member.away = away.has(member.id);
        }
      }
      break;
    case "talk.changed":
      if (state.staff) state.staff.talk = data;
      break;
    case "media.health":
      if (state.staff) state.staff.media = data;
      break;
    case "engagement.changed":
      if (state.staff) {
        state.staff.engagement = data;
        for (const [id, learner] of Object.entries(data.learners || {})) {
          if (learner.away) state.staff.away.add(Number(id));
          else state.staff.away.delete(Number(id));
        }
      }
      break;
    case "reactions.sent":
      effects.push({ kind: "burst", counts: data.counts || {} });
      break;
    case "poll.opened": {
      const existing = state.polls.get(data.id);
      if (existing) {
        Object.assign(existing, data);
        existing.live = null;
      } else {
        state.polls.set(data.id, { ...data, my_answer: null, answered_by: null, live: null });
      }
      effects.push({ kind: "poll_opened", poll: state.polls.get(data.id), reopened: Boolean(existing) });
      break;
    }
    case "poll.closed": {
      const poll = state.polls.get(data.id);
      if (poll) {
        poll.state = "closed";
        poll.closed_at = data.closed_at;
        poll.responses = data.responses;
        effects.push({ kind: "poll_closed", poll });
      }
      break;
    }
    case "poll.published": {
      const poll = state.polls.get(data.id);
      if (poll) {
        const first = !poll.published;
        poll.published = true;
        poll.state = "closed";
        poll.live = null;
        if (!state.staff || !poll.results) poll.results = data.results;
        if (!state.staff) {
          const graded = gradeAnswer(poll, poll.my_answer, data.results?.correct);
          poll.my_correct = graded ?? poll.my_correct ?? null;
        }
        if (first) effects.push({ kind: "poll_published", poll });
      }
      break;
    }
    case "poll.table_answer_changed": {
      const poll = state.polls.get(data.poll_id);
      if (poll && (!state.table || state.table.id === data.table_id)) {
        poll.my_answer = data.answer;
        poll.answered_by = data.answered_by || null;
        effects.push({ kind: "poll_table_answer", poll, by: data.answered_by });
      }
      break;
    }
    case "poll.tally_changed": {
      const poll = state.polls.get(data.poll_id);
      if (!poll) break;
      if (data.audience === "public") {
        // Live results for learners; the console has its own, richer tally.
        if (!state.staff && poll.state === "open" && !poll.published) poll.live = data;
      } else if (state.staff) {
        poll.results = data;
      }
      break;
    }
    default:
      // seat.moved: the server follows it with a fresh snapshot.
      break;
  }
  return effects;
}

// --- Derived values the views share -----------------------------------------------------

export function chatMessages(state, channel, tableId) {
  const list = [];
  for (const message of state.messages.values()) {
    if (message.channel !== channel) continue;
    if (channel === "table" && tableId != null && message.table_id !== tableId) continue;
    list.push(message);
  }
  return list;
}

export function sortedQuestions(state) {
  return [...state.questions.values()].sort(
    (a, b) =>
      Number(a.answered) - Number(b.answered) ||
      b.upvotes - a.upvotes ||
      Date.parse(a.created_at) - Date.parse(b.created_at),
  );
}

export function tableName(state, tableId) {
  if (tableId == null) return null;
  if (state.table && state.table.id === tableId) return state.table.name;
  const table = state.staff?.seatMap.find((t) => t.id === tableId);
  return table ? table.name : null;
}

/** The session's polls, oldest first. */
export function pollList(state) {
  return [...state.polls.values()].sort(
    (a, b) => Date.parse(a.opened_at) - Date.parse(b.opened_at) || a.id - b.id,
  );
}

export function isLive(state) {
  return state.session?.state === "live";
}
