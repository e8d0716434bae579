// Pieces both live pages share: connection status, toasts, timers, chat,
// questions, announcements, reaction bursts. Each takes the `app` (state,
// strings, act(), server clock) and the page's data-ref elements.

import { chatMessages, sortedQuestions, tableName } from "./state.js";
import {
  clockTime,
  duration,
  format,
  h,
  setText,
  show,
  syncList,
} from "./dom.js";

export const REACTIONS = [
  ["thumbs_up", "👍"],
  ["thumbs_down", "👎"],
  ["clap", "👏"],
  ["laugh", "😂"],
  ["confused", "😕"],
  ["slower", "🐢"],
  ["faster", "🐇"],
];
const REACTION_EMOJI = Object.fromEntries(REACTIONS);

// --- Toasts ------------------------------------------------------------------------------

export function toast(app, message, kind = "error") {
  const { toasts } = app.refs;
  if (!toasts || !message) return;
  const close = () => item.remove();
  // Seen in the toast, heard through the page's announcer (errors assertively).
  app.say?.(message, { assertive: kind === "error" });
  const item = h(
    "div",
    { class: `toast toast--${kind}` },
    h("span", { class: "toast__text", text: message }),
    h("button", {
      type: "button",
      class: "toast__close",
      "aria-label": app.t.dismiss,
      text: "×",
      onclick: close,
    }),
  );
  toasts.append(item);
  while (toasts.children.length > 4) toasts.firstElementChild.remove();
  setTimeout(close, kind === "error" ? 7000 : 4000);
}

// --- Connection ------------------------------------------------------------------------

export function renderConnection(app, status) {
  const { t, refs } = app;
  const pill = refs["conn-pill"];
  const banner = refs["conn-banner"];
  const labels = {
    connecting: t.connecting,
    open: t.connected,
    reconnecting: t.reconnecting,
    fatal: t.cannot_join,
  };
  if (pill) {
    pill.dataset.status = status;
    setText(pill.querySelector("[data-ref-text]") || pill, labels[status] || status);
  }
  document.body.dataset.connection = status;
  if (!banner) return;
  clearTimeout(app.bannerTimer);
  if (status === "reconnecting") {
    if (!app.wasDisconnected) app.say?.(t.offline, { assertive: true, key: "connection" });
    app.wasDisconnected = true;
    banner.dataset.kind = "offline";
    setText(banner, t.offline);
    show(banner, true);
  } else if (status === "fatal") {
    banner.dataset.kind = "fatal";
    setText(banner, app.fatalMessage || t.cannot_join);
    app.say?.(banner.textContent, { assertive: true, key: "connection" });
    show(banner, true);
  } else if (status === "open" && app.wasDisconnected) {
    app.wasDisconnected = false;
    app.say?.(t.back_online, { key: "connection" });
    banner.dataset.kind = "back";
    setText(banner, t.back_online);
    show(banner, true);
    app.bannerTimer = setTimeout(() => show(banner, false), 4000);
  } else if (status === "open") {
    show(banner, false);
  }
}

// --- Timers -------------------------------------------------------------------------------

const TIMER_LINGER_MS = 8000; // an ended timer shows 0:00 this long, then goes

