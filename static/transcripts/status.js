// The staff progress bar of a recording's transcription: polls the JSON state
// (GET /api/recordings/<id>/transcript/) every 2 s while a run is pending or
// running, and updates the bar, the text and the failure reason in place.
for (const panel of document.querySelectorAll("[data-tr-status]")) {
  const url = panel.dataset.trStatus;
  const bar = panel.querySelector("progress");
  const label = panel.querySelector("[data-tr-label]");
  const error = panel.querySelector("[data-tr-error]");
  const words = JSON.parse(panel.dataset.trWords || "{}");
  let done = false;
  async function tick() {
    if (done) return;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        const percent = Math.round((state.progress || 0) * 100);
        if (bar) { bar.value = percent; bar.textContent = `${percent}%`; }
        if (state.status === "running") label.textContent = (words.running || "Transcribing… {p}%").replace("{p}", percent);
        else if (state.status === "pending") label.textContent = words.pending || "Waiting for a worker…";
        else if (state.status === "failed") {
          label.textContent = words.failed || "Transcription failed.";
          if (error) { error.textContent = state.error; error.hidden = false; }
          if (bar) bar.hidden = true;
          done = true;
        } else if (state.status === "ready") {
          label.textContent = (words.ready || "Ready: {n} captions.").replace("{n}", state.cues);
          if (bar) bar.value = 100;
          done = true;
          if (panel.dataset.trReload) window.location.reload();
        }
      }
    } catch (_) { /* offline for a moment: try again */ }
    if (!done) setTimeout(tick, 2000);
  }
  if (panel.dataset.trActive === "true") setTimeout(tick, 1000);
}
