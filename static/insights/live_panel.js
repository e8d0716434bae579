// The console's "Engagement measures" panel (templates/insights/_live_panel.html):
// the session's measures as they accumulate, read every REFRESH_MS from the
// staff-only insights API named in data-url (GET /api/insights/sessions/<id>/live/,
// docs/api.md). No socket of its own, and nothing is fetched while the tab is
// hidden.

const REFRESH_MS = 15_000;

function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function format(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (match, key) =>
    key in values ? String(values[key]) : match,
  );
}

function meter(percent) {
  const bar = h("span", { class: "meter", "aria-hidden": "true" }, h("span"));
  bar.firstChild.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return bar;
}

class LivePanel {
  constructor(root) {
    this.root = root;
    this.url = root.dataset.url;
    this.strings = JSON.parse(document.getElementById("insights-live-strings").textContent);
    this.refs = {};
    for (const element of root.querySelectorAll("[data-ref]")) this.refs[element.dataset.ref] = element;
    this.timer = null;
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) this.stop();
      else this.refresh();
    });
    this.refs.refresh?.addEventListener("click", () => this.refresh());
    this.refresh();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  schedule() {
    this.stop();
    if (!document.hidden) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    this.root.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(this.url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body?.error?.message || this.strings.error);
      this.render(body);
      this.refs.error.hidden = true;
    } catch (error) {
      this.refs.error.textContent = format(this.strings.failed, { message: error.message });
      this.refs.error.hidden = false;
    } finally {
      this.root.removeAttribute("aria-busy");
      this.refs.loading.hidden = true;
      this.schedule();
    }
  }

  render(data) {
    const t = this.strings;
    const r = this.refs;
    r.body.hidden = false;
    r.updated.textContent = format(t.updated, {
      time: new Date(data.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    });
    r.summary.textContent = format(t.summary, { present: data.present });

    r.silent.replaceChildren(
      ...data.silent.map((person) =>
        h(
          "li",
          {},
          h("span", { class: "live-insights__name", text: person.name }),
        ),
      ),
    );
    r["silent-count"].textContent = `(${data.silent.length})`;
    r["silent-empty"].hidden = data.silent.length > 0;
    r["silent-empty"].textContent = data.present ? t.silent_none : t.nobody_present;

    r.dominated.replaceChildren(
      ...data.dominated_tables.map((table) =>
        h(
          "li",
          {},
          h("span", { class: "live-insights__name", text: table.name || t.no_table }),
          h("span", { text: format(t.dominated_by, { name: table.user, share: Math.round(100 * table.share) }) }),
          meter(100 * table.share),
        ),
      ),
    );
    r["dominated-count"].textContent = `(${data.dominated_tables.length})`;
    r["dominated-empty"].hidden = data.dominated_tables.length > 0;
    r["dominated-empty"].textContent = format(t.dominated_none, { share: this.root.dataset.dominancePercent });

    r.polls.replaceChildren(
      ...data.polls.map((poll) =>
        h(
          "li",
          {},
          h("span", { class: "live-insights__name", text: poll.prompt }),
          h("span", {
            text: format(t.poll_rate, {
              answered: poll.answered,
              present: poll.present,
              rate: poll.answer_percent == null ? "—" : Math.round(poll.answer_percent),
            }),
          }),
          meter(poll.answer_percent || 0),
        ),
      ),
    );
    r["polls-empty"].hidden = data.polls.length > 0;
  }
}

for (const root of document.querySelectorAll("[data-live-insights]")) new LivePanel(root);
