// The transcript tab of the playback room (templates/transcripts/_player_panel.html):
// the line being said is highlighted and kept in view while the video plays
// (never taking focus, and without smooth scrolling for people who asked for
// reduced motion); a click or Enter on a line seeks there through the room's
// own seek (so a together room moves for everyone, and a host-only room says
// who controls it); the search box finds words in this recording.
// docs/transcripts.md and docs/search.md describe it.

const FOLLOW_PAUSE_MS = 5000; // after the user scrolls the list, follow waits this long
const TICK_MS = 250;
const SEARCH_MIN = 2;

export function mountTranscript({ root, media, seekTo, currentMs }) {
  const box = root.querySelector("[data-tx-root]");
  if (!box) return null;
  const $ = (name) => box.querySelector(`[data-tx="${name}"]`);
  const list = $("list");
  const lines = [...list.querySelectorAll(".tx-line")];
  const buttons = lines.map((line) => line.querySelector("button"));
  const starts = lines.map((line) => Number(line.dataset.start));
  const texts = lines.map((line) => line.querySelector(".tx-text").textContent);
  const S = JSON.parse(box.querySelector("#tx-strings").textContent);
  const fmt = (t, v) => String(t).replace(/\{(\w+)\}/g, (_, k) => v[k] ?? "");
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)");
  const state = { active: -1, userScrolledAt: 0, hits: [], hit: -1, query: "" };
  window.__transcript = state; // read by the browser tests

  // --- Which line is being said --------------------------------------------------------
  function lineAt(ms) {
    // The last line that has started; between lines the previous one stays lit.
    let low = 0;
    let high = starts.length - 1;
    if (high < 0 || ms < starts[0]) return -1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid] <= ms) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  function visible() {
    return box.offsetParent !== null; // its tab is shown
  }

  function scrollToLine(index, { force = false } = {}) {
    const line = lines[index];
    if (!line || line.hidden) return;
    const top = line.offsetTop - list.offsetTop;
    const inView = top >= list.scrollTop && top + line.offsetHeight <= list.scrollTop + list.clientHeight;
    if (inView && !force) return;
    // Scroll the list only (scrollIntoView would also scroll the page).
    list.scrollTo({ top: Math.max(0, top - list.clientHeight / 3), behavior: reduced.matches ? "auto" : "smooth" });
  }

  function following() {
    return $("follow").checked && Date.now() - state.userScrolledAt > FOLLOW_PAUSE_MS && !list.contains(document.activeElement);
  }

  function tick() {
    const index = lineAt(currentMs());
    if (index !== state.active) {
      if (state.active >= 0) {
        lines[state.active].classList.remove("tx-line--now");
        buttons[state.active].removeAttribute("aria-current");
      }
      state.active = index;
      if (index >= 0) {
        lines[index].classList.add("tx-line--now");
        buttons[index].setAttribute("aria-current", "true");
      }
    }
    if (index >= 0 && visible()) {
      if (following()) {
        scrollToLine(index);
        $("resume").hidden = true;
      } else if ($("follow").checked) {
        const top = lines[index].offsetTop - list.offsetTop;
        const out = top < list.scrollTop || top > list.scrollTop + list.clientHeight;
        $("resume").hidden = !out;
      }
    }
  }
  setInterval(tick, TICK_MS);
  for (const event of ["seeked", "timeupdate"]) media.addEventListener(event, tick);

  const userScrolled = () => {
    state.userScrolledAt = Date.now();
  };
  list.addEventListener("wheel", userScrolled, { passive: true });
  list.addEventListener("touchmove", userScrolled, { passive: true });
  $("resume").addEventListener("click", () => {
    state.userScrolledAt = 0;
    $("resume").hidden = true;
    if (state.active >= 0) scrollToLine(state.active, { force: true });
  });

  // --- Lines: click / Enter seeks, arrows move (one tab stop for the list) ---------------
  function rove(index) {
    const target = buttons[index];
    if (!target) return;
    for (const button of buttons) if (button.tabIndex === 0) button.tabIndex = -1;
    target.tabIndex = 0;
    target.focus({ preventScroll: true });
    scrollToLine(index);
  }

  buttons.forEach((button, index) => {
    button.addEventListener("click", () => {
      for (const other of buttons) if (other.tabIndex === 0) other.tabIndex = -1;
      button.tabIndex = 0;
      state.userScrolledAt = 0;
      seekTo(starts[index]);
    });
  });
  list.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(event.target);
    if (index < 0) return;
    const shown = buttons.map((b, i) => i).filter((i) => !lines[i].hidden);
    const at = shown.indexOf(index);
    let next = null;
    if (event.key === "ArrowDown") next = shown[Math.min(shown.length - 1, at + 1)];
    else if (event.key === "ArrowUp") next = shown[Math.max(0, at - 1)];
    else if (event.key === "Home") next = shown[0];
    else if (event.key === "End") next = shown[shown.length - 1];
    else if (event.key === "PageDown") next = shown[Math.min(shown.length - 1, at + 10)];
    else if (event.key === "PageUp") next = shown[Math.max(0, at - 10)];
    if (next != null) {
      event.preventDefault();
      event.stopPropagation();
      userScrolled();
      rove(next);
    }
  });

  // --- Search within the recording ----------------------------------------------------------
  const fold = (text) => text.toLocaleLowerCase();
  const folded = texts.map(fold);

  function paint(index, query) {
    const span = lines[index].querySelector(".tx-text");
    const text = texts[index];
    if (!query) {
      span.textContent = text;
      return;
    }
    const lower = folded[index];
    const parts = [];
    let from = 0;
    for (let at = lower.indexOf(query); at >= 0; at = lower.indexOf(query, at + query.length)) {
      if (at > from) parts.push(document.createTextNode(text.slice(from, at)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(at, at + query.length);
      parts.push(mark);
      from = at + query.length;
    }
    if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
    span.replaceChildren(...parts);
  }

  function renderCount() {
    const count = $("count");
    if (!state.query) count.textContent = "";
    else if (state.query.length < SEARCH_MIN) count.textContent = S.short;
    else if (!state.hits.length) count.textContent = S.none;
    else count.textContent = fmt(S.count, { current: state.hit + 1, total: state.hits.length });
    $("prev").disabled = state.hits.length === 0;
    $("next").disabled = state.hits.length === 0;
    box.dataset.hits = String(state.hits.length);
  }

  function showHit(position) {
    if (!state.hits.length) return;
    const previous = state.hits[state.hit];
    if (previous != null) lines[previous].classList.remove("tx-line--hit");
    state.hit = (position + state.hits.length) % state.hits.length;
    const index = state.hits[state.hit];
    lines[index].classList.add("tx-line--hit");
    for (const button of buttons) if (button.tabIndex === 0) button.tabIndex = -1;
    buttons[index].tabIndex = 0; // Tab from the search box lands on this line
    userScrolled();
    scrollToLine(index, { force: true });
    renderCount();
  }

  function search(raw) {
    const query = fold(raw.trim().replace(/\s+/g, " "));
    const usable = query.length >= SEARCH_MIN ? query : "";
    for (const index of state.hits) lines[index].classList.remove("tx-line--hit");
    state.query = query;
    state.hits = [];
    state.hit = -1;
    lines.forEach((line, index) => {
      const match = usable !== "" && folded[index].includes(usable);
      if (match) state.hits.push(index);
      paint(index, match ? usable : "");
      line.classList.toggle("tx-line--match", match);
      line.hidden = Boolean(usable) && $("only").checked && !match;
    });
    if (state.hits.length) {
      // The first match from the line being said on.
      const current = lineAt(currentMs());
      const after = state.hits.findIndex((index) => index >= current);
      showHit(after >= 0 ? after : 0);
    } else renderCount();
  }

  let debounce = null;
  const input = $("q");
  input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => search(input.value), 120);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(debounce);
      if (fold(input.value.trim().replace(/\s+/g, " ")) !== state.query) search(input.value);
      else showHit(state.hit + (event.shiftKey ? -1 : 1));
    } else if (event.key === "Escape" && input.value) {
      event.preventDefault();
      event.stopPropagation();
      input.value = "";
      search("");
    }
  });
  $("search-form").addEventListener("submit", (event) => event.preventDefault());
  $("next").addEventListener("click", () => showHit(state.hit + 1));
  $("prev").addEventListener("click", () => showHit(state.hit - 1));
  $("only").addEventListener("change", () => search(input.value));
  $("follow").addEventListener("change", () => {
    state.userScrolledAt = 0;
    tick();
  });

  // "/" anywhere on the page (outside a field) opens the transcript and its search box.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    const tab = document.getElementById("tab-transcript");
    if (tab) tab.click();
    input.focus();
  });

  return { tick, search, state };
}
