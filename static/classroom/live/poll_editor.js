// Forms that write a poll question (every type of docs/polls.md with the fields
// it needs) and its launch settings. Used by the console ("create one on the
// fly") and by the "Prepare polls" page (question bank, plan settings).
// Client-side checks mirror the server's; the server's errors (details per
// field) are shown next to the same fields.

import { format, h, setText, show } from "./dom.js";
import { FIXED_OPTIONS, KINDS, PROMPT_MAX, SCOPES, kindLabel, optionLetter, scopeLabel } from "./poll_common.js";

const OPTIONS_MIN = 2;
const OPTIONS_MAX = 10;
export const TIMER_PRESETS = [30, 60, 120, 300];

function errorLine(prefix, name) {
  return h("p", { class: "field__error", id: `${prefix}-${name}-error`, "data-error-for": name, hidden: true });
}

function labelled(prefix, name, label, control, hint) {
  control.id = control.id || `${prefix}-${name}`;
  const hintId = hint ? `${prefix}-${name}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: control.id, text: label }),
    control,
    hint ? h("p", { class: "help", id: hintId, text: hint }) : null,
    errorLine(prefix, name),
  );
}

function check(id, label, { checked = false } = {}) {
  const input = h("input", { type: "checkbox", id, checked });
  return { input, element: h("label", { class: "check", for: id }, input, h("span", { text: label })) };
}

function number(value) {
  if (value === "" || value == null) return null;
  const parsed = Number(String(value).replace(",", "."));
  return Number.isFinite(parsed) ? parsed : Number.NaN;
}

/** Show `errors` ({field: message}) inside `root`; returns the first field shown. */
export function showFieldErrors(root, errors, fallback) {
  let first = null;
  for (const line of root.querySelectorAll("[data-error-for]")) {
    // Several sections name the same field (the correct answer): only the visible one speaks.
    const visible = !line.parentElement.closest("[hidden]");
    const message = visible ? errors?.[line.dataset.errorFor] : null;
    setText(line, message || "");
    show(line, Boolean(message));
    const field = line.closest("[data-field]");
    for (const control of field ? field.querySelectorAll("input, select, textarea") : []) {
      // The error is read with the field it names (focus goes to the first one).
      const described = (control.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter((id) => id && id !== line.id);
      if (message) {
        control.setAttribute("aria-invalid", "true");
        described.push(line.id);
      } else control.removeAttribute("aria-invalid");
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
    }
    if (message && !first) first = line;
  }
  const unplaced = Object.entries(errors || {}).filter(
    ([name]) => !root.querySelector(`[data-error-for="${name}"]:not([hidden])`),
  );
  if (fallback) {
    const text = unplaced.map(([, message]) => message).join(" ");
    setText(fallback, text);
    show(fallback, Boolean(text));
  }
  if (first) {
    first.closest("[data-field]")?.querySelector("input:not([type=hidden]), select, textarea")?.focus();
  }
  return first;
}

// --- The question ------------------------------------------------------------------------

export class QuestionEditor {
  /**
   * @param {object} t  strings
   * @param {string} prefix  unique id prefix
   * @param {() => void} [onChange]
   */
  constructor(t, prefix, onChange = () => {}) {
    this.t = t;
    this.prefix = prefix;
    this.onChange = onChange;
    const id = (name) => `${prefix}-${name}`;

    this.kind = h(
      "select",
      { id: id("kind") },
      KINDS.map((kind) => h("option", { value: kind, text: kindLabel(t, kind) })),
    );
    this.prompt = h("textarea", {
      id: id("prompt"),
      rows: 2,
      maxlength: PROMPT_MAX,
      placeholder: t.poll_prompt_placeholder,
    });

    // Choices
    this.optionList = h("ol", { class: "option-rows", "aria-label": t.poll_options });
    this.addButton = h("button", {
      type: "button",
      class: "button button--small",
      text: `+ ${t.poll_add_option}`,
      onclick: () => {
        this.addOption();
        this.optionList.lastElementChild?.querySelector('input[type="text"]')?.focus();
      },
    });
    this.maxChoices = h("input", { type: "number", min: 1, max: OPTIONS_MAX, step: 1, inputmode: "numeric", placeholder: t.poll_no_limit });
    const maxField = labelled(prefix, "max_choices", t.poll_max_choices, this.maxChoices);
    maxField.classList.add("field--short");
    this.choiceSection = h(
      "div",
      { class: "editor-section", "data-field": "options" },
      h(
        "div",
        { class: "editor-section__head" },
        h("span", { class: "editor-label", id: id("options-label"), text: t.poll_options }),
        h("span", { class: "help", text: t.poll_mark_correct_hint }),
      ),
      this.optionList,
      errorLine(prefix, "options"),
      h("div", { "data-field": "correct" }, errorLine(prefix, "correct")),
      h("div", { class: "editor-row" }, this.addButton, maxField),
    );
    this.maxField = maxField;

    // Fixed options (true/false, yes/no/abstain): which one is correct, if any
    this.fixedSections = {};
    for (const [kind, ids] of Object.entries(FIXED_OPTIONS)) {
      const name = `${prefix}-${kind}-correct`;
      const choices = ["", ...ids].map((value) => {
        const input = h("input", { type: "radio", name, value, checked: value === "" });
        input.addEventListener("change", () => this.changed());
        return h(
          "label",
          { class: "segmented__item" },
          input,
          h("span", { text: value ? t[`poll_option_${value}`] : t.poll_no_correct }),
        );
      });
      this.fixedSections[kind] = h(
        "fieldset",
        { class: "editor-section segmented-field", "data-field": "correct" },
        h("legend", { text: t.poll_correct_answer }),
        h("div", { class: "segmented" }, choices),
        errorLine(prefix, "correct"),
      );
    }

    // Rating
    const scaleName = `${prefix}-scale`;
    this.ratingSection = h(
      "fieldset",
      { class: "editor-section segmented-field", "data-field": "scale" },
      h("legend", { text: t.poll_scale }),
      h(
        "div",
        { class: "segmented" },
        [5, 10].map((scale) =>
          h(
            "label",
            { class: "segmented__item" },
            h("input", { type: "radio", name: scaleName, value: scale, checked: scale === 5 }),
            h("span", { text: format(t.poll_scale_option, { n: scale }) }),
          ),
        ),
      ),
      errorLine(prefix, "scale"),
    );

    // Short text
    this.accepted = h("textarea", { rows: 3, placeholder: t.poll_accepted_placeholder });
    this.textSection = h(
      "div",
      { class: "editor-section" },
      labelled(prefix, "accepted", t.poll_accepted, this.accepted, t.poll_accepted_hint),
    );

    // Numeric
    this.correctValue = h("input", { type: "number", step: "any", inputmode: "decimal" });
    this.tolerance = h("input", { type: "number", step: "any", min: 0, value: "0", inputmode: "decimal" });
    this.numericSection = h(
      "div",
      { class: "editor-row" },
      labelled(prefix, "correct_value", t.poll_correct_value, this.correctValue, t.poll_correct_value_hint),
      labelled(prefix, "tolerance", t.poll_tolerance, this.tolerance, t.poll_tolerance_hint),
    );

    this.points = h("input", { type: "number", min: 0, max: 100, step: 1, value: "1", inputmode: "numeric" });
    this.pointsField = labelled(prefix, "points", t.poll_points, this.points);
    this.pointsField.classList.add("field--short");

    this.element = h(
      "div",
      { class: "question-editor" },
      h("div", { class: "editor-row" }, labelled(prefix, "kind", t.poll_type, this.kind), this.pointsField),
      labelled(prefix, "prompt", t.poll_question, this.prompt),
      this.choiceSection,
      ...Object.values(this.fixedSections),
      this.ratingSection,
      this.textSection,
      this.numericSection,
    );
    this.kind.addEventListener("change", () => this.changed());
    this.element.addEventListener("input", () => this.changed());
    this.reset();
  }

  reset() {
    this.kind.value = "single";
    this.prompt.value = "";
    this.optionList.replaceChildren();
    this.addOption();
    this.addOption();
    this.maxChoices.value = "";
    for (const section of Object.values(this.fixedSections)) {
      section.querySelector('input[value=""]').checked = true;
    }
    this.ratingSection.querySelector('input[value="5"]').checked = true;
    this.accepted.value = "";
    this.correctValue.value = "";
    this.tolerance.value = "0";
    this.points.value = "1";
    showFieldErrors(this.element, {});
    this.changed();
  }

  addOption(text = "", correct = false) {
    if (this.optionList.children.length >= OPTIONS_MAX) return;
    const input = h("input", { type: "text", maxlength: 300, value: text });
    const mark = h("input", { type: "checkbox", checked: correct });
    mark.addEventListener("change", () => {
      if (mark.checked && this.kind.value === "single") {
        for (const other of this.optionList.querySelectorAll('input[type="checkbox"]')) {
          if (other !== mark) other.checked = false;
        }
      }
      this.changed();
    });
    const row = h(
      "li",
      { class: "option-row" },
      h("span", { class: "option-row__letter", "aria-hidden": "true", "data-part": "letter" }),
      input,
      h("label", { class: "option-row__correct" }, mark, h("span", { text: this.t.poll_correct_short })),
      h("button", {
        type: "button",
        class: "button button--small button--quiet option-row__remove",
        text: "×",
        onclick: () => {
          if (this.optionList.children.length <= OPTIONS_MIN) return;
          const next = row.nextElementSibling || row.previousElementSibling;
          row.remove();
          this.changed();
          next?.querySelector('input[type="text"]')?.focus();
        },
      }),
    );
    this.optionList.append(row);
    this.changed();
  }

  changed() {
    const kind = this.kind.value;
    const choice = kind === "single" || kind === "multiple";
    show(this.choiceSection, choice);
    show(this.maxField, kind === "multiple");
    for (const [fixed, section] of Object.entries(this.fixedSections)) show(section, kind === fixed);
    show(this.ratingSection, kind === "rating");
    show(this.textSection, kind === "short_text");
    show(this.numericSection, kind === "numeric");
    // Points only count in quiz mode: with a correct answer.
    show(this.pointsField, this.gradable());
    const rows = [...this.optionList.children];
    rows.forEach((row, index) => {
      const letter = optionLetter(index);
      setText(row.querySelector('[data-part="letter"]'), letter);
      row.querySelector('input[type="text"]').setAttribute("aria-label", format(this.t.poll_option_n, { letter }));
      row.querySelector('input[type="checkbox"]').setAttribute("aria-label", format(this.t.poll_option_correct, { letter }));
      const remove = row.querySelector(".option-row__remove");
      remove.setAttribute("aria-label", format(this.t.poll_remove_option, { letter }));
      remove.disabled = rows.length <= OPTIONS_MIN;
    });
    this.addButton.disabled = rows.length >= OPTIONS_MAX;
    this.maxChoices.max = String(rows.length);
    this.onChange();
  }

  /** Does the question as written have a correct answer (so quiz mode can be on)? */
  gradable() {
    const kind = this.kind.value;
    if (kind === "single" || kind === "multiple") {
      return [...this.optionList.querySelectorAll('input[type="checkbox"]')].some((box) => box.checked);
    }
    if (FIXED_OPTIONS[kind]) {
      return Boolean(this.fixedSections[kind].querySelector("input:checked")?.value);
    }
    if (kind === "short_text") return this.acceptedList().length > 0;
    if (kind === "numeric") return this.correctValue.value.trim() !== "";
    return false;
  }

  acceptedList() {
    return this.accepted.value
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  }

  /** {ok, question: {kind, prompt, definition, points}} or {ok: false, errors}. */
  value() {
    const t = this.t;
    const kind = this.kind.value;
    const errors = {};
    const prompt = this.prompt.value.trim();
    if (!prompt) errors.prompt = t.poll_error_prompt;
    const definition = {};
    if (kind === "single" || kind === "multiple") {
      const options = [];
      const correct = [];
      [...this.optionList.children].forEach((row, index) => {
        const text = row.querySelector('input[type="text"]').value.trim();
        const id = String.fromCharCode(97 + index);
        options.push({ id, text });
        if (row.querySelector('input[type="checkbox"]').checked) correct.push(id);
      });
      if (options.some((option) => !option.text)) errors.options = t.poll_error_option_text;
      definition.options = options;
      definition.correct = correct;
      if (kind === "single" && correct.length > 1) errors.correct = t.poll_error_one_correct;
      if (kind === "multiple" && this.maxChoices.value.trim()) {
        const max = number(this.maxChoices.value);
        if (!Number.isInteger(max) || max < 1 || max > options.length) {
          errors.max_choices = t.poll_error_max_choices;
        } else definition.max_choices = max;
      }
    } else if (FIXED_OPTIONS[kind]) {
      const chosen = this.fixedSections[kind].querySelector("input:checked")?.value;
      definition.correct = chosen ? [chosen] : [];
    } else if (kind === "rating") {
      definition.scale = Number(this.ratingSection.querySelector("input:checked")?.value || 5);
    } else if (kind === "short_text") {
      definition.accepted = this.acceptedList();
    } else if (kind === "numeric") {
      const value = number(this.correctValue.value);
      const tolerance = number(this.tolerance.value) ?? 0;
      if (Number.isNaN(value)) errors.correct_value = t.poll_error_number;
      if (Number.isNaN(tolerance) || tolerance < 0) errors.tolerance = t.poll_error_tolerance;
      definition.correct_value = value;
      definition.tolerance = tolerance;
    }
    let points = 1;
    if (!this.pointsField.hidden) {
      points = number(this.points.value);
      if (!Number.isInteger(points) || points < 0 || points > 100) errors.points = t.poll_error_points;
    }
    if (Object.keys(errors).length) return { ok: false, errors };
    return { ok: true, question: { kind, prompt, definition, points } };
  }

  showErrors(errors, fallback) {
    return showFieldErrors(this.element, errors, fallback);
  }
}

// --- Launch settings ---------------------------------------------------------------------

export class SettingsEditor {
  constructor(t, prefix, { compact = false } = {}) {
    this.t = t;
    this.prefix = prefix;
    this.isGradable = false;
    this.scope = h(
      "select",
      {},
      SCOPES.map((scope) => h("option", { value: scope, text: scopeLabel(t, scope) })),
    );
    this.timer = h(
      "select",
      {},
      h("option", { value: "", text: t.poll_timer_none }),
      TIMER_PRESETS.map((seconds) =>
        h("option", {
          value: String(seconds),
          text: seconds < 60 ? format(t.poll_seconds, { n: seconds }) : format(t.poll_minutes, { n: seconds / 60 }),
        }),
      ),
      h("option", { value: "custom", text: t.poll_timer_custom }),
    );
    this.customSeconds = h("input", { type: "number", min: 5, max: 3600, step: 1, value: "90", inputmode: "numeric" });
    this.customField = labelled(prefix, "timer_seconds", t.poll_timer_seconds, this.customSeconds);
    this.customField.classList.add("field--short");
    this.anonymous = check(`${prefix}-anonymous`, t.poll_setting_anonymous);
    this.allowChange = check(`${prefix}-allow-change`, t.poll_setting_allow_change, { checked: true });
    this.liveResults = check(`${prefix}-live-results`, t.poll_setting_live_results);
    this.quiz = check(`${prefix}-quiz`, t.poll_setting_quiz, { checked: true });
    this.quizHint = h("p", { class: "help", text: t.poll_quiz_needs_correct });
    const anonymousField = h("div", { "data-field": "anonymous" }, this.anonymous.element, errorLine(prefix, "anonymous"));
    const quizField = h("div", { "data-field": "quiz" }, this.quiz.element, this.quizHint, errorLine(prefix, "quiz"));
    this.element = h(
      "div",
      { class: `settings-editor${compact ? " settings-editor--compact" : ""}` },
      h(
        "div",
        { class: "editor-row" },
        labelled(prefix, "scope", t.poll_scope, this.scope),
        labelled(prefix, "timer", t.poll_timer, this.timer),
        this.customField,
      ),
      h(
        "div",
        { class: "settings-editor__checks" },
        quizField,
        anonymousField,
        h("div", { "data-field": "allow_change" }, this.allowChange.element),
        h("div", { "data-field": "show_live_results" }, this.liveResults.element),
      ),
    );
    this.scope.addEventListener("change", () => this.sync());
    this.timer.addEventListener("change", () => this.sync());
    this.quiz.input.addEventListener("change", () => {
      this.quizChosen = this.quiz.input.checked;
    });
    this.quizChosen = true;
    this.sync();
  }

  setGradable(gradable) {
    this.isGradable = gradable;
    this.sync();
  }

  sync() {
    show(this.customField, this.timer.value === "custom");
    const shared = this.scope.value === "one_per_table";
    // A shared table answer cannot be anonymous (docs/polls.md).
    this.anonymous.input.disabled = shared;
    if (shared) this.anonymous.input.checked = false;
    this.quiz.input.disabled = !this.isGradable;
    this.quiz.input.checked = this.isGradable && this.quizChosen;
    show(this.quizHint, !this.isGradable);
  }

  reset() {
    this.scope.value = "class";
    this.timer.value = "";
    this.customSeconds.value = "90";
    this.anonymous.input.checked = false;
    this.allowChange.input.checked = true;
    this.liveResults.input.checked = false;
    this.quizChosen = true;
    showFieldErrors(this.element, {});
    this.sync();
  }

  /** {ok, settings} or {ok: false, errors}. */
  value() {
    const settings = {
      scope: this.scope.value,
      timer_seconds: null,
      anonymous: this.anonymous.input.checked,
      allow_change: this.allowChange.input.checked,
      show_live_results: this.liveResults.input.checked,
      quiz: this.isGradable ? this.quiz.input.checked : false,
    };
    if (this.timer.value === "custom") {
      const seconds = number(this.customSeconds.value);
      if (!Number.isInteger(seconds) || seconds < 5 || seconds > 3600) {
        return { ok: false, errors: { timer_seconds: this.t.poll_error_timer } };
      }
      settings.timer_seconds = seconds;
    } else if (this.timer.value) {
      settings.timer_seconds = Number(this.timer.value);
    }
    return { ok: true, settings };
  }

  showErrors(errors, fallback) {
    return showFieldErrors(this.element, errors, fallback);
  }
}

/** One line describing saved settings: "Whole class · 1 min · anonymous". */
export function settingsSummary(t, settings = {}) {
  const parts = [scopeLabel(t, settings.scope || "class")];
  const seconds = settings.timer_seconds;
  if (seconds) {
    parts.push(
      seconds % 60 === 0 ? format(t.poll_minutes, { n: seconds / 60 }) : format(t.poll_seconds, { n: seconds }),
    );
  } else parts.push(t.poll_timer_none_short);
  if (settings.anonymous) parts.push(t.poll_anonymous);
  if (settings.allow_change === false) parts.push(t.poll_no_change);
  if (settings.show_live_results) parts.push(t.poll_live_results);
  if (settings.quiz === false) parts.push(t.poll_not_quiz);
  return parts.join(" · ");
}
