// The playback-room page: one <video> (or <audio>) kept at the room's
// position, the live session's timeline beside it, polls, notes, comments,
// reactions and progress. The server owns the play state; this page follows
// it (sync.js) and sends what the user does. docs/playback.md explains it.

import { RoomConnection } from "./connection.js";
import { DriftCorrector, clock, expectedPosition, localNow } from "./sync.js";
import { renderFeed, renderNotes, pollCard, reactionEmoji } from "./panels.js";
import { mountTranscript } from "./transcript.js";

const root = document.querySelector("[data-pb-root]");
const config = JSON.parse(document.getElementById("pb-config").textContent);
const S = JSON.parse(document.getElementById("pb-strings").textContent);
const $ = (ref) => root.querySelector(`[data-ref="${ref}"]`);
const fmt = (template, values = {}) => String(template).replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

const TICK_MS = 200;
const HEARTBEAT_MS = 5000;
const EXACT_MS = 40; // a paused player this close to its position is left alone
const START_SETTLE_MS = 700; // after starting or seeking, let the player settle before judging drift
const media = $("media");

const view = {
  me: null,
  room: null,
  recording: null,
  state: null, // the room's play state, with its frame seq
  members: [],
  timeline: [],
  polls: new Map(),
  notes: new Map(),
  messages: [],
  chapters: [],
  progress: null,
  openPoll: null, // poll id shown in the card
  dismissed: new Set(),
  unmuteNeeded: false,
};
window.__playback = view; // read by the browser tests

const conn = new RoomConnection({
  url: config.ws_path,
  onFrame,
  onStatus,
  onError: (error) => toast(fmt(S.error, { message: error.message || error.code })),
});
window.__playbackConn = conn;

// --- Frames ----------------------------------------------------------------------------------

function onFrame(frame) {
  const data = frame.data || {};
  switch (frame.type) {
    case "snapshot":
      return applySnapshot(data);
    case "room.state_changed":
      return applyState(data, frame.seq);
    case "room.ready_changed":
      if (view.state && view.state.waiting && data.state_seq === view.state.seq) {
        view.state.waiting.ready = data.ready;
        renderOverlay();
      }
      return;
    case "room.members_changed":
      view.members = data.members;
      return renderMembers();
    case "room.settings_changed":
      view.room.control = data.control;
      view.me.may_control = view.me.may_participate && (data.control === "anyone" || view.me.is_host);
      return renderControlPolicy();
    case "chat.posted":
      if (!view.messages.some((m) => m.id === data.id)) view.messages.push(data);
      return renderFeedNow(true);
    case "note.added":
    case "note.changed":
      view.notes.set(data.id, data);
      return renderNotesNow();
    case "note.deleted":
      view.notes.delete(data.id);
      return renderNotesNow();
    case "poll.answered": {
      const poll = view.polls.get(data.poll_id);
      if (poll) poll.mine = { ...data, answer: data.answer ?? (poll.mine ? poll.mine.answer : null) };
      return renderPoll();
    }
    case "poll.progress_changed":
      if (view.state && view.state.waiting && view.state.waiting.poll_id === data.poll_id) {
        view.state.waiting.ready = data.answered;
        view.state.waiting.ready_count = data.answered_count;
        view.state.waiting.pending = data.pending;
        renderPoll();
      }
      return;
    case "progress.completed":
      view.progress = data;
      return renderProgress();
    case "reactions.sent":
      return burst(data.counts);
    default:
      return undefined;
  }
}

function applySnapshot(data) {
  view.me = data.me;
  view.room = data.room;
  view.recording = data.recording;
  view.members = data.members;
  view.timeline = data.timeline;
  view.chapters = data.chapters;
  view.polls = new Map(data.polls.map((p) => [p.id, p]));
  view.notes = new Map(data.notes.map((n) => [n.id, n]));
  view.messages = data.messages;
  view.progress = data.progress;
  root.removeAttribute("data-loading");
  $("duration").textContent = clock(view.recording.end_ms);
  const seek = $("seek");
  seek.min = String(view.recording.start_ms);
  seek.max = String(view.recording.end_ms);
  renderMarks();
  renderChapters();
  renderMembers();
  renderControlPolicy();
  renderNotesNow();
  renderProgress();
  applyState(data.state, data.state.seq, true);
  if (config.start_at_ms != null && !startApplied) {
    startApplied = true;
    const alone = view.members.filter((m) => m.online).length <= 1;
    if (view.me.may_control && (view.room.kind === "solo" || alone)) {
      conn.request("seek", { position_ms: config.start_at_ms });
    }
  }
}
let startApplied = false;

