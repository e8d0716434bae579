// The console's poll panel: launch from the session plan or create a poll on
// the fly, then watch it live (count and rate, distribution, per-table
// breakdown, who has not answered, countdown), close, reopen, publish.
// Live numbers come from staff `poll.tally_changed` frames (public ones are ignored
// here); earlier polls of the session are listed compactly with their results.

import { format, h, setText, show, syncList } from "./dom.js";
import { QuestionEditor, SettingsEditor, settingsSummary } from "./poll_editor.js";
import {
  CHOICE_KINDS,
  chipList,
  correctText,
  formatNumber,
  kindLabel,
  optionLabel,
  pollOptions,
  renderCountdown,
  renderResults,
  timeLeft,
} from "./poll_common.js";
import { pollList } from "./state.js";

const OPEN_ERRORS = ["invalid_poll", "question_not_found", "session_not_live", "invalid"];

/** A one-line summary of a distribution (for the per-table breakdown). */
function distributionSummary(t, poll, distribution, shared) {
  if (!distribution) return "";
  if (CHOICE_KINDS.has(poll.kind)) {
    const counts = distribution.counts || {};
    return pollOptions(poll)
      .filter((option) => counts[option.id])
      .sort((a, b) => counts[b.id] - counts[a.id])
      .map((option) => {
        const label = optionLabel(t, poll, option.id);
        return shared ? label : `${label} (${counts[option.id]})`;
      })
      .join(" · ");
  }
  if (poll.kind === "rating") {
    if (shared) {
      const value = Object.keys(distribution.counts || {}).find((key) => distribution.counts[key]);
      return value ? format(t.poll_rating_of, { value, scale: poll.definition?.scale || 5 }) : "";
    }
    return distribution.mean != null ? format(t.poll_mean, { value: formatNumber(distribution.mean) }) : "";
  }
  if (poll.kind === "short_text") {
    return (distribution.groups || [])
      .slice(0, 3)
      .map((group) => (shared ? group.text : `${group.text} (${group.count})`))
      .join(" · ");
  }
  if (shared && distribution.values?.length) return formatNumber(distribution.values[0]);
  return distribution.mean != null ? format(t.poll_mean, { value: formatNumber(distribution.mean) }) : "";
}

