// "Prepare polls": the course question bank (list + new question of any type)
// and the session plan (add from the bank with launch settings, reorder,
// remove), through the JSON APIs (classroom/api/polls.py) with the CSRF token.

import { announce, format, h, setText, show, syncList } from "./live/dom.js";
import { correctText, kindLabel } from "./live/poll_common.js";
import { QuestionEditor, SettingsEditor, settingsSummary } from "./live/poll_editor.js";

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

function refs(root) {
  const found = {};
  for (const element of root.querySelectorAll("[data-ref]")) found[element.dataset.ref] = element;
  return found;
}

/** Server error details ({field: message | [messages]}) as {field: message}. */
function flatDetails(details) {
  const flat = {};
  for (const [field, value] of Object.entries(details || {})) {
    flat[field] = Array.isArray(value) ? value.join(" ") : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return flat;
}

/** The correct answer stored in a bank question's definition, as results would carry it. */
function correctOf(question) {
  const definition = question.definition || {};
  if (Array.isArray(definition.correct) && definition.correct.length) return { options: definition.correct };
  if (Array.isArray(definition.accepted) && definition.accepted.length) return { accepted: definition.accepted };
  if (definition.correct_value != null) return { value: definition.correct_value, tolerance: definition.tolerance || 0 };
  return null;
}

class PlanPage {
  constructor(root) {
    this.root = root;
    this.config = readJson("plan-config");
    this.t = readJson("plan-strings");
    this.refs = refs(root);
    this.bank = this.config.bank || [];
    this.plan = this.config.plan || [];
    this.adding = null; // bank question id whose settings form is open
    this.busy = false;
    this.addForms = new Map(); // question id -> {element, settings, error}
    this.buildNewQuestion();
    this.render();
  }

  // --- HTTP --------------------------------------------------------------------------------

  async api(method, url, body) {
    const t = this.t;
    try {
      const response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": cookie("csrftoken"),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (response.ok) return { ok: true, data };
      const error = data?.error || {};
      return { ok: false, message: error.message || t.error, details: flatDetails(error.details) };
    } catch {
      return { ok: false, message: t.network_error, details: {} };
    }
  }

  say(text) {
    announce(this.refs.status, text);
    this.showError("");
  }

  showError(text) {
    setText(this.refs.error, text);
    show(this.refs.error, Boolean(text));
  }

  // --- New question ----------------------------------------------------------------------

  buildNewQuestion() {
    const t = this.t;
    this.question = new QuestionEditor(t, "bank-new", () => this.newSettings?.setGradable(this.question.gradable()));
    this.newSettings = new SettingsEditor(t, "bank-new-set", { compact: true });
    this.newSettings.setGradable(this.question.gradable());
    this.newError = h("p", { class: "poll-error", role: "alert", hidden: true });
    const saveButton = h("button", { type: "submit", class: "button button--primary", text: t.save_to_bank, value: "bank" });
    const planButton = h("button", { type: "submit", class: "button", text: t.save_and_plan, value: "plan" });
    const form = h(
      "form",
      { class: "poll-create-form", novalidate: true, "aria-labelledby": "new-title" },
      this.question.element,
      h("details", { class: "plan-settings" }, h("summary", { text: t.launch_settings }), this.newSettings.element),
      this.newError,
      h("div", { class: "poll-create-form__actions" }, saveButton, planButton),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.createQuestion(event.submitter?.value === "plan", form);
    });
    this.refs["new-question"].append(form);
  }

  async createQuestion(addToPlan, form) {
    if (this.busy) return;
    const t = this.t;
    const value = this.question.value();
    const settings = this.newSettings.value();
    this.question.showErrors(value.ok ? {} : value.errors);
    this.newSettings.showErrors(settings.ok ? {} : settings.errors);
    show(this.newError, false);
    if (!value.ok || !settings.ok) return;
    this.setBusy(form, true);
    const created = await this.api("POST", this.config.urls.bank, value.question);
    if (!created.ok) {
      this.setBusy(form, false);
      this.fail(this.question, created, this.newError);
      return;
    }
    const question = created.data;
    this.bank = [question, ...this.bank];
    let message = format(t.saved_to_bank, { prompt: question.prompt });
    if (addToPlan) {
      const added = await this.api("POST", this.config.urls.plan, { question_id: question.id, settings: settings.settings });
      if (added.ok) {
        this.plan = added.data;
        message = format(t.added_to_plan, { prompt: question.prompt });
      } else {
        this.showError(added.message);
      }
    }
    this.setBusy(form, false);
    this.question.reset();
    this.newSettings.reset();
    this.newSettings.setGradable(false);
    this.render();
    this.say(message);
    this.question.prompt.focus();
  }

  fail(editor, result, fallback) {
    const placed = editor.showErrors(result.details);
    if (!placed) {
      const extra = Object.values(result.details || {}).join(" ");
      setText(fallback, extra ? `${result.message} ${extra}` : result.message);
      show(fallback, true);
    }
  }

  setBusy(form, busy) {
    this.busy = busy;
    for (const button of form.querySelectorAll('button[type="submit"]')) button.disabled = busy;
  }

  // --- Bank --------------------------------------------------------------------------------

  questionMeta(question) {
    const t = this.t;
    const parts = [kindLabel(t, question.kind)];
    const definition = question.definition || {};
    if (definition.options && (question.kind === "single" || question.kind === "multiple")) {
      parts.push(format(t.options_count, { n: definition.options.length }));
    }
    if (question.kind === "rating") parts.push(format(t.scale_label, { n: definition.scale || 5 }));
    const correct = correctOf(question);
    if (correct) {
      parts.push(format(t.correct_label, { answer: correctText(t, question, correct) }));
      parts.push(format(question.points === 1 ? t.poll_quiz_point : t.poll_quiz_points, { n: question.points }));
    } else if (question.kind !== "rating") parts.push(t.no_correct);
    return parts.join(" · ");
  }

  addForm(question) {
    let entry = this.addForms.get(question.id);
    if (entry) return entry;
    const t = this.t;
    const settings = new SettingsEditor(t, `plan-add-${question.id}`, { compact: true });
    settings.setGradable(Boolean(correctOf(question)));
    const error = h("p", { class: "poll-error", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "bank-item__add", novalidate: true, "aria-label": format(t.add_to_plan_label, { prompt: question.prompt }) },
      h("h3", { class: "section-title", text: t.launch_settings }),
      settings.element,
      error,
      h(
        "div",
        { class: "poll-create-form__actions" },
        h("button", { type: "submit", class: "button button--primary", text: t.add }),
        h("button", {
          type: "button",
          class: "button",
          text: t.poll_cancel,
          onclick: () => {
            this.adding = null;
            this.render();
            this.root.querySelector(`[data-key="${question.id}"] [data-part="add"]`)?.focus();
          },
        }),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = settings.value();
      settings.showErrors(value.ok ? {} : value.errors);
      if (!value.ok || this.busy) return;
      this.setBusy(form, true);
      const result = await this.api("POST", this.config.urls.plan, { question_id: question.id, settings: value.settings });
      this.setBusy(form, false);
      if (!result.ok) {
        this.fail(settings, result, error);
        return;
      }
      this.plan = result.data;
      this.adding = null;
      this.render();
      this.say(format(t.added_to_plan, { prompt: question.prompt }));
      this.refs["plan-list"].querySelector(`[data-question="${question.id}"] button`)?.focus();
    });
    entry = { element: form, settings, error };
    this.addForms.set(question.id, entry);
    return entry;
  }

  renderBank() {
    const t = this.t;
    const planned = new Set(this.plan.map((item) => item.question.id));
    setText(this.refs["bank-count"], String(this.bank.length));
    show(this.refs["bank-empty"], this.bank.length === 0);
    setText(this.refs["bank-empty"], t.bank_empty);
    syncList(
      this.refs["bank-list"],
      this.bank,
      (question) => question.id,
      (question) =>
        h(
          "li",
          { class: "bank-item" },
          h(
            "div",
            { class: "bank-item__row" },
            h(
              "div",
              { class: "bank-item__main" },
              h("p", { class: "bank-item__prompt", text: question.prompt }),
              h("p", { class: "bank-item__meta muted small", "data-part": "meta" }),
            ),
            h("span", { class: "badge badge--launched", "data-part": "planned", text: t.in_plan }),
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "add",
              text: t.add_to_plan,
              "aria-label": format(t.add_to_plan_label, { prompt: question.prompt }),
              onclick: () => {
                this.adding = this.adding === question.id ? null : question.id;
                this.render();
                if (this.adding === question.id) this.addForms.get(question.id)?.settings.scope.focus();
              },
            }),
          ),
          h("div", { "data-part": "add-slot" }),
        ),
      (item, question) => {
        const inPlan = planned.has(question.id);
        setText(item.querySelector('[data-part="meta"]'), this.questionMeta(question));
        show(item.querySelector('[data-part="planned"]'), inPlan);
        const add = item.querySelector('[data-part="add"]');
        show(add, !inPlan);
        add.setAttribute("aria-expanded", String(this.adding === question.id));
        const slot = item.querySelector('[data-part="add-slot"]');
        if (this.adding === question.id && !inPlan) {
          const entry = this.addForm(question);
          if (entry.element.parentElement !== slot) slot.replaceChildren(entry.element);
        } else if (slot.firstChild) {
          slot.replaceChildren();
        }
      },
    );
  }

  // --- Plan ----------------------------------------------------------------------------------

  async reorder(index, delta) {
    if (this.busy) return;
    const ids = this.plan.map((item) => item.id);
    const target = index + delta;
    if (target < 0 || target >= ids.length) return;
    [ids[index], ids[target]] = [ids[target], ids[index]];
    const moved = this.plan[index];
    this.busy = true;
    const result = await this.api("POST", this.config.urls.reorder, { items: ids });
    this.busy = false;
    if (!result.ok) {
      this.showError(result.message);
      return;
    }
    this.plan = result.data;
    this.render();
    this.say(this.t.moved);
    const row = this.refs["plan-list"].querySelector(`[data-key="${moved.id}"]`);
    // Keep the focus on the moved row: the same arrow, or the other one at an end.
    const parts = delta < 0 ? ["up", "down"] : ["down", "up"];
    const button = parts
      .map((part) => row?.querySelector(`[data-part="${part}"]`))
      .find((candidate) => candidate && !candidate.disabled);
    (button || row?.querySelector('[data-part="remove"]'))?.focus();
  }

  async remove(item) {
    if (this.busy) return;
    this.busy = true;
    const result = await this.api("DELETE", `${this.config.urls.plan_item}${item.id}/`);
    this.busy = false;
    if (!result.ok) {
      this.showError(result.message);
      return;
    }
    const index = this.plan.findIndex((other) => other.id === item.id);
    this.plan = this.plan.filter((other) => other.id !== item.id);
    this.render();
    this.say(format(this.t.removed_from_plan, { prompt: item.question.prompt }));
    const next = this.plan[Math.min(index, this.plan.length - 1)];
    if (next) this.refs["plan-list"].querySelector(`[data-key="${next.id}"] [data-part="remove"]`)?.focus();
  }

  renderPlan() {
    const t = this.t;
    setText(this.refs["plan-count"], String(this.plan.length));
    show(this.refs["plan-empty"], this.plan.length === 0);
    setText(this.refs["plan-empty"], t.plan_empty);
    syncList(
      this.refs["plan-list"],
      this.plan,
      (item) => item.id,
      (item) =>
        h(
          "li",
          { class: "plan-row", "data-question": item.question.id },
          h("span", { class: "plan-row__position", "data-part": "position", "aria-hidden": "true" }),
          h(
            "div",
            { class: "plan-row__main" },
            h("p", { class: "plan-row__prompt", text: item.question.prompt }),
            h("p", { class: "plan-row__meta muted small", "data-part": "meta" }),
            h("p", { class: "plan-row__meta muted small", "data-part": "settings" }),
          ),
          h(
            "div",
            { class: "plan-row__actions" },
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "up",
              text: `↑ ${t.move_up}`,
              "aria-label": format(t.move_up_label, { prompt: item.question.prompt }),
              onclick: () => this.reorder(this.plan.findIndex((other) => other.id === item.id), -1),
            }),
            h("button", {
              type: "button",
              class: "button button--small",
              "data-part": "down",
              text: `↓ ${t.move_down}`,
              "aria-label": format(t.move_down_label, { prompt: item.question.prompt }),
              onclick: () => this.reorder(this.plan.findIndex((other) => other.id === item.id), 1),
            }),
            h("button", {
              type: "button",
              class: "button button--small button--quiet plan-row__remove",
              "data-part": "remove",
              text: t.remove,
              "aria-label": format(t.remove_label, { prompt: item.question.prompt }),
              onclick: () => this.remove(item),
            }),
          ),
        ),
      (row, item) => {
        const index = this.plan.indexOf(item);
        setText(row.querySelector('[data-part="position"]'), String(index + 1));
        setText(row.querySelector('[data-part="meta"]'), this.questionMeta(item.question));
        setText(row.querySelector('[data-part="settings"]'), settingsSummary(t, item.settings));
        row.querySelector('[data-part="up"]').disabled = index === 0;
        row.querySelector('[data-part="down"]').disabled = index === this.plan.length - 1;
      },
    );
  }

  render() {
    this.renderPlan();
    this.renderBank();
  }
}

const root = document.querySelector("[data-plan-root]");
if (root) window.roundtablePlan = new PlanPage(root);