function applyState(state, seq, quiet = false) {
  const previous = view.state;
  view.state = { ...state, seq };
  corrector.reset();
  clearTimeout(actionTimer);
  if (!quiet && state.by && state.by.id !== view.me.id) announce(state);
  if (!quiet && state.cause === "timeout") toast(S.timeout);
  if (state.state === "waiting" && state.waiting && state.waiting.reason === "poll") {
    openPoll(state.waiting.poll_id);
  } else if (previous && previous.waiting && previous.waiting.reason === "poll" && view.openPoll) {
    const poll = view.polls.get(view.openPoll);
    if (poll && poll.mine) closePoll();
    else renderPoll();
  }
  renderPlayButton();
  renderOverlay();
  sync();
}

function announce(state) {
  const name = state.by.name;
  const messages = {
    play: S.playing_by,
    resume: S.playing_by,
    pause: S.paused_by,
    seek: S.seeked_by,
    rate: S.rate_by,
  };
  const template = messages[state.cause];
  if (template) toast(fmt(template, { name, time: clock(state.position_ms), rate: state.rate }));
}

// --- Keeping the player in line --------------------------------------------------------------

const corrector = new DriftCorrector();
let actionTimer = null;
let settleUntil = 0;
let readySentFor = null;
let mediaReady = false;

function serverNow() {
  return conn.clock.now();
}

function currentMs() {
  return media.currentTime * 1000;
}

function seekMedia(ms) {
  media.currentTime = Math.max(0, ms) / 1000;
  settleUntil = localNow() + START_SETTLE_MS;
}

function later(ms) {
  clearTimeout(actionTimer);
  actionTimer = setTimeout(sync, Math.max(0, ms));
}

function startMedia() {
  const attempt = media.play();
  if (attempt && attempt.catch) {
    attempt.catch((error) => {
      if (error && error.name === "NotAllowedError" && !media.muted) {
        // Browsers refuse sound without a gesture on this page: play muted, offer unmute.
        media.muted = true;
        view.unmuteNeeded = true;
        $("unmute").hidden = false;
        media.play().catch(() => {});
      }
    });
  }
}

/** Bring the player to where the room is now (called on every state and tick). */
function sync() {
  const state = view.state;
  if (!state || !mediaReady || !conn.clock.synced) return;
  const now = serverNow();
  const end = view.recording.end_ms;
  if (state.state === "waiting") {
    if (!media.paused) media.pause();
    if (Math.abs(currentMs() - state.position_ms) > EXACT_MS && !media.seeking) seekMedia(state.position_ms);
    if (state.waiting && state.waiting.reason === "seek") reportReady();
    return;
  }
  if (state.state === "paused") {
    if (now < state.at_ms && !media.paused) {
      // A pause scheduled for everyone at the same moment: keep playing until then.
      later(state.at_ms - now);
      return;
    }
    if (!media.paused) media.pause();
    if (Math.abs(currentMs() - state.position_ms) > EXACT_MS && !media.seeking) seekMedia(state.position_ms);
    return;
  }
  const expected = expectedPosition(state, now, end);
  media.playbackRate = state.rate;
  if (state.until_ms != null && expected >= state.until_ms - 15) {
    // The room stops here for a poll; the server's frame follows.
    if (!media.paused) media.pause();
    if (Math.abs(currentMs() - state.until_ms) > EXACT_MS && !media.seeking) seekMedia(state.until_ms);
    return;
  }
  if (expected >= end - 30) {
    if (!media.paused) media.pause();
    return;
  }
  if (now < state.at_ms) {
    // Play starts for everyone at at_ms: wait there, exactly at the position.
    if (!media.paused) media.pause();
    if (Math.abs(currentMs() - state.position_ms) > EXACT_MS && !media.seeking) seekMedia(state.position_ms);
    later(state.at_ms - now);
    return;
  }
  if (state.until_ms != null) later((state.until_ms - expected) / state.rate);
  if (media.paused) {
    if (Math.abs(currentMs() - expected) > 150) seekMedia(expected);
    settleUntil = localNow() + START_SETTLE_MS;
    startMedia();
    return;
  }
  if (media.seeking || localNow() < settleUntil) return;
  const decision = corrector.decide(currentMs() - expected);
  if (decision.action === "none") media.playbackRate = state.rate;
  else if (decision.action === "rate") media.playbackRate = state.rate * decision.rate;
  else if (decision.action === "seek") {
    media.playbackRate = state.rate;
    seekMedia(expected + 120);
  }
}

