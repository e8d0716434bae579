// The instructor console: seat map with presence and engagement, hand queue,
// podium, mode switcher, timers, announcements, Q&A, chat, help flags and polls.

import { clockTime, format, h, setText, show, syncList } from "./dom.js";
import { PollPanel } from "./polls.js";
import {
  Chat,
  Questions,
  REACTIONS,
  burst,
  modeLabelForStaff,
  reactionLabel,
  renderAnnouncements,
  renderTimers,
} from "./widgets.js";

const MARKERS = [
  ["chatted", "💬"],
  ["reacted", "👍"],
  ["answered", "✅"],
  ["spoke", "🎙"],
];

export class ConsoleView {
  constructor(app) {
    this.app = app;
    const r = app.refs;
    this.chat = new Chat(app);
    this.questions = new Questions(app);
    this.polls = new PollPanel(app);

    r["start-button"].addEventListener("click", () => app.act("session.start", {}));
    r["end-button"].addEventListener("click", () => {
      if (window.confirm(app.t.confirm_end)) app.act("session.end", {});
    });
    r["anon-toggle"]?.addEventListener("change", (event) =>
      app.act("session.settings", { anonymous_questions_allowed: event.target.checked }),
    );

    for (const button of document.querySelectorAll(".mode-button")) {
      button.addEventListener("click", () => this.setMode(button.dataset.mode));
    }
    r["mode-podium-all"].addEventListener("change", (event) => {
      const mode = app.state.mode;
      app.act("mode.set", {
        mode: mode.mode,
        table_id: mode.table_id,
        podium_addresses_all: event.target.checked,
      });
    });

    r["timer-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.startTimer(Number(r["timer-minutes"].value));
    });
    for (const preset of r["timer-form"].querySelectorAll("[data-minutes]")) {
      preset.addEventListener("click", () => {
        r["timer-minutes"].value = preset.dataset.minutes;
        this.startTimer(Number(preset.dataset.minutes));
      });
    }

