// What the console, the learner view and the plan page share about polls
// (docs/polls.md): labels, answer text, client-side grading once the correct
// answer is published, the countdown, and the results drawing (bars, word
// cloud, ranked list, numeric summary), updated in place so bars animate.

import { duration, format, h, setText, show, syncList } from "./dom.js";

export const KINDS = [
  "single",
  "multiple",
  "true_false",
  "yes_no_abstain",
  "rating",
  "short_text",
  "numeric",
];
export const CHOICE_KINDS = new Set(["single", "multiple", "true_false", "yes_no_abstain"]);
export const FIXED_OPTIONS = {
  true_false: ["true", "false"],
  yes_no_abstain: ["yes", "no", "abstain"],
};
export const SCOPES = ["class", "per_table", "one_per_table"];
export const TEXT_ANSWER_MAX = 2000;
export const PROMPT_MAX = 500;

export function kindLabel(t, kind) {
  return t[`poll_kind_${kind}`] || kind;
}

export function scopeLabel(t, scope) {
  return t[`poll_scope_${scope}`] || scope;
}

/** "A", "B", … for the options of a choice question (fixed types have none). */
export function optionLetter(index) {
  return String.fromCharCode(65 + index);
}

export function pollOptions(poll) {
  if (FIXED_OPTIONS[poll.kind]) {
    return FIXED_OPTIONS[poll.kind].map((id) => ({ id, text: null }));
  }
  return poll.definition?.options || [];
}

/** The text of one option: translated for the fixed types, "B. Mitochondrion" otherwise. */
export function optionLabel(t, poll, id, { letter = true } = {}) {
  if (FIXED_OPTIONS[poll.kind]) return t[`poll_option_${id}`] || id;
  const options = poll.definition?.options || [];
  const index = options.findIndex((option) => option.id === id);
  if (index < 0) return String(id);
  return letter ? `${optionLetter(index)}. ${options[index].text}` : options[index].text;
}

export function formatNumber(value) {
  if (value == null || !Number.isFinite(Number(value))) return "—";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: 3 });
}

/** A stored answer as one line of text. */
export function answerText(t, poll, answer) {
  if (!answer) return "";
  if (Array.isArray(answer.options)) {
    return answer.options.map((id) => optionLabel(t, poll, id)).join(", ");
  }
  if (answer.option != null) return optionLabel(t, poll, String(answer.option));
  if (answer.text != null) return answer.text;
  if (answer.value != null) {
    if (poll.kind === "rating") {
      return format(t.poll_rating_of, { value: answer.value, scale: poll.definition?.scale || 5 });
    }
    return formatNumber(answer.value);
  }
  return "";
}

/** Typed answers count together the way the server groups them. */
export function normaliseText(text) {
  return String(text)
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_\s]/gu, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** Right or wrong once `correct` (from the published results) is known; null when ungraded. */
export function gradeAnswer(poll, answer, correct) {
  if (!answer || !correct) return null;
  if (Array.isArray(correct.options)) {
    if (!correct.options.length) return null;
    const chosen = new Set(answer.options || (answer.option != null ? [String(answer.option)] : []));
    return chosen.size === correct.options.length && correct.options.every((id) => chosen.has(id));
  }
  if (Array.isArray(correct.accepted)) {
    if (answer.text == null) return null;
    const accepted = new Set(correct.accepted.map(normaliseText));
    return accepted.has(normaliseText(answer.text));
  }
  if (correct.value != null && answer.value != null) {
    return Math.abs(Number(answer.value) - Number(correct.value)) <= Number(correct.tolerance || 0);
  }
  return null;
}

export function correctText(t, poll, correct) {
  if (!correct) return "";
  if (Array.isArray(correct.options)) {
    return correct.options.map((id) => optionLabel(t, poll, id)).join(", ");
  }
  if (Array.isArray(correct.accepted)) return correct.accepted.join(" / ");
  if (correct.value != null) {
    return Number(correct.tolerance)
      ? format(t.poll_value_tolerance, {
          value: formatNumber(correct.value),
          tolerance: formatNumber(correct.tolerance),
        })
      : formatNumber(correct.value);
  }
  return "";
}

/** Milliseconds left on the poll's timer (server clock), or null without one. */
export function timeLeft(app, poll) {
  if (!poll.closes_at || poll.state !== "open") return null;
  const closes = Date.parse(poll.closes_at);
  const left = closes - app.now();
  // Never more than the whole timer: a clock estimate a few ms behind the
  // server would otherwise show 16 s on a 15 s poll.
  return poll.opened_at ? Math.min(left, closes - Date.parse(poll.opened_at)) : left;
}

export function renderCountdown(app, element, poll) {
  const left = timeLeft(app, poll);
  show(element, left != null);
  if (left == null) return;
  const { t } = app;
  const text = left > 0 ? duration(left) : t.poll_times_up;
  setText(element, text);
  element.setAttribute("aria-label", left > 0 ? format(t.timer_left, { time: duration(left) }) : t.poll_times_up);
  element.classList.toggle("poll-timer--warning", left > 0 && left <= 10_000);
  element.classList.toggle("poll-timer--done", left <= 0);
}