function reportReady() {
  const state = view.state;
  if (readySentFor === state.seq || media.seeking) return;
  if (media.readyState < 3 || Math.abs(currentMs() - state.position_ms) > 250) return;
  readySentFor = state.seq;
  conn.send("ready", { seq: state.seq });
}

for (const event of ["loadedmetadata", "seeked", "canplay", "canplaythrough"]) {
  media.addEventListener(event, () => {
    if (event === "loadedmetadata") mediaReady = true;
    sync();
  });
}
setInterval(() => {
  sync();
  tick();
}, TICK_MS);

// --- Progress heartbeats ----------------------------------------------------------------------

let segmentStart = null;
let lastPlayed = null;

function beat(from, to) {
  conn.send("heartbeat", { from_ms: Math.round(from), to_ms: Math.round(to) }).then((reply) => {
    if (reply.ok) {
      view.progress = reply.data;
      renderProgress();
    }
  });
}

function flush() {
  if (segmentStart != null && lastPlayed != null && lastPlayed > segmentStart) beat(segmentStart, lastPlayed);
  segmentStart = lastPlayed;
}

media.addEventListener("playing", () => {
  segmentStart = currentMs();
  lastPlayed = segmentStart;
  beat(segmentStart, segmentStart); // starts the server's clock for this stretch
});
for (const event of ["pause", "seeking", "ended"]) {
  media.addEventListener(event, () => {
    flush();
    segmentStart = null;
  });
}
setInterval(() => {
  if (!media.paused && !media.seeking) flush();
}, HEARTBEAT_MS);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush();
});

// --- Per tick: time display, feed, polls crossing --------------------------------------------

let lastTickPosition = null;

function tick() {
  if (!view.state) return;
  const position = media.readyState ? currentMs() : view.state.position_ms;
  if (!media.paused && !media.seeking) lastPlayed = position;
  if (!seekDragging) {
    $("seek").value = String(Math.round(position));
    $("current").textContent = clock(position);
    $("seek").setAttribute("aria-valuetext", `${clock(position)} / ${clock(view.recording.end_ms)}`);
  }
  $("note-time").textContent = clock(position);
  $("chat-input").placeholder = fmt(S.comment, { time: clock(position) });
  renderFeedNow(false, position);
  renderCountdown();
  // A poll that does not pause the room still pops up at its moment.
  if (lastTickPosition != null && position > lastTickPosition && position - lastTickPosition < 2000) {
    for (const poll of view.polls.values()) {
      if (poll.offset_ms > lastTickPosition && poll.offset_ms <= position && !view.dismissed.has(poll.id)) {
        // A poll the room stops at opens with the server's waiting state.
        if (view.state.until_ms !== poll.offset_ms) openPoll(poll.id);
      }
    }
  }
  lastTickPosition = position;
}

// --- Rendering ----------------------------------------------------------------------------------

function renderPlayButton() {
  if (!view.state) return;
  // A seek wait is "about to play"; a poll wait shows Play (pressing it resumes).
  const waiting = view.state.waiting;
  const playing = view.state.state === "playing" || (view.state.state === "waiting" && waiting?.reason === "seek");
  const button = $("play");
  button.setAttribute("aria-label", playing ? S.pause : S.play);
  button.dataset.playing = playing ? "true" : "false";
  $("rate").value = String(view.state.rate);
}

function renderOverlay() {
  const overlay = $("overlay");
  const state = view.state;
  if (!state) return;
  if (state.state !== "waiting" || state.waiting.reason !== "seek") {
    overlay.hidden = true;
    return;
  }
  const online = view.members.filter((m) => m.online).length || 1;
  overlay.hidden = false;
  $("overlay-text").textContent = fmt(S.waiting_seek, { ready: state.waiting.ready.length, total: online });
}