export class PollPanel {
  constructor(app) {
    this.app = app;
    const { t, refs: r, config } = app;
    this.active = r["poll-active"];
    this.activeEmpty = r["poll-active-empty"];
    this.planList = r["poll-plan-list"];
    this.planEmpty = r["poll-plan-empty"];
    this.planStatus = r["poll-plan-status"];
    this.earlierWrap = r["poll-earlier-wrap"];
    this.earlier = r["poll-earlier"];
    this.earlierSummary = r["poll-earlier-summary"];
    this.createToggle = r["poll-create-toggle"];
    this.createWrap = r["poll-create"];
    this.liveNote = r["poll-live-note"];
    this.plan = null; // null until loaded
    this.launching = new Set(); // plan item ids being launched
    this.autoClosed = new Set(); // polls this console asked to close at 0:00
    this.launchingNew = false;
    this.planUrl = `/api/sessions/${config.session_id}/plan/`;

    // Create a poll on the fly
    this.question = new QuestionEditor(t, "poll-new", () => this.settings?.setGradable(this.question.gradable()));
    this.settings = new SettingsEditor(t, "poll-new-set");
    this.settings.setGradable(this.question.gradable());
    this.formError = h("p", { class: "poll-error", hidden: true });
    this.launchButton = h("button", { type: "submit", class: "button button--primary", text: t.poll_launch });
    this.form = h(
      "form",
      { class: "poll-create-form", novalidate: true, "aria-label": t.poll_create_title },
      this.question.element,
      h("h4", { class: "section-title", text: t.poll_settings }),
      this.settings.element,
      this.formError,
      h(
        "div",
        { class: "poll-create-form__actions" },
        this.launchButton,
        h("button", {
          type: "button",
          class: "button",
          text: t.poll_cancel,
          onclick: () => this.toggleCreate(false),
        }),
      ),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.launchNew();
    });
    this.createWrap.append(this.form);
    this.createToggle.addEventListener("click", () =>
      this.toggleCreate(this.createToggle.getAttribute("aria-expanded") !== "true"),
    );
    r["poll-plan-refresh"]?.addEventListener("click", () => this.loadPlan());
    // "Edit the plan" opens another tab: coming back shows what changed there.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.loadPlan();
    });
    this.loadPlan();
  }

  toggleCreate(open) {
    this.createToggle.setAttribute("aria-expanded", String(open));
    show(this.createWrap, open);
    if (open) this.question.prompt.focus();
    else this.createToggle.focus();
  }

  async loadPlan() {
    const { t } = this.app;
    if (this.plan === null) {
      setText(this.planStatus, t.poll_plan_loading);
      show(this.planStatus, true);
    }
    try {
      const response = await fetch(this.planUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      this.plan = await response.json();
      if (!this.planStatus.classList.contains("poll-error")) show(this.planStatus, false);
    } catch {
      this.planStatus.classList.remove("poll-error");
      setText(this.planStatus, t.poll_plan_failed);
      show(this.planStatus, true);
    }
    this.render();
  }

  async launchPlanned(item) {
    const { t } = this.app;
    this.launching.add(item.id);
    this.render();
    const result = await this.app.act("poll.open", { question_id: item.question.id }, { quiet: OPEN_ERRORS });
    this.launching.delete(item.id);
    if (!result.ok) {
      setText(this.planStatus, format(t.poll_launch_failed, { message: result.error.message || t.error }));
      show(this.planStatus, true);
      this.app.say(this.planStatus.textContent, { assertive: true });
      this.planStatus.classList.add("poll-error");
    } else {
      this.planStatus.classList.remove("poll-error");
      show(this.planStatus, false);
    }
    this.render();
  }

  async launchNew() {
    const { t } = this.app;
    const question = this.question.value();
    const settings = this.settings.value();
    const errors = { ...(question.ok ? {} : question.errors), ...(settings.ok ? {} : settings.errors) };
    this.question.showErrors(question.ok ? {} : question.errors);
    this.settings.showErrors(settings.ok ? {} : settings.errors);
    show(this.formError, false);
    if (Object.keys(errors).length) return;
    this.launchingNew = true;
    this.launchButton.disabled = true;
    const result = await this.app.act(
      "poll.open",
      { ...question.question, settings: settings.settings },
      { quiet: OPEN_ERRORS },
    );
    this.launchingNew = false;
    this.launchButton.disabled = this.app.state.session.state !== "live";
    if (result.ok) {
      this.question.reset();
      this.settings.reset();
      this.settings.setGradable(this.question.gradable());
      this.toggleCreate(false);
      return;
    }
    const details = result.error.details || {};
    const placedInQuestion = this.question.showErrors(details);
    const placedInSettings = this.settings.showErrors(details);
    if (!placedInQuestion && !placedInSettings) {
      setText(this.formError, result.error.message || t.error);
      show(this.formError, true);
      this.app.say(this.formError.textContent, { assertive: true });
    }
  }

  // --- Render ----------------------------------------------------------------------------

  effects() {}

  tick() {
    const { state } = this.app;
    for (const poll of state.polls.values()) {
      const left = timeLeft(this.app, poll);
      // The countdown reached zero: close it (the server may have already).
      if (left != null && left <= 0 && poll.state === "open" && !this.autoClosed.has(poll.id)) {
        this.autoClosed.add(poll.id);
        this.app.act("poll.close", { poll_id: poll.id }, { quiet: ["poll_closed", "poll_not_found"] });
      }
    }
    for (const card of this.active.children) {
      const poll = state.polls.get(Number(card.dataset.key));
      if (poll) renderCountdown(this.app, card.querySelector('[data-part="timer"]'), poll);
    }
  }

  render() {
    const { state, t } = this.app;
    const live = state.session.state === "live";
    const polls = pollList(state);
    const latest = polls.at(-1);
    const active = polls.filter((poll) => poll.state === "open" || poll === latest).reverse();
    const earlier = polls.filter((poll) => !active.includes(poll)).reverse();

    syncList(
      this.active,
      active,
      (poll) => poll.id,
      (poll) => this.createCard(poll),
      (card, poll) => this.updateCard(card, poll),
    );
    show(this.activeEmpty, active.length === 0);
    setText(this.activeEmpty, t.poll_none_yet);

    this.launchButton.disabled = !live || this.launchingNew;
    // Once the session is over, no new poll: the button and the form go away.
    const over = state.session.state === "ended" || state.session.state === "cancelled";
    if (over && this.createToggle.getAttribute("aria-expanded") === "true") {
      this.createToggle.setAttribute("aria-expanded", "false");
      show(this.createWrap, false);
    }
    show(this.createToggle, !over);
    show(this.liveNote, over || state.session.state === "scheduled");
    setText(this.liveNote, over ? t.poll_session_ended : t.poll_start_first);
    this.renderPlan(live, polls);

    show(this.earlierWrap, earlier.length > 0);
    setText(this.earlierSummary, format(t.poll_earlier, { n: earlier.length }));
    syncList(
      this.earlier,
      earlier,
      (poll) => poll.id,
      (poll) => this.createEarlier(poll),
      (item, poll) => this.updateEarlier(item, poll),
    );
  }

  renderPlan(live, polls) {
    const { t } = this.app;
    const items = this.plan || [];
    const over = ["ended", "cancelled"].includes(this.app.state.session.state);
    show(this.planEmpty, this.plan !== null && items.length === 0);
    setText(this.planEmpty, over ? t.poll_plan_empty_over : t.poll_plan_empty);
    syncList(
      this.planList,
      items,
      (item) => item.id,
      (item) =>
        h(
          "li",
          { class: "plan-item" },
          h("span", { class: "plan-item__position", "data-part": "position", "aria-hidden": "true" }),
          h(
            "div",
            { class: "plan-item__main" },
            h("span", { class: "plan-item__prompt", "data-part": "prompt" }),
            h("span", { class: "plan-item__meta muted small", "data-part": "meta" }),
          ),
          h("span", { class: "badge badge--launched", "data-part": "launched", text: t.poll_launched }),
          h("button", {
            type: "button",
            class: "button button--small button--primary",
            "data-part": "launch",
            onclick: () => this.launchPlanned(item),
          }),
        ),
      (row, item) => {
        const question = item.question;
        setText(row.querySelector('[data-part="position"]'), `${item.position}.`);
        setText(row.querySelector('[data-part="prompt"]'), question.prompt);
        setText(
          row.querySelector('[data-part="meta"]'),
          `${kindLabel(t, question.kind)} · ${settingsSummary(t, item.settings)}`,
        );
        const launched = polls.some((poll) => poll.kind === question.kind && poll.prompt === question.prompt);
        row.classList.toggle("plan-item--launched", launched);
        show(row.querySelector('[data-part="launched"]'), launched);
        const button = row.querySelector('[data-part="launch"]');
        setText(button, this.launching.has(item.id) ? t.poll_launching : launched ? t.poll_launch_again : t.poll_launch);
        button.setAttribute("aria-label", `${launched ? t.poll_launch_again : t.poll_launch}: ${question.prompt}`);
        button.disabled = !live || this.launching.has(item.id);
      },
    );
  }

  // --- A live poll -----------------------------------------------------------------------

  createCard(poll) {
    const { t } = this.app;
    const titleId = `poll-live-${poll.id}`;
    return h(
      "article",
      { class: "poll-live", "aria-labelledby": titleId },
      h(
        "header",
        { class: "poll-live__head" },
        h("span", { class: "badge", "data-part": "state" }),
        h("span", { class: "poll-timer", role: "timer", "data-part": "timer", hidden: true }),
      ),
      h("h3", { class: "poll-live__prompt", id: titleId, text: poll.prompt }),
      h("div", { "data-part": "chips" }),
      h(
        "div",
        { class: "poll-live__numbers" },
        h(
          "p",
          { class: "poll-live__count-line" },
          h("span", { class: "poll-live__count", "data-part": "responses" }),
          h("span", { class: "poll-live__count-label", "data-part": "count-label" }),
        ),
        h("p", { class: "poll-live__rate", "data-part": "rate" }),
        h("p", { class: "poll-live__right", "data-part": "right" }),
        h("div", { class: "poll-live__meter", "aria-hidden": "true" }, h("span", { "data-part": "meter" })),
      ),
      h("div", { "data-part": "results" }),
      h("p", { class: "poll-live__correct", "data-part": "correct" }),
      h(
        "section",
        { class: "poll-live__tables", "data-part": "tables-wrap", "aria-label": t.poll_by_table },
        h("h4", { class: "section-title", text: t.poll_by_table }),
        h("ul", { class: "poll-tables", "data-part": "tables" }),
      ),
      h(
        "section",
        { class: "poll-live__missing", "data-part": "missing-wrap" },
        h("h4", { class: "section-title", "data-part": "missing-title" }),
        h("ul", { class: "poll-names", "data-part": "missing" }),
      ),
      h("p", { class: "muted small", "data-part": "anonymous-note", text: t.poll_anonymous_note }),
      h(
        "div",
        { class: "poll-live__actions" },
        h("button", {
          type: "button",
          class: "button button--danger",
          "data-part": "close",
          text: t.poll_close,
          onclick: () => this.app.act("poll.close", { poll_id: poll.id }, { quiet: ["poll_closed"] }),
        }),
        h("button", {
          type: "button",
          class: "button",
          "data-part": "reopen",
          text: t.poll_reopen,
          onclick: () => this.app.act("poll.reopen", { poll_id: poll.id }, { quiet: ["poll_open"] }),
        }),
        h("button", {
          type: "button",
          class: "button button--primary",
          "data-part": "publish",
          text: t.poll_publish,
          onclick: () => this.app.act("poll.publish", { poll_id: poll.id }, { quiet: ["already_published"] }),
        }),
      ),
    );
  }

  nameOf(id) {
    const { state, t } = this.app;
    return state.staff.names?.get(id) || t.poll_unknown_learner;
  }

  updateCard(card, poll) {
    const { state, t } = this.app;
    const live = state.session.state === "live";
    const results = poll.results || null;
    const open = poll.state === "open";
    const shared = poll.scope === "one_per_table";
    card.classList.toggle("poll-live--open", open);
    card.classList.toggle("poll-live--published", Boolean(poll.published));

    const badge = card.querySelector('[data-part="state"]');
    setText(badge, poll.published ? t.poll_state_published : open ? t.poll_state_open : t.poll_state_closed);
    badge.className = `badge ${poll.published ? "badge--published" : open ? "badge--open" : "badge--closed"}`;

    const chipsPart = card.querySelector('[data-part="chips"]');
    const chipKey = `${poll.quiz}|${poll.scope}|${poll.anonymous}|${poll.show_live_results}|${poll.allow_change}`;
    if (chipsPart.dataset.key !== chipKey) {
      chipsPart.dataset.key = chipKey;
      chipsPart.replaceChildren(chipList(t, poll));
    }

    // Count and rate
    const responses = results?.responses ?? poll.responses ?? 0;
    setText(card.querySelector('[data-part="responses"]'), String(responses));
    setText(
      card.querySelector('[data-part="count-label"]'),
      shared ? (responses === 1 ? t.poll_table_answer_one : t.poll_table_answers) : responses === 1 ? t.poll_answer_one : t.poll_answers,
    );
    let rateText = "";
    let share = 0;
    if (shared) {
      const tables = state.staff.seatMap.filter((table) => table.members.some((member) => member.online));
      rateText = format(t.poll_tables_rate, { n: responses, total: tables.length });
      share = tables.length ? responses / tables.length : 0;
    } else if (results?.present) {
      share = results.rate ?? responses / results.present;
      rateText = format(t.poll_rate, { n: responses, present: results.present, percent: Math.round(share * 100) });
    } else if (results) {
      rateText = t.poll_nobody_present;
    }
    setText(card.querySelector('[data-part="rate"]'), rateText);
    card.querySelector('[data-part="meter"]').style.width = `${Math.min(100, Math.round(share * 100))}%`;
    const right = card.querySelector('[data-part="right"]');
    const rightText =
      poll.quiz && results?.correct_count != null
        ? format(t.poll_right_count, { n: results.correct_count, total: responses })
        : "";
    setText(right, rightText);
    show(right, Boolean(rightText));

    renderResults(this.app, card.querySelector('[data-part="results"]'), poll, results, {
      correct: poll.quiz ? results?.correct : null,
    });
    const correct = card.querySelector('[data-part="correct"]');
    const correctLine = poll.quiz && results?.correct ? correctText(t, poll, results.correct) : "";
    setText(
      correct,
      correctLine
        ? format(poll.published ? t.poll_correct_published : t.poll_correct_staff, { answer: correctLine })
        : "",
    );
    show(correct, Boolean(correctLine));

    // Per table
    const tablesWrap = card.querySelector('[data-part="tables-wrap"]');
    show(tablesWrap, poll.scope !== "class");
    if (poll.scope !== "class") {
      const byTable = results?.tables || {};
      const rows = state.staff.seatMap.map((table) => ({
        id: table.id,
        name: table.name,
        online: table.members.filter((member) => member.online).length,
        data: byTable[String(table.id)] || null,
      }));
      syncList(
        card.querySelector('[data-part="tables"]'),
        rows,
        (row) => row.id,
        () =>
          h(
            "li",
            { class: "poll-table" },
            h("span", { class: "poll-table__name", "data-part": "name" }),
            h("span", { class: "poll-table__count", "data-part": "count" }),
            h("span", { class: "poll-table__summary", "data-part": "summary" }),
          ),
        (item, row) => {
          const answeredCount = row.data?.responses || 0;
          item.classList.toggle("poll-table--answered", answeredCount > 0);
          setText(item.querySelector('[data-part="name"]'), row.name);
          setText(
            item.querySelector('[data-part="count"]'),
            shared ? (answeredCount ? "✓" : "—") : format(t.poll_table_count, { n: answeredCount, online: row.online }),
          );
          setText(
            item.querySelector('[data-part="summary"]'),
            row.data ? distributionSummary(t, poll, row.data.distribution, shared) : t.poll_table_no_answer,
          );
        },
      );
    }

    // Who has not answered (never for anonymous polls)
    const missingWrap = card.querySelector('[data-part="missing-wrap"]');
    const notAnswered = poll.anonymous ? [] : results?.not_answered || [];
    show(missingWrap, !poll.anonymous && Boolean(results) && (open || notAnswered.length > 0));
    missingWrap.classList.toggle("poll-live__missing--done", notAnswered.length === 0);
    setText(
      card.querySelector('[data-part="missing-title"]'),
      notAnswered.length
        ? format(open ? t.poll_not_answered_yet : t.poll_not_answered, { n: notAnswered.length })
        : t.poll_everyone_answered,
    );
    syncList(
      card.querySelector('[data-part="missing"]'),
      notAnswered,
      (id) => id,
      () => h("li", { class: "poll-name" }),
      (item, id) => setText(item, this.nameOf(id)),
    );
    show(card.querySelector('[data-part="anonymous-note"]'), Boolean(poll.anonymous));

    // Actions
    const close = card.querySelector('[data-part="close"]');
    const reopen = card.querySelector('[data-part="reopen"]');
    const publish = card.querySelector('[data-part="publish"]');
    show(close, open);
    show(reopen, !open && !poll.published);
    reopen.disabled = !live;
    show(publish, !open && !poll.published);
    renderCountdown(this.app, card.querySelector('[data-part="timer"]'), poll);
  }

  // --- Earlier polls ---------------------------------------------------------------------

  createEarlier(poll) {
    const { t } = this.app;
    return h(
      "li",
      { class: "poll-earlier__item" },
      h(
        "details",
        {},
        h(
          "summary",
          { class: "poll-earlier__head" },
          h("span", { class: "poll-earlier__prompt", text: poll.prompt }),
          h("span", { class: "poll-earlier__meta muted small", "data-part": "meta" }),
        ),
        h("div", { "data-part": "results" }),
        h("p", { class: "poll-live__correct", "data-part": "correct" }),
        h(
          "div",
          { class: "poll-live__actions", "data-part": "actions" },
          h("button", {
            type: "button",
            class: "button button--small",
            "data-part": "reopen",
            text: t.poll_reopen,
            onclick: () => this.app.act("poll.reopen", { poll_id: poll.id }, { quiet: ["poll_open"] }),
          }),
          h("button", {
            type: "button",
            class: "button button--small button--primary",
            "data-part": "publish",
            text: t.poll_publish,
            onclick: () => this.app.act("poll.publish", { poll_id: poll.id }, { quiet: ["already_published"] }),
          }),
        ),
      ),
    );
  }

  updateEarlier(item, poll) {
    const { t } = this.app;
    const results = poll.results;
    const responses = results?.responses ?? poll.responses ?? 0;
    const parts = [kindLabel(t, poll.kind), format(responses === 1 ? t.poll_one_answer : t.poll_n_answers, { n: responses })];
    if (poll.quiz && results?.correct_count != null) parts.push(format(t.poll_right_count, { n: results.correct_count, total: responses }));
    parts.push(poll.published ? t.poll_state_published : poll.state === "open" ? t.poll_state_open : t.poll_state_closed);
    setText(item.querySelector('[data-part="meta"]'), parts.join(" · "));
    renderResults(this.app, item.querySelector('[data-part="results"]'), poll, results, {
      correct: poll.quiz ? results?.correct : null,
    });
    const correct = item.querySelector('[data-part="correct"]');
    const text = poll.quiz && results?.correct ? correctText(t, poll, results.correct) : "";
    setText(correct, text ? format(t.poll_correct_staff, { answer: text }) : "");
    show(correct, Boolean(text));
    const waiting = poll.state === "closed" && !poll.published;
    show(item.querySelector('[data-part="actions"]'), waiting);
    item.querySelector('[data-part="reopen"]').disabled = this.app.state.session.state !== "live";
    item.classList.toggle("poll-earlier__item--waiting", waiting);
  }
}
