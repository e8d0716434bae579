// Building the side panels and the poll card: plain DOM, text only through
// textContent (nothing a user typed is ever parsed as HTML).

import { clock } from "./sync.js";

const EMOJI = {
  thumbs_up: "👍",
  thumbs_down: "👎",
  clap: "👏",
  laugh: "😂",
  confused: "😕",
  slower: "🐢",
  faster: "🐇",
};

export function reactionEmoji(kind) {
  return EMOJI[kind] || "•";
}

const fmt = (template, values = {}) => String(template).replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function timeChip(ms, onSeek) {
  const button = el("button", "pb-time-chip", clock(ms));
  button.type = "button";
  button.setAttribute("aria-label", `${clock(ms)}`);
  button.addEventListener("click", () => onSeek(ms));
  return button;
}

/** The live session's moments up to now, and this room's comments, in media order. */
export function renderFeed(list, { live, messages, strings, meId, onSeek }) {
  const items = [
    ...live.map((entry) => ({ at: entry.offset_ms, order: 0, entry })),
    ...messages.map((message) => ({ at: message.media_ms, order: 1, message })),
  ].sort((a, b) => a.at - b.at || a.order - b.order);
  list.replaceChildren(...items.map((item) => (item.entry ? liveItem(item.entry, strings, onSeek) : commentItem(item.message, strings, meId, onSeek))));
}

function liveItem(entry, strings, onSeek) {
  const item = el("li", `pb-feed__item pb-feed__item--${entry.kind}`);
  item.append(timeChip(entry.offset_ms, onSeek));
  const body = el("div", "pb-feed__body");
  const data = entry.data || {};
  switch (entry.kind) {
    case "chat": {
      const who = el("span", "pb-feed__who", data.author ? data.author.name : strings.anonymous);
      body.append(who);
      if (data.channel && data.channel !== "class") body.append(el("span", "badge", data.channel));
      body.append(el("p", "pb-feed__text", data.body));
      break;
    }
    case "question":
      body.append(el("span", "badge badge--role", strings.question));
      body.append(el("span", "pb-feed__who", data.author ? data.author.name : strings.anonymous));
      body.append(el("p", "pb-feed__text", data.body));
      break;
    case "announcement":
      body.append(el("span", "badge badge--scheduled", strings.announcement));
      body.append(el("p", "pb-feed__text", data.body));
      break;
    case "poll_opened":
      body.append(el("span", "badge badge--live", strings.poll_marker));
      body.append(el("p", "pb-feed__text", data.prompt));
      break;
    case "mode_changed":
      body.append(el("p", "pb-feed__meta", fmt(strings.mode, { title: entry.title })));
      break;
    case "podium_changed":
      body.append(
        el(
          "p",
          "pb-feed__meta",
          fmt(data.action === "invited" ? strings.podium_invited : strings.podium_removed, { name: data.user?.name || "" }),
        ),
      );
      break;
    case "reactions": {
      const counts = Object.entries(data.counts || {}).map(([kind, n]) => `${reactionEmoji(kind)} ${n}`);
      body.append(el("p", "pb-feed__meta", counts.join("  ")));
      body.setAttribute("aria-label", strings.reactions);
      break;
    }
    case "recording_paused":
      body.append(el("p", "pb-feed__meta", fmt(strings.paused_recording, { seconds: data.paused_seconds })));
      break;
    default:
      body.append(el("p", "pb-feed__meta", entry.title || entry.kind));
  }
  item.append(body);
  return item;
}

function commentItem(message, strings, meId, onSeek) {
  const item = el("li", "pb-feed__item pb-feed__item--comment");
  item.append(timeChip(message.media_ms, onSeek));
  const body = el("div", "pb-feed__body");
  const name = message.author ? message.author.name : "";
  body.append(el("span", "pb-feed__who", message.author && message.author.id === meId ? `${name} (${strings.you})` : name));
  body.append(el("p", "pb-feed__text", message.body));
  item.append(body);
  return item;
}

/** Notes I may read, in media order; mine can be deleted. */
export function renderNotes(list, { notes, strings, meId, onSeek, onDelete }) {
  const labels = { private: strings.note_private, table: strings.note_table, course: strings.note_course };
  list.replaceChildren(
    ...notes.map((note) => {
      const item = el("li", `pb-note pb-note--${note.visibility}`);
      item.dataset.noteId = String(note.id);
      const head = el("div", "pb-note__head");
      head.append(timeChip(note.media_ms, onSeek));
      const mine = note.author.id === meId;
      head.append(el("span", "pb-note__who", mine ? strings.you : note.author.name));
      head.append(el("span", `badge pb-note__vis pb-note__vis--${note.visibility}`, labels[note.visibility]));
      if (mine) {
        const remove = el("button", "button button--quiet pb-note__delete", strings.delete);
        remove.type = "button";
        remove.addEventListener("click", () => onDelete(note.id));
        head.append(remove);
      }
      item.append(head, el("p", "pb-note__body", note.body));
      return item;
    }),
  );
}

function answerText(poll, answer) {
  if (!answer) return "";
  const options = new Map((poll.definition.options || []).map((o) => [o.id, o.text]));
  if (answer.options) return answer.options.map((id) => options.get(id) || id).join(", ");
  if (answer.option != null) return options.get(answer.option) || answer.option;
  if (answer.text != null) return answer.text;
  return String(answer.value);
}

function correctText(poll, correct) {
  if (!correct) return "";
  if (correct.options) return answerText(poll, { options: correct.options });
  if (correct.accepted) return correct.accepted.join(" / ");
  if (correct.value != null) return correct.tolerance ? `${correct.value} ± ${correct.tolerance}` : String(correct.value);
  return "";
}

