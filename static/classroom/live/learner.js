// The learner view: my table, the podium, the mode, timers, chat, Q&A,
// hand, reactions, away, help and polls.

import { dateTime, format, h, setText, show, syncList } from "./dom.js";
import { LearnerPolls } from "./poll_learner.js";
import {
  Chat,
  Questions,
  REACTIONS,
  burst,
  modeTextForLearner,
  reactionLabel,
  renderAnnouncements,
  renderTimers,
} from "./widgets.js";

export class LearnerView {
  constructor(app) {
    this.app = app;
    const r = app.refs;
    this.chat = new Chat(app);
    this.questions = new Questions(app);
    this.polls = new LearnerPolls(app);
    this.dismissedAnnouncement = null;

    r["hand-button"].addEventListener("click", () => {
      const raised = this.myHand();
      // My own lowering is not news; the instructor's is (see announceChanges).
      if (raised) this.loweringMyHand = true;
      app.act(raised ? "hand.lower" : "hand.raise", {});
    });
    r["away-button"].addEventListener("click", async () => {
      const away = !app.state.me.away;
      const result = await app.act("away.set", { away });
      // Learners without a table get no away frame: the ack is the confirmation.
      if (result.ok) {
        app.state.me.away = away;
        this.render();
      }
    });
    r["help-button"].addEventListener("click", () => app.act("help.request", {}));
    r["podium-leave"].addEventListener("click", () => {
      this.leavingPodium = true;
      app.act("podium.remove", {});
    });
    r["latest-announcement-close"].addEventListener("click", () => {
      this.dismissedAnnouncement = app.state.announcements[0]?.id ?? null;
      show(r["latest-announcement"], false);
    });
    for (const [kind, emoji] of REACTIONS) {
      const label = reactionLabel(app.t, kind);
      r["reaction-buttons"].append(
        h(
          "button",
          {
            type: "button",
            class: "reaction",
            title: label,
            "aria-label": label,
            onclick: () => app.act("reaction.send", { kind }),
          },
          h("span", { "aria-hidden": "true", text: emoji }),
        ),
      );
    }
  }

  myHand() {
    const { state } = this.app;
    return state.hands.find((hand) => hand.user.id === state.me.id) || null;
  }

  effects(effects) {
    for (const effect of effects) {
      if (effect.kind === "chat") this.chat.onMessage(effect.message);
      if (effect.kind === "burst") burst(this.app, effect.counts);
      if (effect.kind === "announcement") this.dismissedAnnouncement = null;
      if (effect.kind === "mode" && this.app.state.session.state === "live") {
        // On stage or visited, my table is heard: said at once.
        const mode = this.app.state.mode;
        const mine = this.app.state.table && this.app.state.table.id === mode?.table_id;
        this.app.say(modeTextForLearner(this.app.state, this.app.t), {
          key: "mode",
          assertive: Boolean(mine && (mode.mode === "stage" || mode.mode === "visiting")),
        });
      }
    }
    this.polls.effects(effects);
  }

  tick() {
    renderTimers(this.app, this.app.refs.timers);
    this.polls.tick();
  }

  render() {
    const { state, t, refs: r } = this.app;
    const sessionState = state.session.state;
    const live = sessionState === "live";
    const ended = sessionState === "ended" || sessionState === "cancelled";

    // Session state: waiting, live, ended.
    show(r.waiting, sessionState === "scheduled");
    setText(
      r["waiting-time"],
      format(t.starts_at, { time: dateTime(state.session.scheduled_start) }),
    );
    show(r.ended, ended);
    setText(r["ended-text"], sessionState === "cancelled" ? t.session_cancelled : t.session_ended);
    show(r["live-area"], live);
    show(r["mode-banner"], live);
    if (live) {
      r["mode-banner"].dataset.mode = state.mode?.mode || "lecture";
      setText(r["mode-banner"], modeTextForLearner(state, t));
    }

    // Latest announcement, prominent until dismissed.
    const latest = state.announcements[0];
    const showLatest = live && latest && latest.id !== this.dismissedAnnouncement;
    show(r["latest-announcement"], Boolean(showLatest));
    if (showLatest) setText(r["latest-announcement-text"], latest.body);

    this.renderPodium();
    this.renderControls(live);
    this.renderTable(live);
    this.announceChanges();
    renderTimers(this.app, r.timers);
    renderAnnouncements(this.app, r.announcements);
    this.chat.render();
    this.questions.render();
    this.polls.render();
  }