function renderMembers() {
  const list = $("members");
  list.replaceChildren(
    ...view.members.map((member) => {
      const item = document.createElement("li");
      item.className = `pb-member${member.online ? " pb-member--online" : ""}`;
      const you = member.id === view.me.id ? ` (${S.you})` : "";
      const host = member.host && view.room.kind !== "solo" ? ` · ${S.host}` : "";
      item.textContent = `${member.name}${you}${host}`;
      item.title = member.online ? S.online : S.away;
      return item;
    }),
  );
  renderOverlay();
}

function renderControlPolicy() {
  const toggle = $("host-only");
  if (toggle) toggle.checked = view.room.control === "host";
  root.dataset.mayControl = view.me.may_control ? "true" : "false";
  const note = $("control-note");
  if (note) note.hidden = view.me.may_control;
}

function renderProgress() {
  const progress = view.progress;
  if (!progress) return;
  const text = progress.completed ? `✓ ${S.completed}` : fmt(S.watched, { percent: Math.round(progress.percent) });
  // Said once when it turns complete (the banner is the page's polite region), never per heartbeat.
  if (progress.completed && $("progress").dataset.completed === "false") toast(S.completed);
  $("progress").textContent = text;
  $("progress").dataset.completed = progress.completed ? "true" : "false";
  renderWatched();
}

function share(ms) {
  const { start_ms: start, end_ms: end } = view.recording;
  return Math.min(100, Math.max(0, (100 * (ms - start)) / Math.max(1, end - start)));
}

function renderMarks() {
  const marks = $("marks");
  marks.replaceChildren();
  for (const chapter of view.chapters.slice(1)) {
    const tick = document.createElement("span");
    tick.className = "pb-mark pb-mark--chapter";
    tick.style.left = `${share(chapter.offset_ms)}%`;
    tick.title = `${clock(chapter.offset_ms)} ${chapter.title}`;
    marks.append(tick);
  }
  for (const poll of view.polls.values()) {
    const dot = document.createElement("span");
    dot.className = "pb-mark pb-mark--poll";
    dot.style.left = `${share(poll.offset_ms)}%`;
    dot.title = `${clock(poll.offset_ms)} ${S.poll_marker}: ${poll.prompt}`;
    marks.append(dot);
  }
  renderWatched();
}

function renderWatched() {
  const bar = $("watched");
  if (!bar || !view.progress) return;
  bar.replaceChildren(
    ...view.progress.segments.map(([from, to]) => {
      const piece = document.createElement("span");
      piece.style.left = `${share(from)}%`;
      piece.style.width = `${Math.max(0.3, share(to) - share(from))}%`;
      return piece;
    }),
  );
}

function renderChapters() {
  const list = $("chapters");
  list.replaceChildren(
    ...view.chapters.map((chapter) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pb-chapter";
      button.innerHTML = `<span class="pb-time-chip"></span><span class="pb-chapter__title"></span>`;
      button.querySelector(".pb-time-chip").textContent = clock(chapter.offset_ms);
      button.querySelector(".pb-chapter__title").textContent = chapter.title;
      button.addEventListener("click", () => seekTo(chapter.offset_ms));
      item.append(button);
      return item;
    }),
  );
  $("chapters-card").hidden = view.chapters.length < 2;
}

let feedSignature = "";

function renderFeedNow(force, position = currentMs()) {
  const feed = $("feed");
  const live = view.timeline.filter((item) => item.offset_ms <= position + 250 && item.kind !== "poll_closed");
  const signature = `${live.length}:${view.messages.length}`;
  if (!force && signature === feedSignature) return;
  feedSignature = signature;
  const nearBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 60;
  renderFeed(feed, { live, messages: view.messages, strings: S, meId: view.me.id, onSeek: seekTo });
  $("feed-empty").hidden = live.length + view.messages.length > 0;
  if (nearBottom || force) feed.scrollTop = feed.scrollHeight;
}