function inputsFor(poll, form) {
  const kind = poll.kind;
  const definition = poll.definition || {};
  const group = el("div", "pb-poll__choices");
  if (["single", "true_false", "yes_no_abstain", "multiple"].includes(kind)) {
    const type = kind === "multiple" ? "checkbox" : "radio";
    for (const option of definition.options || []) {
      const label = el("label", "pb-poll__choice");
      const input = document.createElement("input");
      input.type = type;
      input.name = "choice";
      input.value = option.id;
      label.append(input, el("span", "", option.text));
      group.append(label);
    }
  } else if (kind === "rating") {
    group.classList.add("pb-poll__scale");
    for (let value = 1; value <= (definition.scale || 5); value += 1) {
      const label = el("label", "pb-poll__choice pb-poll__choice--scale");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "choice";
      input.value = String(value);
      label.append(input, el("span", "", String(value)));
      group.append(label);
    }
  } else {
    const input = document.createElement("input");
    input.type = kind === "numeric" ? "number" : "text";
    if (kind === "numeric") input.step = "any";
    input.name = "text";
    input.className = "pb-poll__text";
    input.maxLength = 2000;
    input.setAttribute("aria-labelledby", "pb-poll-prompt");
    group.append(input);
  }
  form.append(group);
  return () => {
    if (["single", "true_false", "yes_no_abstain"].includes(kind)) {
      const chosen = form.querySelector('input[name="choice"]:checked');
      return chosen ? { option: chosen.value } : null;
    }
    if (kind === "multiple") {
      const chosen = [...form.querySelectorAll('input[name="choice"]:checked')].map((i) => i.value);
      return chosen.length ? { options: chosen } : null;
    }
    if (kind === "rating") {
      const chosen = form.querySelector('input[name="choice"]:checked');
      return chosen ? { value: Number(chosen.value) } : null;
    }
    const value = form.querySelector("input[name=text]").value.trim();
    if (!value) return null;
    return kind === "numeric" ? { value: Number(value) } : { text: value };
  };
}

/** The card of a poll from the live session: a form, or my answer with its grade. */
export function pollCard(poll, options) {
  const { strings, blocking, review, answered, total, alone, mayControl, mayAnswer, onSubmit, onRewatch, onResume, onClose } = options;
  const card = el("div", "pb-poll__card");
  card.append(el("p", "eyebrow", strings.poll));
  const prompt = el("h2", "pb-poll__prompt", poll.prompt);
  prompt.id = "pb-poll-prompt";
  card.append(prompt);
  const mine = poll.mine;
  if (mine) {
    const label = mine.source === "live" ? strings.answered_live : strings.your_answer;
    const result = el("p", "pb-poll__mine");
    result.append(el("span", "pb-poll__label", `${label} `), el("strong", "", answerText(poll, mine.answer)));
    card.append(result);
    if (mine.is_correct === true) card.append(el("p", "pb-poll__grade pb-poll__grade--right", `✓ ${strings.correct}`));
    if (mine.is_correct === false) {
      card.append(el("p", "pb-poll__grade pb-poll__grade--wrong", `✗ ${strings.wrong}`));
      if (mine.correct) card.append(el("p", "pb-poll__correct", fmt(strings.correct_answer, { answer: correctText(poll, mine.correct) })));
      if (mine.rewatch_from_ms != null) {
        const rewatch = el("button", "button", fmt(strings.rewatch, { time: clock(mine.rewatch_from_ms) }));
        rewatch.type = "button";
        rewatch.dataset.action = "rewatch";
        rewatch.addEventListener("click", () => onRewatch(mine.rewatch_from_ms));
        card.append(rewatch);
      }
    }
    if (mine.is_correct == null && mine.source === "playback") card.append(el("p", "pb-poll__grade", strings.recorded));
    // An anonymous quiz keeps no grade of anyone's: the correct answer, the same for all.
    if (mine.is_correct == null && mine.correct) card.append(el("p", "pb-poll__correct", fmt(strings.correct_answer, { answer: correctText(poll, mine.correct) })));
  } else if (mayAnswer) {
    const form = el("form", "pb-poll__form");
    const read = inputsFor(poll, form);
    const error = el("p", "field__error");
    error.hidden = true;
    const submit = el("button", "button button--primary", strings.submit);
    submit.type = "submit";
    form.append(error, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const answer = read();
      if (!answer) return;
      submit.disabled = true;
      onSubmit(answer).then((reply) => {
        submit.disabled = false;
        if (!reply.ok) {
          error.textContent = reply.error.message || reply.error.code;
          error.hidden = false;
        }
      });
    });
    card.append(form);
  }
  const footer = el("div", "pb-poll__footer");
  if (blocking && review && alone) {
    // Answered alone: the result stays until the learner continues.
    const next = el("button", "button button--primary", strings.continue);
    next.type = "button";
    next.dataset.action = "continue";
    next.addEventListener("click", onResume);
    footer.append(next);
  } else if (blocking && review) {
    // Everyone answered in a group: a short countdown, then the room plays on.
    const countdown = el("p", "pb-poll__countdown");
    countdown.dataset.ref = "poll-countdown";
    countdown.setAttribute("role", "status");
    footer.append(countdown);
  } else if (blocking) {
    if (!alone) footer.append(el("p", "pb-poll__waiting", fmt(strings.waiting_poll, { answered, total })));
    if (mayControl) {
      const resume = el("button", "button", alone ? strings.skip_poll : strings.resume_now);
      resume.type = "button";
      resume.dataset.action = "resume";
      resume.addEventListener("click", onResume);
      footer.append(resume);
    }
  } else {
    const close = el("button", "button button--quiet", mine ? strings.continue : strings.close);
    close.type = "button";
    close.dataset.action = "close";
    close.addEventListener("click", onClose);
    footer.append(close);
  }
  card.append(footer);
  return card;
}