export function renderTimers(app, container, { staff = false } = {}) {
  if (!container) return;
  const { t, state } = app;
  const now = app.now();
  const timers = (state.timers || []).filter(
    (timer) => Date.parse(timer.ends_at) + TIMER_LINGER_MS > now,
  );
  syncList(
    container,
    timers,
    (timer) => timer.id,
    (timer) => {
      const item = h(
        "li",
        { class: "timer" },
        h(
          "div",
          { class: "timer__head" },
          h("span", { class: "timer__label", "data-part": "label" }),
          h("span", { class: "timer__left", role: "timer", "data-part": "left" }),
        ),
        h("span", { class: "timer__state", "data-part": "state" }),
        h("div", { class: "timer__bar", "aria-hidden": "true" }, h("span", { "data-part": "bar" })),
      );
      if (staff) {
        const buttons = h(
          "div",
          { class: "timer__actions" },
          h("button", {
            type: "button",
            class: "button button--small",
            "data-part": "extend",
            text: t.extend,
            onclick: () => app.act("timer.adjust", { timer_id: timer.id, delta_seconds: 60 }),
          }),
          h("button", {
            type: "button",
            class: "button button--small",
            "data-part": "shorten",
            text: t.shorten,
            onclick: () => app.act("timer.adjust", { timer_id: timer.id, delta_seconds: -60 }),
          }),
          h("button", {
            type: "button",
            class: "button button--small button--danger",
            "data-part": "stop",
            text: t.stop,
            onclick: () => app.act("timer.stop", { timer_id: timer.id }),
          }),
        );
        item.append(buttons);
      }
      return item;
    },
    (item, timer) => {
      const ends = Date.parse(timer.ends_at);
      const total = Math.max(1, ends - Date.parse(timer.started_at));
      const left = ends - now;
      const warning = left > 0 && left <= (timer.warning_seconds || 0) * 1000;
      item.classList.toggle("timer--warning", warning);
      item.classList.toggle("timer--done", left <= 0);
      // Not by colour alone: the state in words too.
      setText(item.querySelector('[data-part="state"]'), left <= 0 ? t.timer_state_done : warning ? t.timer_state_warning : "");
      setText(item.querySelector('[data-part="label"]'), timer.label);
      setText(item.querySelector('[data-part="left"]'), duration(left));
      item
        .querySelector('[data-part="left"]')
        .setAttribute("aria-label", format(t.timer_left, { time: duration(left) }));
      item.querySelector('[data-part="bar"]').style.width =
        `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
      if (staff) {
        const label = { label: timer.label };
        item.querySelector('[data-part="extend"]').setAttribute("aria-label", format(t.extend_label, label));
        item.querySelector('[data-part="shorten"]').setAttribute("aria-label", format(t.shorten_label, label));
        item.querySelector('[data-part="stop"]').setAttribute("aria-label", format(t.stop_label, label));
        for (const button of item.querySelectorAll("button")) button.disabled = left <= 0;
      }
      timerMilestones(app, timer, left);
    },
  );
  show(app.refs["timers-empty"], timers.length === 0);
}

/**
 * Screen readers hear a timer at its milestones only, never each second: one
 * minute left (when it ran longer than that), its warning time, time up. Only
 * a milestone crossed while the page watches is said (not one already behind
 * the timer when the page loads), and each once.
 */
function timerMilestones(app, timer, left) {
  const { t } = app;
  const seen = app.timerSeen || (app.timerSeen = new Map()); // id → {left, said:Set}
  const entry = seen.get(timer.id);
  seen.set(timer.id, { left, said: entry?.said || new Set(), ends: timer.ends_at });
  if (!entry) return;
  if (entry.ends !== timer.ends_at) entry.said.clear(); // extended or shortened: fresh milestones
  const total = Date.parse(timer.ends_at) - Date.parse(timer.started_at);
  const milestones = [];
  if (total > 60_000) milestones.push([60_000, format(t.timer_one_minute, { label: timer.label })]);
  const warning = (timer.warning_seconds || 0) * 1000;
  if (warning && warning !== 60_000 && warning < total) {
    milestones.push([warning, format(t.timer_ending, { label: timer.label })]);
  }
  milestones.push([0, format(t.timer_done, { label: timer.label })]);
  for (const [at, text] of milestones) {
    const said = seen.get(timer.id).said;
    if (entry.left > at && left <= at && !said.has(at)) {
      said.add(at);
      app.say(text, { key: `timer-${timer.id}`, assertive: at === 0 });
    }
  }
}

// --- Announcements ------------------------------------------------------------------------

export function renderAnnouncements(app, list) {
  if (!list) return;
  const { state, t } = app;
  syncList(
    list,
    state.announcements,
    (a) => a.id,
    (a) =>
      h(
        "li",
        { class: "announcement" },
        h("p", { class: "announcement__body", text: a.body }),
        h(
          "p",
          { class: "announcement__meta" },
          a.author ? `${a.author.name} · ` : "",
          h("time", { datetime: a.created_at, text: clockTime(a.created_at) }),
        ),
      ),
  );
  show(app.refs["announcements-empty"], state.announcements.length === 0);
  setText(app.refs["announcements-empty"], t.announcements_none);
}

// --- Chat ------------------------------------------------------------------------------------

export class Chat {
  constructor(app) {
    this.app = app;
    const r = app.refs;
    this.tabs = r["chat-tabs"];
    this.log = r["chat-log"];
    this.empty = r["chat-empty"];
    this.form = r["chat-form"];
    this.input = r["chat-input"];
    this.note = r["chat-note"];
    this.tableSelect = r["chat-table"];
    this.tableWrap = r["chat-table-wrap"];
    this.channel = "class";
    this.tableId = null;
    this.pending = new Map(); // action id -> {channel, tableId, body, messageId}
    this.unread = new Map(); // tab key -> count

    for (const tab of this.tabs.querySelectorAll("[data-channel]")) {
      tab.addEventListener("click", () => this.select(tab.dataset.channel));
      tab.addEventListener("keydown", (event) => this.tabKey(event));
    }
    this.tableSelect?.addEventListener("change", () => {
      this.tableId = Number(this.tableSelect.value) || null;
      this.unread.delete(this.key("table", this.tableId));
      this.render(true);
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
  }

  key(channel, tableId) {
    return channel === "table" && this.app.state.staff ? `table:${tableId}` : channel;
  }

  select(channel) {
    this.channel = channel;
    this.unread.delete(this.key(channel, this.tableId));
    if (channel === "table") this.unread.delete("table");
    this.render(true);
  }

  tabKey(event) {
    const tabs = [...this.tabs.querySelectorAll("[data-channel]")].filter((tab) => !tab.hidden);
    const index = tabs.indexOf(event.currentTarget);
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
    else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    if (!next) return;
    event.preventDefault();
    this.select(next.dataset.channel);
    next.focus();
  }

  currentTableId() {
    const { state } = this.app;
    if (state.staff) return this.tableId;
    return state.table?.id ?? null;
  }

  async send() {
    const { state } = this.app;
    const body = this.input.value.trim();
    if (!body || this.input.disabled) return;
    const data = { channel: this.channel, body };
    const tableId = this.currentTableId();
    if (this.channel === "table" && state.staff) data.table_id = tableId;
    this.input.value = "";
    const request = this.app.act("chat.send", data, {
      onSent: (id) => {
        this.pending.set(id, { channel: this.channel, tableId, body, messageId: null });
        this.render(true);
      },
    });
    const result = await request;
    const entry = this.pending.get(result.id);
    if (!result.ok) {
      this.pending.delete(result.id);
      if (!this.input.value) this.input.value = body; // give the text back to edit
    } else if (entry && result.data.message_id != null) {
      entry.messageId = result.data.message_id; // shown as sent once its frame is here
    } else {
      // A retry of a frame applied before the socket dropped is acked as a
      // duplicate without the message id; its chat.posted came or comes anyway.
      this.pending.delete(result.id);
    }
    this.render();
  }

  onMessage(message) {
    const { state, t } = this.app;
    const key = this.key(message.channel, message.table_id);
    const visible =
      key === this.key(this.channel, this.currentTableId()) &&
      (message.channel !== "table" || !state.staff || message.table_id === this.tableId);
    if (!visible) this.unread.set(key, (this.unread.get(key) || 0) + 1);
    if (message.author && message.author.id !== state.me.id) {
      const where = t[`channel_${message.channel}`];
      // A busy chat is read as "5 new chat messages" at most every 5 s.
      this.app.say(
        `${where}. ${format(t.new_message, { name: message.author.name, body: message.body })}`,
        { group: { name: "chat", every: 5000, many: (n) => format(t.new_messages, { n }) } },
      );
    }
  }

  render(forceScroll = false) {
    const { state, t } = this.app;
    const staff = Boolean(state.staff);
    const channels = new Set(state.channels);
    if (staff) channels.add("table");

    // Tabs
    for (const tab of this.tabs.querySelectorAll("[data-channel]")) {
      const channel = tab.dataset.channel;
      tab.hidden = !channels.has(channel);
      const selected = channel === this.channel;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      let unread = 0;
      for (const [key, count] of this.unread) {
        if (key === channel || key.startsWith(`${channel}:`)) unread += count;
      }
      const badge = tab.querySelector(".tab__unread");
      setText(badge, unread ? String(unread) : "");
      show(badge, unread > 0);
    }
    if (!channels.has(this.channel)) this.channel = "class";

    // Staff pick which table to read and write.
    if (staff && this.tableSelect) {
      const tables = state.staff.seatMap;
      syncList(
        this.tableSelect,
        tables,
        (table) => table.id,
        (table) => h("option", { value: table.id }),
        (option, table) => {
          const unread = this.unread.get(`table:${table.id}`) || 0;
          setText(option, unread ? `${table.name} (${unread})` : table.name);
        },
      );
      if (!tables.some((table) => table.id === this.tableId)) {
        this.tableId = tables[0]?.id ?? null;
      }
      if (this.tableId != null) this.tableSelect.value = String(this.tableId);
      show(this.tableWrap, this.channel === "table");
    }

    // Messages
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    const tableId = this.currentTableId();
    const messages = chatMessages(state, this.channel, this.channel === "table" ? tableId : null);
    const delivered = new Set(messages.map((message) => message.id));
    const waiting = [...this.pending.entries()]
      .filter(([, p]) => p.channel === this.channel && (p.channel !== "table" || p.tableId === tableId))
      .filter(([, p]) => p.messageId == null || !delivered.has(p.messageId))
      .map(([id, p]) => ({ pendingId: id, ...p }));
    for (const [id, p] of this.pending) {
      if (p.messageId != null && state.messages.has(p.messageId)) this.pending.delete(id);
    }
    const items = [...messages, ...waiting];
    syncList(
      this.log,
      items,
      (item) => (item.pendingId ? `p-${item.pendingId}` : `m-${item.id}`),
      (item) => this.messageElement(item),
      (element, item) => this.messageUpdate(element, item),
    );
    const selectedTab = this.tabs.querySelector('[aria-selected="true"]')?.id || "";
    this.app.refs["chat-panel"]?.setAttribute("aria-labelledby", selectedTab);
    this.log.setAttribute("aria-labelledby", selectedTab);
    show(this.empty, items.length === 0);
    setText(this.empty, t.chat_empty);
    if (forceScroll || nearBottom) this.log.scrollTop = this.log.scrollHeight;

    // Composer
    const ended = ["ended", "cancelled"].includes(state.session.state);
    let note = "";
    if (ended) note = t.chat_read_only;
    else if (this.channel === "table" && !staff && !state.table) note = t.chat_not_seated;
    const disabled = Boolean(note) || !state.me.may_participate;
    this.input.disabled = disabled;
    this.form.querySelector('button[type="submit"]').disabled = disabled;
    this.form.hidden = ended || !state.me.may_participate;
    setText(this.note, note);
    show(this.note, Boolean(note));
  }

  messageElement(item) {
    const { t } = this.app;
    const element = h(
      "li",
      { class: "msg" },
      h(
        "div",
        { class: "msg__meta" },
        h("span", { class: "msg__author", "data-part": "author" }),
        h("time", { class: "msg__time", "data-part": "time" }),
      ),
      h("p", { class: "msg__body", "data-part": "body" }),
    );
    if (this.app.state.staff && !item.pendingId) {
      element.append(
        h("button", {
          type: "button",
          class: "msg__delete button button--small button--quiet",
          "data-part": "delete",
          text: t.delete,
          onclick: () => this.app.act("chat.delete", { message_id: item.id }),
        }),
      );
    }
    return element;
  }

  messageUpdate(element, item) {
    const { state, t } = this.app;
    const pending = Boolean(item.pendingId);
    const mine = pending || item.author?.id === state.me.id;
    element.classList.toggle("msg--mine", mine);
    element.classList.toggle("msg--pending", pending);
    element.classList.toggle("msg--deleted", Boolean(item.deleted));
    setText(
      element.querySelector('[data-part="author"]'),
      pending ? state.me.name : item.author?.name || "",
    );
    const time = element.querySelector('[data-part="time"]');
    if (pending) setText(time, t.chat_sending);
    else {
      time.setAttribute("datetime", item.created_at);
      setText(time, clockTime(item.created_at));
    }
    setText(element.querySelector('[data-part="body"]'), item.deleted ? t.chat_deleted : item.body);
    const remove = element.querySelector('[data-part="delete"]');
    if (remove) {
      remove.hidden = Boolean(item.deleted);
      remove.setAttribute(
        "aria-label",
        format(t.delete_message_label, { name: item.author?.name || "" }),
      );
    }
  }
}

// --- Questions ---------------------------------------------------------------------------

export class Questions {
  constructor(app) {
    this.app = app;
    const r = app.refs;
    this.list = r["qa-list"];
    this.empty = r["qa-empty"];
    this.form = r["qa-form"];
    this.input = r["qa-input"];
    this.anonymous = r["qa-anon"];
    this.anonymousWrap = r["qa-anon-wrap"];
    this.form?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = this.input.value.trim();
      if (!body) return;
      const data = { body };
      if (this.anonymous?.checked && app.state.session.anonymous_questions_allowed) {
        data.anonymous = true;
      }
      this.input.value = "";
      const result = await app.act("question.ask", data);
      if (result.ok && result.data?.question_id != null) {
        app.state.mine.add(result.data.question_id);
        this.render();
      }
      if (!result.ok && !this.input.value) this.input.value = body;
    });
  }

  async upvote(question) {
    const { state } = this.app;
    state.upvoted.add(question.id);
    this.render();
    const result = await this.app.act(
      "question.upvote",
      { question_id: question.id },
      { quiet: ["already_upvoted"] },
    );
    if (!result.ok && result.error.code !== "already_upvoted") state.upvoted.delete(question.id);
    this.render();
  }

  render() {
    const { state, t } = this.app;
    const staff = Boolean(state.staff);
    const questions = sortedQuestions(state);
    syncList(
      this.list,
      questions,
      (q) => q.id,
      (q) => {
        const item = h(
          "li",
          { class: "question" },
          h(
            "div",
            { class: "question__votes" },
            h("span", { class: "question__count", "data-part": "count" }),
          ),
          h(
            "div",
            { class: "question__main" },
            h("p", { class: "question__body", "data-part": "body" }),
            h(
              "p",
              { class: "question__meta" },
              h("span", { "data-part": "author" }),
              h("span", { class: "badge badge--answered", "data-part": "answered", text: t.answered }),
            ),
          ),
          h("div", { class: "question__actions", "data-part": "actions" }),
        );
        const actions = item.querySelector('[data-part="actions"]');
        if (staff) {
          actions.append(
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "answer",
              text: t.mark_answered,
              onclick: () => this.app.act("question.answer", { question_id: q.id }),
            }),
            h("button", {
              type: "button",
              class: "button button--small button--quiet",
              text: t.delete,
              onclick: () => this.app.act("question.delete", { question_id: q.id }),
            }),
          );
        } else {
          actions.append(
            h(
              "button",
              {
                type: "button",
                class: "button button--small upvote",
                "data-part": "upvote",
                onclick: () => this.upvote(state.questions.get(q.id) || q),
              },
              h("span", { "aria-hidden": "true", text: "▲ " }),
              t.upvote,
            ),
          );
        }
        return item;
      },
      (item, q) => {
        item.classList.toggle("question--answered", q.answered);
        setText(item.querySelector('[data-part="body"]'), q.body);
        setText(item.querySelector('[data-part="count"]'), String(q.upvotes));
        item
          .querySelector('[data-part="count"]')
          .setAttribute("aria-label", format(t.upvotes, { n: q.upvotes }));
        setText(item.querySelector('[data-part="author"]'), q.author ? q.author.name : t.anonymous);
        show(item.querySelector('[data-part="answered"]'), q.answered);
        const answer = item.querySelector('[data-part="answer"]');
        if (answer) answer.hidden = q.answered;
        const upvote = item.querySelector('[data-part="upvote"]');
        if (upvote) {
          const done = state.upvoted.has(q.id);
          upvote.setAttribute("aria-pressed", String(done));
          upvote.setAttribute("aria-label", format(t.upvote_label, { n: q.upvotes }));
          const own = state.mine.has(q.id) || (q.author != null && q.author.id === state.me.id);
          upvote.hidden = own || !state.me.may_participate || state.session.state !== "live";
          upvote.disabled = done || q.answered;
        }
      },
    );
    show(this.empty, questions.length === 0);
    setText(this.empty, t.questions_none);
    if (this.form) {
      const open = state.session.state === "live" && state.me.may_participate;
      this.form.hidden = !open;
      show(this.anonymousWrap, Boolean(state.session.anonymous_questions_allowed));
    }
  }
}

// --- Reactions -------------------------------------------------------------------------------

export function burst(app, counts) {
  const layer = app.refs.bursts;
  if (!layer) return;
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  for (const [kind, count] of Object.entries(counts)) {
    const emoji = REACTION_EMOJI[kind];
    if (!emoji) continue;
    const shown = reduced ? 1 : Math.min(count, 6);
    for (let i = 0; i < shown; i += 1) {
      const bubble = h("span", { class: "burst", text: emoji });
      bubble.style.left = `${8 + Math.random() * 84}%`;
      bubble.style.animationDelay = `${Math.round(Math.random() * 400)}ms`;
      bubble.style.setProperty("--drift", `${Math.round(Math.random() * 60 - 30)}px`);
      if (count > 6 && i === 0) bubble.dataset.count = `×${count}`;
      layer.append(bubble);
      setTimeout(() => bubble.remove(), 3200);
    }
  }
}

export function reactionLabel(t, kind) {
  return t[`reaction_${kind}`] || kind;
}

export function modeLabelForStaff(state, t) {
  const mode = state.mode?.mode;
  const table = tableName(state, state.mode?.table_id) || t.another_table;
  if (mode === "visiting") return format(t.staff_mode_visiting, { table });
  if (mode === "stage") return format(t.staff_mode_stage, { table });
  return t[`staff_mode_${mode}`] || mode || "";
}

export function modeTextForLearner(state, t) {
  const mode = state.mode?.mode;
  const tableId = state.mode?.table_id;
  const mine = state.table && state.table.id === tableId;
  const table = tableName(state, tableId) || t.another_table;
  switch (mode) {
    case "table_talk":
      return state.mode.podium_addresses_all ? t.mode_table_talk_podium : t.mode_table_talk;
    case "visiting":
      return mine ? t.mode_visiting_mine : format(t.mode_visiting_other, { table });
    case "stage":
      return mine ? t.mode_stage_mine : format(t.mode_stage_other, { table });
    case "podium":
      return t.mode_podium;
    default:
      return t.mode_lecture;
  }
}