function renderNotesNow() {
  const notes = [...view.notes.values()].sort((a, b) => a.media_ms - b.media_ms || a.id - b.id);
  renderNotes($("notes"), {
    notes,
    strings: S,
    meId: view.me.id,
    onSeek: seekTo,
    onDelete: (id) => conn.request("note.delete", { note_id: id }).then(reportFailure),
  });
  $("notes-empty").hidden = notes.length > 0;
  $("notes-count").textContent = notes.length ? String(notes.length) : "";
}

// --- Polls ----------------------------------------------------------------------------------------

function openPoll(id) {
  if (!view.polls.has(id)) return;
  view.openPoll = id;
  renderPoll();
}

function closePoll() {
  if (view.openPoll != null) view.dismissed.add(view.openPoll);
  view.openPoll = null;
  $("poll").hidden = true;
}

function renderPoll() {
  const panel = $("poll");
  const poll = view.openPoll != null ? view.polls.get(view.openPoll) : null;
  if (!poll || !view.state) {
    panel.hidden = true;
    return;
  }
  const state = view.state;
  const blocking = state.state === "waiting" && state.waiting?.reason === "poll" && state.waiting.poll_id === poll.id;
  const review = blocking && Boolean(state.waiting.review);
  const online = view.members.filter((m) => m.online).length || 1;
  panel.replaceChildren(
    pollCard(poll, {
      strings: S,
      blocking,
      review,
      answered: blocking ? (state.waiting.ready_count ?? (state.waiting.ready || []).length) : 0,
      total: online,
      alone: view.room.kind === "solo",
      mayControl: view.me.may_control && view.me.may_participate,
      mayAnswer: view.me.may_participate,
      onSubmit: (answer) =>
        conn.request("poll.answer", { poll_id: poll.id, answer }).then((reply) => {
          if (reply.ok) {
            // An anonymous poll's reply does not say the answer: the page knows it.
            poll.mine = { ...reply.data, answer: reply.data.answer ?? answer };
            renderPoll();
          } else reportFailure(reply);
          return reply;
        }),
      onRewatch: (ms) => {
        closePoll();
        seekTo(ms);
      },
      onResume: () => conn.request("resume").then(reportFailure),
      onClose: closePoll,
    }),
  );
  panel.hidden = false;
  renderCountdown();
  const focusTarget = panel.querySelector('[data-action="continue"]') || panel.querySelector("input, button");
  if (focusTarget && !panel.contains(document.activeElement)) focusTarget.focus({ preventScroll: true });
}

/** The seconds left before a group plays on after everyone answered. */
function renderCountdown() {
  const countdown = $("poll").querySelector('[data-ref="poll-countdown"]');
  const deadline = view.state?.waiting?.deadline_ms;
  if (!countdown || deadline == null) return;
  const seconds = Math.max(0, Math.ceil((deadline - serverNow()) / 1000));
  const text = fmt(S.review_countdown, { seconds });
  if (countdown.textContent !== text) countdown.textContent = text;
}

// --- Actions ---------------------------------------------------------------------------------------

function reportFailure(reply) {
  if (reply && !reply.ok) {
    const code = reply.error.code;
    toast(S[code] || fmt(S.error, { message: reply.error.message || code }));
  }
  return reply;
}

function control(type, data) {
  if (!view.me.may_control) {
    toast(view.me.may_participate ? S.host_only : S.cannot_join);
    return Promise.resolve({ ok: false });
  }
  return conn.request(type, data).then(reportFailure);
}

function togglePlay() {
  const state = view.state;
  if (!state) return;
  if (state.state === "playing") control("pause");
  else if (state.state === "waiting" && state.waiting.reason === "seek") control("pause");
  else control("play");
}

function seekTo(ms) {
  const { start_ms: start, end_ms: end } = view.recording;
  return control("seek", { position_ms: Math.round(Math.max(start, Math.min(end, ms))) });
}

function skip(deltaMs) {
  seekTo(currentMs() + deltaMs);
}

