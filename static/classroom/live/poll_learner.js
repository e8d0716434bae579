// The learner's polls: a card per open poll (and the latest one), answer
// controls per type, Submit with the server's confirmation, the table's shared
// answer, the timer, "closed — waiting for results", then the distribution and
// whether they were right. Earlier polls of the session are listed below.
// The page never holds a correct answer before the results are published: it
// only has what poll.opened / the snapshot / poll.published carry.

import { format, h, setText, show, syncList } from "./dom.js";
import {
  CHOICE_KINDS,
  TEXT_ANSWER_MAX,
  answerText,
  chipList,
  correctText,
  optionLetter,
  optionLabel,
  pollOptions,
  renderCountdown,
  renderResults,
  timeLeft,
} from "./poll_common.js";
import { pollList } from "./state.js";

// Vote errors are shown next to the poll, not as toasts.
const VOTE_ERRORS = [
  "invalid_answer",
  "poll_closed",
  "answer_locked",
  "not_present",
  "not_seated",
  "poll_not_found",
  "forbidden",
  "session_not_live",
  "invalid",
  "malformed_frame",
];

function sameAnswer(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export class LearnerPolls {
  constructor(app) {
    this.app = app;
    const r = app.refs;
    this.area = r["poll-area"];
    this.cards = r["poll-cards"];
    this.earlierWrap = r["poll-earlier-wrap"];
    this.earlier = r["poll-earlier"];
    this.earlierSummary = r["poll-earlier-summary"];
    this.drafts = new Map(); // poll id -> {dirty, saving, error, sync}
    this.expired = new Set();
    this.fresh = new Set(); // polls opened while this page was here: their card slides in
  }

  draft(id) {
    let draft = this.drafts.get(id);
    if (!draft) {
      draft = { dirty: false, saving: false, error: null, seen: undefined };
      this.drafts.set(id, draft);
    }
    return draft;
  }

  effects(effects) {
    const { t } = this.app;
    // Polls launched in a row are read as one "3 new polls are open", at most every 4 s.
    const polls = { name: "polls", every: 4000, many: (n) => format(t.polls_new, { n }) };
    for (const effect of effects) {
      const poll = effect.poll;
      if (!poll) continue;
      const draft = this.draft(poll.id);
      if (effect.kind === "poll_opened") {
        draft.error = null;
        if (!effect.reopened) this.fresh.add(poll.id);
        this.expired.delete(poll.id);
        this.app.say(format(t.poll_new, { prompt: poll.prompt }), { group: polls });
      } else if (effect.kind === "poll_closed") {
        this.app.say(format(t.poll_closed_sr, { prompt: poll.prompt }));
      } else if (effect.kind === "poll_published") {
        this.app.say(format(t.poll_published_sr, { prompt: poll.prompt }));
      }
    }
  }

  tick() {
    let due = false;
    for (const poll of this.app.state.polls.values()) {
      const left = timeLeft(this.app, poll);
      if (left != null && left <= 0 && !this.expired.has(poll.id)) {
        this.expired.add(poll.id);
        due = true;
      }
    }
    if (due) this.render();
    for (const card of this.cards.children) {
      const poll = this.app.state.polls.get(Number(card.dataset.key));
      if (poll) renderCountdown(this.app, card.querySelector('[data-part="timer"]'), poll);
    }
  }

  render() {
    const { state, t } = this.app;
    const polls = pollList(state);
    const latest = polls.at(-1);
    const current = polls.filter((poll) => poll.state === "open" || poll === latest).reverse();
    const earlier = polls.filter((poll) => !current.includes(poll)).reverse();
    show(this.area, polls.length > 0);
    syncList(
      this.cards,
      current,
      (poll) => poll.id,
      (poll) => this.createCard(poll),
      (card, poll) => this.updateCard(card, poll),
    );
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

  // --- A poll card -------------------------------------------------------------------------

  createCard(poll) {
    const { t } = this.app;
    const promptId = `poll-${poll.id}-prompt`;
    const form = h(
      "form",
      { class: "poll-form", "data-part": "form", novalidate: true },
      h(
        "fieldset",
        { class: "poll-fieldset", "data-part": "fieldset" },
        h("legend", { class: "poll-card__prompt", id: promptId, text: poll.prompt }),
        h("p", { class: "poll-hint muted small", "data-part": "hint" }),
        this.controls(poll),
      ),
      h(
        "div",
        { class: "poll-form__actions" },
        h("button", { type: "submit", class: "button button--primary", "data-part": "submit", text: t.poll_submit }),
        h("p", { class: "poll-status", "data-part": "status" }),
      ),
      h("p", { class: "poll-error", "data-part": "error", id: `poll-${poll.id}-error` }),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(poll.id, card);
    });
    form.addEventListener("input", () => this.edited(poll.id, card));
    form.addEventListener("change", () => this.edited(poll.id, card));
    const card = h(
      "article",
      {
        class: `poll-card${this.fresh.has(poll.id) ? " poll-card--new" : ""}`,
        "aria-labelledby": promptId,
        "data-kind": poll.kind,
      },
      h(
        "header",
        { class: "poll-card__head" },
        h("p", { class: "poll-card__eyebrow" }, h("span", { "aria-hidden": "true", text: "📊 " }), t.poll_label),
        h("span", { class: "poll-timer", role: "timer", "data-part": "timer", hidden: true }),
      ),
      h("div", { "data-part": "chips" }),
      form,
      h("p", { class: "poll-phase", "data-part": "phase" }),
      h("div", { class: "poll-outcome", "data-part": "outcome" }),
      h(
        "section",
        { class: "poll-card__results", "data-part": "results-wrap", "aria-label": t.poll_results },
        h("h3", { class: "section-title", "data-part": "results-title" }),
        h("div", { "data-part": "results" }),
      ),
    );
    return card;
  }

  controls(poll) {
    const { t } = this.app;
    const name = `poll-${poll.id}-answer`;
    if (CHOICE_KINDS.has(poll.kind)) {
      const multiple = poll.kind === "multiple";
      const fixed = poll.kind === "true_false" || poll.kind === "yes_no_abstain";
      return h(
        "div",
        { class: `poll-choices${fixed ? " poll-choices--row" : ""}` },
        pollOptions(poll).map((option, index) =>
          h(
            "label",
            { class: "poll-choice" },
            h("input", { type: multiple ? "checkbox" : "radio", name, value: option.id }),
            fixed ? null : h("span", { class: "poll-choice__letter", "aria-hidden": "true", text: optionLetter(index) }),
            h("span", { class: "poll-choice__text", text: optionLabel(t, poll, option.id, { letter: false }) }),
          ),
        ),
      );
    }
    if (poll.kind === "rating") {
      const scale = poll.definition?.scale || 5;
      return h(
        "div",
        { class: "poll-scale-wrap" },
        h(
          "div",
          { class: `poll-scale poll-scale--${scale}` },
          Array.from({ length: scale }, (_, i) =>
            h(
              "label",
              { class: "poll-scale__item" },
              h("input", { type: "radio", name, value: i + 1, "aria-label": format(t.poll_rating_of, { value: i + 1, scale }) }),
              h("span", { "aria-hidden": "true", text: String(i + 1) }),
            ),
          ),
        ),
        h(
          "div",
          { class: "poll-scale__ends muted small", "aria-hidden": "true" },
          h("span", { text: t.poll_rating_low }),
          h("span", { text: format(t.poll_rating_high, { n: scale }) }),
        ),
      );
    }
    if (poll.kind === "short_text") {
      const counterId = `poll-${poll.id}-counter`;
      return h(
        "div",
        { class: "poll-text" },
        h("label", { class: "visually-hidden", for: `poll-${poll.id}-text`, text: t.poll_your_answer_label }),
        h("textarea", {
          id: `poll-${poll.id}-text`,
          "data-part": "text",
          rows: 2,
          maxlength: TEXT_ANSWER_MAX,
          placeholder: t.poll_type_answer,
          "aria-describedby": counterId,
        }),
        h("span", { class: "poll-counter muted small", id: counterId, "data-part": "counter" }),
      );
    }
    return h(
      "div",
      { class: "poll-number" },
      h("label", { class: "visually-hidden", for: `poll-${poll.id}-number`, text: t.poll_your_answer_label }),
      h("input", {
        id: `poll-${poll.id}-number`,
        type: "number",
        step: "any",
        inputmode: "decimal",
        "data-part": "number",
        placeholder: t.poll_number_placeholder,
      }),
    );
  }

  setControls(card, poll, answer) {
    const form = card.querySelector('[data-part="form"]');
    if (CHOICE_KINDS.has(poll.kind) || poll.kind === "rating") {
      const chosen = new Set(
        answer
          ? (answer.options || [answer.option ?? answer.value]).filter((v) => v != null).map(String)
          : [],
      );
      for (const input of form.querySelectorAll('input[type="radio"], input[type="checkbox"]')) {
        input.checked = chosen.has(input.value);
      }
    } else if (poll.kind === "short_text") {
      form.querySelector('[data-part="text"]').value = answer?.text ?? "";
    } else {
      form.querySelector('[data-part="number"]').value = answer?.value ?? "";
    }
  }

  /** The answer the controls hold: {answer} or {error}; null when nothing is chosen yet. */
  readControls(card, poll) {
    const { t } = this.app;
    const form = card.querySelector('[data-part="form"]');
    if (poll.kind === "multiple") {
      const options = [...form.querySelectorAll("input:checked")].map((input) => input.value);
      if (!options.length) return { error: t.poll_choose_at_least_one };
      const max = poll.definition?.max_choices;
      if (max && options.length > max) return { error: format(t.poll_choose_at_most, { n: max }) };
      return { answer: { options } };
    }
    if (CHOICE_KINDS.has(poll.kind)) {
      const chosen = form.querySelector("input:checked");
      return chosen ? { answer: { option: chosen.value } } : { error: t.poll_choose_one };
    }
    if (poll.kind === "rating") {
      const chosen = form.querySelector("input:checked");
      return chosen ? { answer: { value: Number(chosen.value) } } : { error: t.poll_choose_rating };
    }
    if (poll.kind === "short_text") {
      const text = form.querySelector('[data-part="text"]').value;
      if (!text.trim()) return { error: t.poll_error_empty };
      if (text.length > TEXT_ANSWER_MAX) return { error: format(t.poll_error_too_long, { n: TEXT_ANSWER_MAX.toLocaleString() }) };
      return { answer: { text } };
    }
    const raw = form.querySelector('[data-part="number"]');
    const value = raw.valueAsNumber;
    if (raw.value.trim() === "" && !raw.validity.badInput) return { error: t.poll_error_number_empty };
    if (!Number.isFinite(value)) return { error: t.poll_error_number_answer };
    return { answer: { value } };
  }

  edited(pollId, card) {
    const draft = this.draft(pollId);
    draft.dirty = true;
    draft.error = null;
    const poll = this.app.state.polls.get(pollId);
    if (poll) this.updateCard(card, poll);
  }

  async submit(pollId, card) {
    const poll = this.app.state.polls.get(pollId);
    if (!poll) return;
    const draft = this.draft(pollId);
    const read = this.readControls(card, poll);
    if (read.error) {
      draft.error = read.error;
      this.updateCard(card, poll);
      this.app.say(`${poll.prompt}: ${read.error}`, { assertive: true });
      return;
    }
    draft.saving = true;
    draft.error = null;
    this.updateCard(card, poll);
    const result = await this.app.act(
      "poll.vote",
      { poll_id: pollId, answer: read.answer },
      { quiet: VOTE_ERRORS },
    );
    draft.saving = false;
    const current = this.app.state.polls.get(pollId);
    if (result.ok) {
      draft.dirty = false;
      this.app.say(
        format(this.app.t.poll_saved_sr, {
          answer: answerText(this.app.t, poll, result.data?.answer ?? read.answer),
        }),
      );
      if (current) {
        // An anonymous poll's ack carries no answer (the server keeps none with the learner).
        current.my_answer = result.data?.answer ?? read.answer;
        if (current.scope === "one_per_table") current.answered_by = { id: this.app.state.me.id, name: this.app.state.me.name };
      }
    } else {
      const error = result.error || {};
      draft.error = format(this.app.t.poll_not_saved, { message: error.message || this.app.t.error });
      this.app.say(draft.error, { assertive: true });
    }
    this.render();
  }

  updateCard(card, poll) {
    const { state, t } = this.app;
    const draft = this.draft(poll.id);
    // The saved answer changed (first render, a table mate's answer, a snapshot
    // after a reconnect): the controls show it, unless I am in the middle of an edit.
    const seen = JSON.stringify(poll.my_answer ?? null);
    if (draft.seen !== seen) {
      draft.seen = seen;
      if (!draft.dirty) this.setControls(card, poll, poll.my_answer);
    }
    const live = state.session.state === "live";
    const left = timeLeft(this.app, poll);
    const open = poll.state === "open" && live && (left == null || left > 0);
    const shared = poll.scope === "one_per_table";
    const tableScoped = poll.scope !== "class";
    const seatedOk = !tableScoped || Boolean(state.table);
    const canAnswer = open && state.me.may_participate && seatedOk;
    const answered = Boolean(poll.my_answer) || Boolean(poll.answered);
    const locked = answered && !poll.allow_change;
    card.classList.toggle("poll-card--open", open);
    card.classList.toggle("poll-card--closed", !open);
    card.classList.toggle("poll-card--published", Boolean(poll.published));

    const chipsPart = card.querySelector('[data-part="chips"]');
    const chipKey = `${poll.quiz}|${poll.scope}|${poll.anonymous}|${poll.show_live_results}|${poll.allow_change}`;
    if (chipsPart.dataset.key !== chipKey) {
      chipsPart.dataset.key = chipKey;
      chipsPart.replaceChildren(chipList(t, poll));
    }

    // Controls
    const form = card.querySelector('[data-part="form"]');
    const fieldset = card.querySelector('[data-part="fieldset"]');
    fieldset.disabled = !canAnswer || locked || draft.saving;
    const read = this.readControls(card, poll);
    const changed = Boolean(read.answer) && !sameAnswer(read.answer, poll.my_answer);
    const submit = card.querySelector('[data-part="submit"]');
    show(submit, canAnswer && !locked);
    // Once answered, the button turns quiet until there is a change to send.
    submit.classList.toggle("button--primary", !answered || changed);
    setText(submit, draft.saving ? t.poll_saving : answered ? t.poll_update_answer : t.poll_submit);
    submit.disabled = draft.saving || (answered && !changed && draft.dirty === false);
    let hint = "";
    if (poll.kind === "multiple") {
      hint = poll.definition?.max_choices
        ? format(t.poll_choose_up_to, { n: poll.definition.max_choices })
        : t.poll_choose_all;
    } else if (shared) hint = t.poll_shared_hint;
    setText(card.querySelector('[data-part="hint"]'), hint);
    show(card.querySelector('[data-part="hint"]'), Boolean(hint) && open);
    if (poll.kind === "multiple" && poll.definition?.max_choices) {
      const boxes = [...form.querySelectorAll('input[type="checkbox"]')];
      const full = boxes.filter((box) => box.checked).length >= poll.definition.max_choices;
      for (const box of boxes) box.disabled = full && !box.checked;
    }
    if (poll.kind === "short_text") {
      const length = form.querySelector('[data-part="text"]').value.length;
      const counter = card.querySelector('[data-part="counter"]');
      setText(counter, format(t.poll_counter, { n: length.toLocaleString(), max: TEXT_ANSWER_MAX.toLocaleString() }));
      counter.classList.toggle("poll-counter--full", length >= TEXT_ANSWER_MAX);
    }

    // What is saved
    const status = card.querySelector('[data-part="status"]');
    const statusParts = [];
    if (draft.saving) statusParts.push(t.poll_saving_status);
    else if (answered) {
      const text = answerText(t, poll, poll.my_answer);
      const lead = shared ? t.poll_table_answer_lead : t.poll_your_answer_lead;
      statusParts.push(lead, " ", h("strong", { class: "poll-status__answer", text }));
      if (shared && poll.answered_by) {
        const who = poll.answered_by.id === state.me.id ? t.you : poll.answered_by.name;
        statusParts.push(" ", h("span", { class: "muted", text: format(t.poll_set_by, { name: who }) }));
      }
      statusParts.push(" ", h("span", { class: "poll-saved", text: `✓ ${t.poll_saved}` }));
    } else if (!open && poll.state === "closed") {
      statusParts.push(h("span", { class: "muted", text: t.poll_you_did_not_answer }));
    }
    const statusKey = JSON.stringify([draft.saving, poll.my_answer, poll.answered_by?.id, open]);
    if (status.dataset.key !== statusKey) {
      status.dataset.key = statusKey;
      status.replaceChildren(...statusParts);
    }

    const error = card.querySelector('[data-part="error"]');
    let errorText = draft.error || "";
    if (!errorText && open && !state.me.may_participate) errorText = t.poll_observer;
    else if (!errorText && open && !seatedOk) errorText = t.poll_not_seated;
    setText(error, errorText);
    show(error, Boolean(errorText));
    // The error is part of the answer's description while it shows.
    if (errorText) fieldset.setAttribute("aria-describedby", error.id);
    else fieldset.removeAttribute("aria-describedby");
    error.classList.toggle("poll-error--note", !draft.error);

    // Phase: open / closed, waiting / published
    const phase = card.querySelector('[data-part="phase"]');
    let phaseText = "";
    if (poll.state === "closed" && !poll.published) phaseText = t.poll_waiting;
    else if (poll.state === "open" && !live) phaseText = t.poll_session_over;
    else if (poll.state === "open" && left != null && left <= 0) phaseText = t.poll_times_up_waiting;
    else if (locked && open) phaseText = t.poll_locked;
    setText(phase, phaseText);
    show(phase, Boolean(phaseText));
    phase.classList.toggle("poll-phase--waiting", poll.state === "closed" && !poll.published);

    // Outcome after publication (quiz mode)
    const outcome = card.querySelector('[data-part="outcome"]');
    const correct = poll.published ? poll.results?.correct : null;
    const outcomeKey = JSON.stringify([poll.published, poll.my_correct, correct, poll.my_answer]);
    if (outcome.dataset.key !== outcomeKey) {
      outcome.dataset.key = outcomeKey;
      outcome.replaceChildren(...this.outcomeParts(poll, correct));
      outcome.className = `poll-outcome${poll.my_correct === true ? " poll-outcome--right" : poll.my_correct === false ? " poll-outcome--wrong" : ""}`;
    }
    show(outcome, outcome.childNodes.length > 0);

    // Results: published, or live while open when the instructor shows them
    const wrap = card.querySelector('[data-part="results-wrap"]');
    const results = poll.published ? poll.results : poll.state === "open" && poll.show_live_results ? poll.live : null;
    show(wrap, Boolean(results) || (poll.state === "open" && poll.show_live_results && open));
    const count = results?.responses ?? 0;
    setText(
      card.querySelector('[data-part="results-title"]'),
      `${poll.published ? t.poll_results : t.poll_live_results_title} · ${format(count === 1 ? t.poll_one_answer : t.poll_n_answers, { n: count })}`,
    );
    renderResults(this.app, card.querySelector('[data-part="results"]'), poll, results, {
      correct,
      mine: poll.my_answer,
    });
    renderCountdown(this.app, card.querySelector('[data-part="timer"]'), poll);
  }

  outcomeParts(poll, correct) {
    const { t } = this.app;
    if (!poll.published || !poll.quiz || !correct) return [];
    const shared = poll.scope === "one_per_table";
    const answer = correctText(t, poll, correct);
    if (poll.my_correct === true) {
      return [h("strong", { text: `✓ ${shared ? t.poll_table_right : t.poll_you_were_right}` }), " ", h("span", { text: format(t.poll_correct_was, { answer }) })];
    }
    const lead = poll.my_answer ? (shared ? t.poll_table_wrong : t.poll_you_were_wrong) : t.poll_you_did_not_answer;
    return [h("strong", { text: poll.my_answer ? `✗ ${lead}` : lead }), " ", h("span", { text: format(t.poll_correct_was, { answer }) })];
  }

  // --- Earlier polls ---------------------------------------------------------------------

  createEarlier(poll) {
    return h(
      "li",
      { class: "poll-earlier__item" },
      h(
        "div",
        { class: "poll-earlier__head" },
        h("span", { class: "poll-earlier__prompt", text: poll.prompt }),
        h("span", { class: "badge", "data-part": "badge" }),
      ),
      h("p", { class: "poll-earlier__mine small", "data-part": "mine" }),
      h("div", { "data-part": "results" }),
    );
  }

  updateEarlier(item, poll) {
    const { t } = this.app;
    const badge = item.querySelector('[data-part="badge"]');
    setText(badge, poll.published ? t.poll_state_published : poll.state === "open" ? t.poll_state_open : t.poll_state_closed);
    let mine = poll.my_answer ? `${t.poll_your_answer_lead} ${answerText(t, poll, poll.my_answer)}` : t.poll_you_did_not_answer;
    if (poll.published && poll.quiz && poll.my_correct != null) {
      mine += ` · ${poll.my_correct ? `✓ ${t.poll_right_short}` : `✗ ${t.poll_wrong_short}`}`;
    }
    setText(item.querySelector('[data-part="mine"]'), mine);
    const container = item.querySelector('[data-part="results"]');
    show(container, Boolean(poll.published && poll.results));
    if (poll.published && poll.results) {
      renderResults(this.app, container, poll, poll.results, { correct: poll.results.correct, mine: poll.my_answer });
    }
  }
}