/** Small chips describing a poll's settings. */
export function settingChips(t, poll) {
  const chips = [kindLabel(t, poll.kind)];
  if (poll.quiz) chips.push(format(poll.points === 1 ? t.poll_quiz_point : t.poll_quiz_points, { n: poll.points }));
  if (poll.scope && poll.scope !== "class") chips.push(scopeLabel(t, poll.scope));
  if (poll.anonymous) chips.push(t.poll_anonymous);
  if (poll.show_live_results) chips.push(t.poll_live_results);
  if (poll.allow_change === false) chips.push(t.poll_no_change);
  return chips;
}

export function chipList(t, poll, extra = []) {
  return h(
    "ul",
    { class: "poll-chips" },
    [...settingChips(t, poll), ...extra].map((text) => h("li", { class: "poll-chip", text })),
  );
}

// --- Results ---------------------------------------------------------------------------

function percent(part, whole) {
  return whole ? Math.round((part / whole) * 100) : 0;
}

function barRows(t, poll, results, correct, mine) {
  const counts = results?.distribution?.counts || {};
  const total = results?.responses || 0;
  if (poll.kind === "rating") {
    const scale = poll.definition?.scale || 5;
    return Array.from({ length: scale }, (_, i) => {
      const id = String(i + 1);
      return { id, label: id, count: counts[id] || 0, total, correct: false, mine: mine?.value === i + 1 };
    });
  }
  const correctIds = new Set(correct?.options || []);
  const mineIds = new Set(mine ? mine.options || (mine.option != null ? [String(mine.option)] : []) : []);
  return pollOptions(poll).map((option) => ({
    id: option.id,
    label: optionLabel(t, poll, option.id),
    count: counts[option.id] || 0,
    total,
    correct: correctIds.has(option.id),
    mine: mineIds.has(option.id),
  }));
}

function syncBars(t, list, rows) {
  const columns = list.classList.contains("poll-bars--columns");
  syncList(
    list,
    rows,
    (row) => row.id,
    () =>
      h(
        "li",
        { class: "poll-bar" },
        h(
          "div",
          { class: "poll-bar__head" },
          h("span", { class: "poll-bar__label", "data-part": "label" }),
          h("span", { class: "poll-bar__marks", "data-part": "marks" }),
          h("span", { class: "poll-bar__count", "data-part": "count" }),
        ),
        h("div", { class: "poll-bar__track", "aria-hidden": "true" }, h("span", { "data-part": "fill" })),
      ),
    (item, row) => {
      item.classList.toggle("poll-bar--correct", Boolean(row.correct));
      item.classList.toggle("poll-bar--mine", Boolean(row.mine));
      setText(item.querySelector('[data-part="label"]'), row.label);
      const marks = [];
      if (row.correct) marks.push(h("span", { class: "poll-mark poll-mark--correct", text: `✓ ${t.poll_correct_mark}` }));
      if (row.mine) marks.push(h("span", { class: "poll-mark poll-mark--mine", text: t.poll_your_choice }));
      const markPart = item.querySelector('[data-part="marks"]');
      const markText = marks.map((mark) => mark.textContent).join("|");
      if (markPart.dataset.text !== markText) {
        markPart.dataset.text = markText;
        markPart.replaceChildren(...marks);
      }
      const share = percent(row.count, row.total);
      setText(item.querySelector('[data-part="count"]'), columns ? String(row.count) : `${row.count} · ${share}%`);
      item.querySelector('[data-part="count"]').title = `${share}%`;
      item.querySelector('[data-part="fill"]').style.setProperty("--share", `${share}%`);
    },
  );
}

function syncCloud(t, container, results, correct) {
  const groups = results?.distribution?.groups || [];
  const accepted = new Set((correct?.accepted || []).map(normaliseText));
  const cloud = container.querySelector('[data-part="cloud"]');
  const ranked = container.querySelector('[data-part="ranked"]');
  const top = groups[0]?.count || 1;
  // The cloud: the 30 largest groups, sized by count, in a stable alphabetical order.
  const cloudGroups = groups.slice(0, 30).sort((a, b) => a.normalised.localeCompare(b.normalised));
  syncList(
    cloud,
    cloudGroups,
    (group) => group.normalised,
    () => h("li", { class: "poll-word" }),
    (item, group) => {
      const weight = group.count / top;
      item.style.fontSize = `${(0.85 + weight * 1.35).toFixed(2)}rem`;
      item.style.opacity = String(0.55 + weight * 0.45);
      item.classList.toggle("poll-word--correct", accepted.has(group.normalised));
      setText(item, group.text);
      item.title = format(t.poll_group_count, { n: group.count });
    },
  );
  syncList(
    ranked,
    groups.slice(0, 10),
    (group) => group.normalised,
    () =>
      h(
        "li",
        { class: "poll-ranked__item" },
        h("span", { class: "poll-ranked__text", "data-part": "text" }),
        h("span", { class: "poll-ranked__count", "data-part": "count" }),
      ),
    (item, group) => {
      item.classList.toggle("poll-ranked__item--correct", accepted.has(group.normalised));
      const mark = accepted.has(group.normalised) ? " ✓" : "";
      setText(item.querySelector('[data-part="text"]'), `${group.text}${mark}`);
      setText(item.querySelector('[data-part="count"]'), String(group.count));
    },
  );
  show(container.querySelector('[data-part="more"]'), groups.length > 10);
  setText(
    container.querySelector('[data-part="more"]'),
    format(t.poll_more_groups, { n: Math.max(0, groups.length - 10) }),
  );
}