$("play").addEventListener("click", togglePlay);
let seekDragging = false;
$("seek").addEventListener("input", () => {
  seekDragging = true;
  $("current").textContent = clock(Number($("seek").value));
});
$("seek").addEventListener("change", () => {
  seekDragging = false;
  seekTo(Number($("seek").value));
});
$("rate").addEventListener("change", () => control("rate", { rate: Number($("rate").value) }).then(() => renderPlayButton()));
$("mute").addEventListener("click", () => {
  media.muted = !media.muted;
  renderMute();
});
$("unmute").addEventListener("click", () => {
  media.muted = false;
  view.unmuteNeeded = false;
  $("unmute").hidden = true;
  renderMute();
});
function renderMute() {
  $("mute").setAttribute("aria-pressed", media.muted ? "true" : "false");
}
const fullscreen = $("fullscreen");
if (fullscreen) {
  fullscreen.addEventListener("click", () => {
    const screen = $("screen");
    if (document.fullscreenElement) document.exitFullscreen();
    else if (screen.requestFullscreen) screen.requestFullscreen();
  });
}
const hostOnly = $("host-only");
if (hostOnly) {
  hostOnly.addEventListener("change", () => {
    conn.request("room.control", { control: hostOnly.checked ? "host" : "anyone" }).then(reportFailure);
  });
}

for (const button of root.querySelectorAll("[data-reaction]")) {
  button.addEventListener("click", () => {
    conn.request("reaction.send", { kind: button.dataset.reaction, media_ms: Math.round(currentMs()) }).then(reportFailure);
  });
}

function burst(counts) {
  const layer = $("bursts");
  for (const [kind, count] of Object.entries(counts)) {
    for (let i = 0; i < Math.min(count, 6); i += 1) {
      const bubble = document.createElement("span");
      bubble.className = "pb-burst";
      bubble.textContent = reactionEmoji(kind);
      bubble.style.left = `${10 + Math.random() * 80}%`;
      bubble.style.animationDelay = `${i * 120}ms`;
      layer.append(bubble);
      setTimeout(() => bubble.remove(), 2600);
    }
  }
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  const body = input.value.trim();
  if (!body) return;
  conn.request("chat.send", { body, media_ms: Math.round(currentMs()) }).then((reply) => {
    if (reply.ok) input.value = "";
    else reportFailure(reply);
  });
});

$("note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = $("note-body");
  const text = body.value.trim();
  if (!text) return;
  conn
    .request("note.add", { body: text, visibility: $("note-visibility").value, media_ms: Math.round(currentMs()) })
    .then((reply) => {
      if (reply.ok) body.value = "";
      else reportFailure(reply);
    });
});

// Tabs: chat / notes (arrow keys move between them).
const tabs = [...root.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", selected ? "true" : "false");
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const next = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      selectTab(next);
      next.focus();
    }
  });
}

// Keyboard: space/k play-pause, j/l or arrows ±5 s (shift: 30 s), m mute, n note, c comment.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target.closest("input, textarea, select, [contenteditable], [role=tab]")) return;
  if (target.closest("button") && (event.key === " " || event.key === "Enter")) return;
  const step = event.shiftKey ? 30_000 : 5_000;
  const keys = {
    " ": togglePlay,
    k: togglePlay,
    j: () => skip(-step),
    ArrowLeft: () => skip(-step),
    l: () => skip(step),
    ArrowRight: () => skip(step),
    m: () => $("mute").click(),
    n: () => {
      selectTab(document.getElementById("tab-notes"));
      $("note-body").focus();
    },
    c: () => {
      selectTab(document.getElementById("tab-chat"));
      $("chat-input").focus();
    },
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

// --- Status ------------------------------------------------------------------------------------

function onStatus(status, detail) {
  const pill = $("conn-pill");
  pill.dataset.status = status;
  const labels = { connecting: S.connecting, open: S.connected, reconnecting: S.reconnecting, fatal: S.cannot_join };
  pill.querySelector("[data-ref-text]").textContent = labels[status] || status;
  if (status === "fatal") {
    root.removeAttribute("data-loading");
    toast((detail && detail.message) || S.cannot_join, true);
  }
}

let toastTimer = null;
function toast(text, sticky = false) {
  // The banner floats over the player (no layout shift); empty means hidden.
  const banner = $("banner");
  banner.textContent = text;
  clearTimeout(toastTimer);
  if (!sticky) toastTimer = setTimeout(() => (banner.textContent = ""), 4000);
}

// The transcript tab, when the page has one (playback/hooks.py: player_panels).
mountTranscript({ root, media, seekTo, currentMs: () => (view.state && media.readyState ? currentMs() : view.state?.position_ms ?? 0) });

media.src = config.media_url;
renderMute();
conn.start();