  /** What changed for me since the last render, said once: my hand raised or
   * acknowledged (invited to the podium, or lowered by the instructor), the
   * podium, my table's help request. */
  announceChanges() {
    const { state, t } = this.app;
    const hand = this.myHand();
    const now = {
      hand: hand ? hand.position : null,
      podium: state.podium.some((speaker) => speaker.user.id === state.me.id),
      help: Boolean(state.table?.help_open),
    };
    const before = this.lastSeen;
    this.lastSeen = now;
    if (!before || state.session.state !== "live") return;
    if (now.podium && !before.podium) {
      this.app.say(t.sr_invited_to_podium, { assertive: true, key: "hand" });
    } else if (!now.podium && before.podium) {
      if (!this.leavingPodium) this.app.say(t.sr_left_podium, { key: "hand" });
      this.leavingPodium = false;
    }
    if (before.hand != null && now.hand == null) {
      if (!now.podium && !this.loweringMyHand) {
        this.app.say(t.sr_hand_lowered_by_staff, { assertive: true, key: "hand" });
      } else if (this.loweringMyHand) this.app.say(t.sr_hand_lowered, { key: "hand" });
      this.loweringMyHand = false;
    } else if (before.hand == null && now.hand != null) {
      this.app.say(format(t.hand_position, { n: now.hand }), { key: "hand" });
    }
    if (now.help && !before.help) this.app.say(t.help_open, { key: "help" });
    else if (!now.help && before.help) this.app.say(t.sr_help_resolved, { key: "help" });
  }

  renderPodium() {
    const { state, t, refs: r } = this.app;
    const people = [
      { id: "instructor", name: t.instructor, instructor: true },
      ...state.podium.map((speaker) => speaker.user),
    ];
    syncList(
      r["podium-list"],
      people,
      (person) => person.id,
      () =>
        h(
          "li",
          { class: "speaker" },
          h("span", { class: "speaker__mic", "aria-hidden": "true", text: "🎙" }),
          h("span", { class: "speaker__name", "data-part": "name" }),
        ),
      (item, person) => {
        const me = person.id === state.me.id;
        item.classList.toggle("speaker--instructor", Boolean(person.instructor));
        item.classList.toggle("speaker--me", me);
        setText(item.querySelector('[data-part="name"]'), me ? `${person.name} (${t.you})` : person.name);
      },
    );
    const onPodium = state.podium.some((speaker) => speaker.user.id === state.me.id);
    show(r["podium-me"], onPodium && state.session.state === "live");
    setText(r["podium-me-text"], t.on_podium);
    setText(r["podium-leave"], t.leave_podium);
  }

  renderControls(live) {
    const { state, t, refs: r } = this.app;
    const participate = state.me.may_participate;
    const hand = this.myHand();
    const button = r["hand-button"];
    button.setAttribute("aria-pressed", String(Boolean(hand)));
    button.classList.toggle("is-active", Boolean(hand));
    setText(r["hand-label"], hand ? t.lower_hand : t.raise_hand);
    button.disabled = !live || !participate;
    setText(r["hand-status"], hand ? format(t.hand_position, { n: hand.position }) : "");

    const away = Boolean(state.me.away);
    r["away-button"].setAttribute("aria-pressed", String(away));
    r["away-button"].classList.toggle("is-active", away);
    setText(r["away-button"], away ? t.away_on : t.away_off);
    r["away-button"].disabled = !participate;
    document.body.classList.toggle("is-away", away);
    for (const reaction of r["reaction-buttons"].children) reaction.disabled = !live || !participate;
    show(r.reactions, participate);
  }

  renderTable(live) {
    const { state, t, refs: r } = this.app;
    const table = state.table;
    setText(r["table-name"], table ? table.name : t.unseated_table);
    show(r["table-empty"], !table);
    setText(r["table-empty"], t.unseated_help);
    syncList(
      r["table-members"],
      table ? table.members : [],
      (member) => member.id,
      () =>
        h(
          "li",
          { class: "member" },
          h("span", { class: "dot", "aria-hidden": "true", "data-part": "dot" }),
          h("span", { class: "member__name", "data-part": "name" }),
          h("span", { class: "member__status", "data-part": "status" }),
        ),
      (item, member) => {
        const me = member.id === state.me.id;
        const online = me || member.online;
        const away = me ? state.me.away : member.away;
        const status = away ? t.away : online ? t.online : t.offline_member;
        item.classList.toggle("member--online", online && !away);
        item.classList.toggle("member--away", Boolean(away));
        item.classList.toggle("member--me", me);
        const dot = item.querySelector('[data-part="dot"]');
        dot.className = `dot${away ? " dot--away" : online ? " dot--online" : ""}`;
        setText(item.querySelector('[data-part="name"]'), me ? `${member.name} (${t.you})` : member.name);
        setText(item.querySelector('[data-part="status"]'), status);
      },
    );
    const helpOpen = Boolean(table?.help_open);
    show(r["help-row"], Boolean(table) && live && state.me.may_participate);
    r["help-button"].disabled = helpOpen;
    r["help-button"].classList.toggle("is-active", helpOpen);
    setText(r["help-status"], helpOpen ? t.help_open : "");
  }
}
