// Small DOM helpers. User text only ever goes in through textContent / text
// nodes (never innerHTML), so names, messages and questions cannot inject markup.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** "{name} left" + {name: "Ann"} → "Ann left" (values inserted as plain text). */
export function format(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (match, key) =>
    key in values ? String(values[key]) : match,
  );
}

/**
 * Make `container`'s children match `items`, reusing the element of each key
 * so focus, scroll and screen-reader position survive updates.
 * create(item) → element; update(element, item) refreshes it.
 */
export function syncList(container, items, key, create, update) {
  const existing = new Map();
  for (const child of [...container.children]) {
    if (child.dataset.key != null) existing.set(child.dataset.key, child);
    else child.remove();
  }
  const wanted = items.map((item) => {
    const id = String(key(item));
    let element = existing.get(id);
    if (element) existing.delete(id);
    else {
      element = create(item);
      element.dataset.key = id;
    }
    update?.(element, item);
    return element;
  });
  for (const element of existing.values()) element.remove();
  wanted.forEach((element, index) => {
    if (container.children[index] !== element) {
      container.insertBefore(element, container.children[index] || null);
    }
  });
}

export function setText(element, text) {
  if (element && element.textContent !== text) element.textContent = text;
}

export function show(element, visible) {
  if (element) element.hidden = !visible;
}

/** Say something to screen readers through a polite live region (pages
 * other than the live classroom, which speaks through its Announcer). */
export function announce(region, text) {
  if (!region) return;
  // Clear first so the same text twice is read twice.
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * The live page's one voice for screen readers: one polite and one assertive
 * live region, nothing else on the page is a live region. Messages said within
 * `wait` ms are read together as one update; a message with a `key` replaces a
 * queued one with the same key (two quick mode switches: only the last is
 * read); messages of a `group` (chat lines, new polls) coalesce into one count
 * ("3 new messages") and a group speaks at most once every `every` ms, so a
 * busy chat never floods the reader.
 */
export class Announcer {
  constructor(polite, assertive, { wait = 400 } = {}) {
    this.regions = { polite, assertive };
    this.queues = { polite: [], assertive: [] };
    this.timers = { polite: null, assertive: null };
    this.wait = wait;
    this.lastByGroup = new Map();
    this.log = []; // what was read, oldest first (for tests and debugging)
  }

  /**
   * say(text, {assertive, key, group: {name, many(n), every}})
   */
  say(text, { assertive = false, key = null, group = null } = {}) {
    if (!text) return;
    const politeness = assertive ? "assertive" : "polite";
    if (key) this.queues[politeness] = this.queues[politeness].filter((item) => item.key !== key);
    this.queues[politeness].push({ text, key, group });
    this.schedule(politeness, this.wait);
  }

  schedule(politeness, delay) {
    if (this.timers[politeness]) return; // the next reading takes this one along
    this.timers[politeness] = setTimeout(() => this.flush(politeness), Math.max(0, delay));
  }

  held(item, now) {
    const every = item.group?.every;
    return Boolean(every) && (this.lastByGroup.get(item.group.name) ?? -Infinity) + every > now;
  }

  flush(politeness) {
    this.timers[politeness] = null;
    const now = Date.now();
    const ready = this.queues[politeness].filter((item) => !this.held(item, now));
    const held = this.queues[politeness].filter((item) => this.held(item, now));
    this.queues[politeness] = held;
    if (held.length) {
      const next = Math.min(
        ...held.map((item) => this.lastByGroup.get(item.group.name) + item.group.every),
      );
      this.schedule(politeness, next - now);
    }
    const parts = [];
    const groups = new Map();
    for (const item of ready) {
      if (!item.group) {
        parts.push({ item, count: 1 });
        continue;
      }
      const entry = groups.get(item.group.name);
      if (entry) entry.count += 1;
      else {
        const fresh = { item, count: 1 };
        groups.set(item.group.name, fresh);
        parts.push(fresh);
      }
    }
    for (const name of groups.keys()) this.lastByGroup.set(name, now);
    const text = parts
      .map(({ item, count }) => (count > 1 ? item.group.many(count) : item.text))
      .join(" ");
    if (!text) return;
    this.log.push({ politeness, text });
    if (this.log.length > 50) this.log.shift();
    const region = this.regions[politeness];
    if (!region) return;
    // The same words twice in a row are still a change (a trailing no-break space).
    region.textContent = region.textContent === text ? `${text}\u00a0` : text;
  }
}

export function refs(root) {
  const found = {};
  // The page's own element wins over a panel's of the same name further down
  // (the insights panel has its own "loading"; taking it left "Loading the
  // session…" on the console for good).
  for (const element of root.querySelectorAll("[data-ref]")) {
    if (!(element.dataset.ref in found)) found[element.dataset.ref] = element;
  }
  return found;
}

export function clockTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function duration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const mm = String(minutes).padStart(hours ? 2 : 1, "0");
  const ss = String(seconds).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}