function numericBins(values, correct) {
  if (!values.length) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  let bins;
  if (min === max) {
    bins = [{ id: "0", label: formatNumber(min), count: values.length, from: min, to: max }];
  } else {
    const count = Math.min(6, Math.max(2, new Set(values).size));
    const width = (max - min) / count;
    bins = Array.from({ length: count }, (_, i) => ({
      id: String(i),
      from: min + i * width,
      to: i === count - 1 ? max : min + (i + 1) * width,
      count: 0,
    }));
    for (const value of values) {
      const index = Math.min(count - 1, Math.floor((value - min) / width));
      bins[index].count += 1;
    }
    for (const bin of bins) bin.label = `${formatNumber(bin.from)} – ${formatNumber(bin.to)}`;
  }
  if (correct?.value != null) {
    const low = Number(correct.value) - Number(correct.tolerance || 0);
    const high = Number(correct.value) + Number(correct.tolerance || 0);
    for (const bin of bins) bin.correct = bin.to >= low && bin.from <= high;
  }
  return bins;
}

/**
 * Draw (or update) a poll's results in `container`.
 * @param {object} options  {correct, mine, staff}
 */
export function renderResults(app, container, poll, results, { correct = null, mine = null } = {}) {
  const { t } = app;
  const family = CHOICE_KINDS.has(poll.kind) || poll.kind === "rating" ? "bars" : poll.kind;
  if (container.dataset.family !== family) {
    container.dataset.family = family;
    container.classList.add("poll-results");
    if (family === "bars") {
      // A rating scale reads best as columns; options as rows with their text.
      container.replaceChildren(
        h("ol", { class: `poll-bars${poll.kind === "rating" ? " poll-bars--columns" : ""}`, "data-part": "bars" }),
        h("p", { class: "poll-stats", "data-part": "stats" }),
      );
    } else if (family === "short_text") {
      container.replaceChildren(
        h("ul", { class: "poll-cloud", "data-part": "cloud", "aria-hidden": "true" }),
        h("ol", { class: "poll-ranked", "data-part": "ranked", "aria-label": t.poll_ranked }),
        h("p", { class: "poll-stats muted small", "data-part": "more" }),
        h("p", { class: "poll-stats", "data-part": "stats" }),
      );
    } else {
      container.replaceChildren(
        h("dl", { class: "poll-numbers", "data-part": "numbers" }),
        h("ol", { class: "poll-bars poll-bars--histogram", "data-part": "bars" }),
        h("p", { class: "poll-stats", "data-part": "stats" }),
      );
    }
  }
  const stats = container.querySelector('[data-part="stats"]');
  const empty = !results || !results.responses;
  container.classList.toggle("poll-results--empty", empty);
  if (family === "bars") {
    syncBars(t, container.querySelector('[data-part="bars"]'), barRows(t, poll, results, correct, mine));
    const mean = results?.distribution?.mean;
    setText(stats, poll.kind === "rating" && mean != null ? format(t.poll_mean, { value: formatNumber(mean) }) : "");
  } else if (family === "short_text") {
    syncCloud(t, container, results, correct);
    setText(stats, empty ? t.poll_no_answers_yet : "");
  } else {
    const distribution = results?.distribution || {};
    const values = distribution.values || [];
    const numbers = container.querySelector('[data-part="numbers"]');
    const items = [
      [t.poll_mean_label, formatNumber(distribution.mean)],
      [t.poll_median_label, formatNumber(distribution.median)],
      [t.poll_answers_label, String(results?.responses || 0)],
    ];
    if (correct?.value != null) items.push([t.poll_correct_value_label, correctText(t, poll, correct)]);
    const text = items.map((pair) => pair.join(":")).join("|");
    if (numbers.dataset.text !== text) {
      numbers.dataset.text = text;
      numbers.replaceChildren(
        ...items.map(([label, value]) => h("div", {}, h("dt", { text: label }), h("dd", { text: value }))),
      );
    }
    const bins = numericBins(values, correct).map((bin) => ({
      ...bin,
      total: values.length,
      mine: mine?.value != null && mine.value >= bin.from && mine.value <= bin.to,
    }));
    syncBars(t, container.querySelector('[data-part="bars"]'), bins);
    setText(stats, "");
  }
  show(stats, Boolean(stats.textContent));
}