    r["announce-form"].addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = r["announce-input"].value.trim();
      if (!body) return;
      r["announce-input"].value = "";
      const result = await app.act("announcement.send", { body });
      if (!result.ok && !r["announce-input"].value) r["announce-input"].value = body;
    });
    r["hands-lower-all"].addEventListener("click", () => app.act("hands.lower_all", {}));
  }

  setMode(mode, tableId) {
    const r = this.app.refs;
    const data = { mode, podium_addresses_all: r["mode-podium-all"].checked };
    if (mode === "visiting" || mode === "stage") {
      data.table_id = tableId ?? (Number(r["mode-table"].value) || null);
    }
    this.app.act("mode.set", data);
  }

  startTimer(minutes) {
    const r = this.app.refs;
    const label = r["timer-label"].value.trim() || this.app.t.staff_mode_table_talk;
    if (!Number.isFinite(minutes) || minutes <= 0) return;
    this.app.act("timer.start", { label, seconds: Math.round(minutes * 60) });
  }

  effects(effects) {
    for (const effect of effects) {
      if (effect.kind === "chat") this.chat.onMessage(effect.message);
      if (effect.kind === "burst") burst(this.app, effect.counts);
      if (effect.kind === "mode" && this.app.state.session.state === "live") {
        this.app.say(format(this.app.t.sr_mode, { mode: modeLabelForStaff(this.app.state, this.app.t) }), {
          key: "mode",
        });
      }
    }
    this.polls.effects(effects);
  }

  tick() {
    renderTimers(this.app, this.app.refs.timers, { staff: true });
    this.polls.tick();
  }

  render() {
    const { state, t, refs: r } = this.app;
    const sessionState = state.session.state;
    const live = sessionState === "live";

    show(r["start-button"], sessionState === "scheduled");
    show(r["end-button"], live);
    if (r["anon-toggle"]) {
      r["anon-toggle"].checked = Boolean(state.session.anonymous_questions_allowed);
      r["anon-toggle"].disabled = sessionState === "ended" || sessionState === "cancelled";
    }

    // Mode, or where the session stands when it is not live
    r["mode-current"].hidden = false;
    r["mode-current"].dataset.mode = live ? state.mode.mode : sessionState;
    setText(
      r["mode-current"],
      live ? modeLabelForStaff(state, t) : t[`staff_${sessionState}`] || sessionState,
    );
    const tables = state.staff.seatMap;
    syncList(
      r["mode-table"],
      tables,
      (table) => table.id,
      (table) => h("option", { value: table.id }),
      (option, table) => setText(option, table.name),
    );
    if (state.mode.table_id && document.activeElement !== r["mode-table"]) {
      r["mode-table"].value = String(state.mode.table_id);
    }
    for (const button of document.querySelectorAll(".mode-button")) {
      const mode = button.dataset.mode;
      const needsTable = mode === "visiting" || mode === "stage";
      const current =
        state.mode.mode === mode &&
        (!needsTable || String(state.mode.table_id) === r["mode-table"].value);
      button.setAttribute("aria-pressed", String(current));
      button.disabled = !live || (needsTable && !tables.length);
    }
    r["mode-podium-all"].checked = Boolean(state.mode.podium_addresses_all);
    r["mode-podium-all"].disabled = !live;
    for (const control of r["timer-form"].querySelectorAll("button, input")) {
      control.disabled = !live;
    }
    for (const control of r["announce-form"].querySelectorAll("button, textarea")) {
      control.disabled = !live;
    }

    // Audio/video down (media.health): the class goes on; media returns by itself.
    const mediaDown = state.staff && state.staff.media && state.staff.media.up === false;
    show(r["media-down"], Boolean(mediaDown));
    setText(r["media-down"], mediaDown ? t.media_down : "");
    this.announceChanges();
    this.renderSeatMap();
    this.renderHelp();
    this.renderEngagement();
    this.renderHands(live);
    renderTimers(this.app, r.timers, { staff: true });
    renderAnnouncements(this.app, r.announcements);
    this.questions.render();
    this.chat.render();
    this.polls.render();
  }

  /** New raised hands and help requests, said once each (coalesced when many). */
  announceChanges() {
    const { state, t } = this.app;
    const hands = new Set(state.hands.map((hand) => hand.user.id));
    const help = new Set(state.staff.help.map((flag) => flag.table_id));
    const before = this.lastSeen;
    this.lastSeen = { hands, help };
    if (!before) return;
    for (const hand of state.hands) {
      if (!before.hands.has(hand.user.id)) {
        this.app.say(format(t.sr_hand_raised, { name: hand.user.name }), {
          group: { name: "hands", many: (n) => format(t.sr_hands_raised, { n }) },
        });
      }
    }
    for (const flag of state.staff.help) {
      if (!before.help.has(flag.table_id)) {
        this.app.say(format(t.help_table, { table: flag.table_name }), {
          group: { name: "help", many: (n) => format(t.sr_help_many, { n }) },
        });
      }
    }
  }

  helpTables() {
    return new Set(this.app.state.staff.help.map((flag) => flag.table_id));
  }

  markers(userId) {
    const learner = this.app.state.staff.engagement?.learners?.[String(userId)];
    return learner?.active || {};
  }

  markerElements(userId) {
    const { t } = this.app;
    const active = this.markers(userId);
    return MARKERS.filter(([name]) => active[name]).map(([name, icon]) =>
      h("span", { class: "marker", title: t[`marker_${name}`] }, h("span", { "aria-hidden": "true", text: icon }), h("span", { class: "visually-hidden", text: t[`marker_${name}`] })),
    );
  }

  renderSeatMap() {
    const { state, t, refs: r } = this.app;
    const help = this.helpTables();
    const hands = new Set(state.hands.map((hand) => hand.user.id));
    const podium = new Set(state.podium.map((speaker) => speaker.user.id));
    const live = state.session.state === "live";
    const tables = state.staff.seatMap;
    show(r["seat-empty"], tables.length === 0);
    setText(r["seat-empty"], t.seat_none);
    syncList(
      r["seat-map"],
      tables,
      (table) => table.id,
      (table) =>
        h(
          "article",
          { class: "seat-table", "aria-labelledby": `seat-table-${table.id}` },
          h(
            "header",
            { class: "seat-table__head" },
            h("h3", { id: `seat-table-${table.id}`, "data-part": "name" }),
            h("span", { class: "seat-table__count muted small", "data-part": "count" }),
          ),
          h("p", { class: "seat-table__help", "data-part": "help" }),
          h("ul", { class: "members members--compact", "data-part": "members" }),
          h(
            "div",
            { class: "seat-table__actions" },
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "visit",
              onclick: () => this.setMode("visiting", table.id),
            }),
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "stage",
              onclick: () => this.setMode("stage", table.id),
            }),
          ),
        ),
      (card, table) => {
        const needsHelp = help.has(table.id);
        const inFocus = ["visiting", "stage"].includes(state.mode.mode) && state.mode.table_id === table.id;
        card.classList.toggle("seat-table--help", needsHelp);
        card.classList.toggle("seat-table--focus", inFocus);
        setText(card.querySelector('[data-part="name"]'), table.name);
        const online = table.members.filter((m) => m.online).length;
        setText(card.querySelector('[data-part="count"]'), `${online}/${table.members.length}`);
        const helpLine = card.querySelector('[data-part="help"]');
        show(helpLine, needsHelp);
        setText(helpLine, needsHelp ? format(t.help_table, { table: table.name }) : "");
        const visit = card.querySelector('[data-part="visit"]');
        const stage = card.querySelector('[data-part="stage"]');
        setText(visit, t.visit);
        setText(stage, t.stage);
        visit.setAttribute("aria-label", format(t.visit_table, { table: table.name }));
        stage.setAttribute("aria-label", format(t.stage_table, { table: table.name }));
        visit.disabled = stage.disabled = !live;
        visit.setAttribute("aria-pressed", String(state.mode.mode === "visiting" && state.mode.table_id === table.id));
        stage.setAttribute("aria-pressed", String(state.mode.mode === "stage" && state.mode.table_id === table.id));
        const list = card.querySelector('[data-part="members"]');
        syncList(
          list,
          table.members,
          (member) => member.id,
          () =>
            h(
              "li",
              { class: "member" },
              h("span", { class: "dot", "aria-hidden": "true", "data-part": "dot" }),
              h("span", { class: "member__name", "data-part": "name" }),
              h("span", { class: "member__flags", "data-part": "flags" }),
              h("span", { class: "member__markers", "data-part": "markers" }),
            ),
          (item, member) => {
            const away = Boolean(member.away);
            item.classList.toggle("member--online", member.online && !away);
            item.classList.toggle("member--away", away);
            item.classList.toggle("member--offline", !member.online);
            item.querySelector('[data-part="dot"]').className =
              `dot${away ? " dot--away" : member.online ? " dot--online" : ""}`;
            setText(item.querySelector('[data-part="name"]'), member.name);
            const flags = [];
            if (!member.online) flags.push(t.offline_member);
            else if (away) flags.push(t.away);
            else flags.push(t.online);
            const flagText = flags.join(", ");
            const flagsPart = item.querySelector('[data-part="flags"]');
            flagsPart.replaceChildren(
              h("span", { class: "visually-hidden", text: flagText }),
              hands.has(member.id) ? flag(t.flag_hand, "✋") : "",
              podium.has(member.id) ? flag(t.flag_podium, "🎙") : "",
              away ? h("span", { class: "badge badge--away", text: t.away }) : "",
            );
            item.querySelector('[data-part="markers"]').replaceChildren(...this.markerElements(member.id));
          },
        );
      },
    );
  }

  renderHelp() {
    const { state, t, refs: r } = this.app;
    const flags = state.staff.help;
    syncList(
      r["help-list"],
      flags,
      (flag) => flag.id,
      (flag) =>
        h(
          "li",
          { class: "help-item" },
          h(
            "div",
            {},
            h("strong", { "data-part": "table" }),
            h("span", { class: "muted small", "data-part": "who" }),
          ),
          h("button", {
            type: "button",
            class: "button button--small button--primary",
            text: t.resolve,
            onclick: () => this.app.act("help.resolve", { table_id: flag.table_id }),
          }),
        ),
      (item, flag) => {
        setText(item.querySelector('[data-part="table"]'), flag.table_name);
        const who = flag.raised_by ? format(t.help_from, { name: flag.raised_by.name }) : "";
        setText(item.querySelector('[data-part="who"]'), ` ${who} · ${clockTime(flag.raised_at)}`);
      },
    );
    show(r["help-empty"], flags.length === 0);
    setText(r["help-empty"], t.help_none);
  }

  renderEngagement() {
    const { state, t, refs: r } = this.app;
    const rows = [];
    for (const table of state.staff.seatMap) {
      for (const member of table.members) rows.push({ ...member, table: table.name });
    }
    syncList(
      r["engagement-body"],
      rows,
      (row) => row.id,
      () =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("span", { "data-part": "name" }), h("span", { class: "muted small", "data-part": "table" })),
          h("td", { class: "engagement__markers", "data-part": "markers" }),
          h("td", { class: "engagement__reactions", "data-part": "reactions" }),
          h("td", { class: "engagement__talk", "data-part": "talk" }),
        ),
      (row, person) => {
        row.classList.toggle("is-offline", !person.online);
        setText(row.querySelector('[data-part="name"]'), person.name);
        setText(row.querySelector('[data-part="table"]'), ` · ${person.table}`);
        const active = this.markers(person.id);
        row.querySelector('[data-part="markers"]').replaceChildren(
          ...MARKERS.map(([name, icon]) =>
            h(
              "span",
              { class: `marker${active[name] ? " marker--on" : ""}`, title: t[`marker_${name}`] },
              h("span", { "aria-hidden": "true", text: icon }),
              h("span", { class: "visually-hidden", text: active[name] ? t[`marker_${name}`] : "" }),
            ),
          ),
        );
        const counts = state.staff.engagement?.learners?.[String(person.id)]?.reactions || {};
        const parts = REACTIONS.filter(([kind]) => counts[kind]).map(([kind, emoji]) =>
          h(
            "span",
            { class: "reaction-count", title: reactionLabel(t, kind) },
            h("span", { "aria-hidden": "true", text: emoji }),
            h("span", { class: "visually-hidden", text: `${reactionLabel(t, kind)}: ` }),
            String(counts[kind]),
          ),
        );
        row.querySelector('[data-part="reactions"]').replaceChildren(...(parts.length ? parts : ["—"]));
        // Talk time from the media server's audio levels (talk.changed).
        const talk = state.staff.talk?.learners?.[String(person.id)];
        const talkCell = row.querySelector('[data-part="talk"]');
        talkCell.classList.toggle("is-talking", Boolean(talk?.talking));
        // The talk meter in words too: "talking now" is not only a speaker icon.
        const talkKey = talk ? `${talk.talking}|${formatTalk(talk.total_ms)}` : "";
        if (talkCell.dataset.key !== talkKey) {
          talkCell.dataset.key = talkKey;
          talkCell.replaceChildren(
            ...(talk
              ? [
                  talk.talking ? h("span", { "aria-hidden": "true", text: "🔊 " }) : "",
                  talk.talking ? h("span", { class: "visually-hidden", text: `${t.talking_now}, ` }) : "",
                  formatTalk(talk.total_ms),
                ]
              : ["—"]),
          );
        }
      },
    );
    const tableTalk = state.staff.talk?.tables || {};
    const tableParts = state.staff.seatMap
      .filter((table) => tableTalk[String(table.id)])
      .map((table) => {
        const entry = tableTalk[String(table.id)];
        return `${table.name} ${formatTalk(entry.total_ms)}${entry.talking ? ` (${t.talking_now})` : ""}`;
      });
    show(r["talk-tables"], tableParts.length > 0);
    setText(r["talk-tables"], tableParts.length ? `${t.talk_by_table}: ${tableParts.join(" · ")}` : "");
    show(r["engagement-empty"], rows.length === 0);
    setText(r["engagement-empty"], t.engagement_none);
  }

  renderHands(live) {
    const { state, t, refs: r } = this.app;
    syncList(
      r["hands-list"],
      state.hands,
      (hand) => hand.user.id,
      (hand) =>
        h(
          "li",
          { class: "person" },
          h("span", { class: "person__position", "data-part": "position" }),
          h("span", { class: "person__name", "data-part": "name" }),
          h(
            "span",
            { class: "person__actions" },
            h("button", {
              type: "button",
              class: "button button--small button--primary",
              "data-part": "invite",
              text: t.invite,
              onclick: () => this.app.act("podium.invite", { user_id: hand.user.id }),
            }),
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "lower",
              text: t.lower,
              onclick: () => this.app.act("hand.lower", { user_id: hand.user.id }),
            }),
          ),
        ),
      (item, hand) => {
        setText(item.querySelector('[data-part="position"]'), `${hand.position}.`);
        setText(item.querySelector('[data-part="name"]'), hand.user.name);
        item.querySelector('[data-part="invite"]').setAttribute("aria-label", `${t.invite}: ${hand.user.name}`);
        item.querySelector('[data-part="lower"]').setAttribute("aria-label", `${t.lower}: ${hand.user.name}`);
        for (const button of item.querySelectorAll("button")) button.disabled = !live;
      },
    );
    show(r["hands-empty"], state.hands.length === 0);
    setText(r["hands-empty"], t.hands_empty);
    r["hands-lower-all"].disabled = !live || state.hands.length === 0;

    syncList(
      r["podium-list"],
      state.podium,
      (speaker) => speaker.user.id,
      (speaker) =>
        h(
          "li",
          { class: "person" },
          h("span", { class: "person__position", "aria-hidden": "true", text: "🎙" }),
          h("span", { class: "person__name", "data-part": "name" }),
          h(
            "span",
            { class: "person__actions" },
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "remove",
              text: t.remove,
              onclick: () => this.app.act("podium.remove", { user_id: speaker.user.id }),
            }),
          ),
        ),
      (item, speaker) => {
        setText(item.querySelector('[data-part="name"]'), speaker.user.name);
        item.querySelector('[data-part="remove"]').setAttribute("aria-label", `${t.remove}: ${speaker.user.name}`);
      },
    );
    show(r["podium-empty"], state.podium.length === 0);
    setText(r["podium-empty"], t.podium_empty);
  }
}

/** A flag icon with its words for screen readers (the title is for the mouse). */
function flag(label, icon) {
  return h(
    "span",
    { class: "flag", title: label },
    h("span", { "aria-hidden": "true", text: icon }),
    h("span", { class: "visually-hidden", text: label }),
  );
}

function formatTalk(milliseconds) {
  const seconds = Math.round((milliseconds || 0) / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
