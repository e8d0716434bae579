// Charts of the insights pages, drawn with the vendored Chart.js
// (static/vendor/chartjs, from npm; see tools/vendor_npm.txt).
//
// Every chart is a <figure data-chart="ID"> holding:
//   - a JSON data island <script type="application/json" id="ID"> (Django's
//     json_script): {type: "line"|"bar", labels: [...], y_label, y_max?,
//     unit?: "%"|"min"|"", stacked?: bool, datasets: [{label, data: [...]}]};
//   - a <canvas> the chart is drawn into (role="img" with a text summary);
//   - the same numbers as a server-rendered <table> inside a <details>, so the
//     data is readable without JavaScript, without sight and without colour.
// The chart never replaces the table: the table is the accessible alternative
// and the <details> toggle is a native, keyboard-operable control.

/* global Chart */

// Colour-blind-safe (Okabe-Ito) colours darkened to reach 3:1 against white
// (WCAG 1.4.11 for graphical objects); lines also differ by dash and marker so
// colour is never the only cue.
const COLOURS = ["#1d4ed8", "#b45309", "#047857", "#9d174d", "#4b5563", "#6d28d9"];
const DASHES = [[], [6, 4], [2, 3], [10, 4, 2, 4], [4, 4], [1, 2]];
const MARKERS = ["circle", "rectRot", "triangle", "rect", "star", "crossRot"];

function reducedMotion() {
  return window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
}

function formatValue(value, unit) {
  if (value == null) return "—";
  const rounded = Math.round(value * 10) / 10;
  if (unit === "%") return `${rounded}%`;
  if (unit) return `${rounded} ${unit}`;
  return String(rounded);
}

function config(spec) {
  const type = spec.type === "bar" ? "bar" : "line";
  const unit = spec.unit || "";
  return {
    type,
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((set, index) => ({
        label: set.label,
        data: set.data,
        borderColor: COLOURS[index % COLOURS.length],
        backgroundColor: type === "bar" ? COLOURS[index % COLOURS.length] : "#ffffff",
        borderDash: type === "line" ? DASHES[index % DASHES.length] : undefined,
        pointStyle: MARKERS[index % MARKERS.length],
        pointRadius: type === "line" ? 4 : undefined,
        borderWidth: 2,
        maxBarThickness: 56,
        spanGaps: true,
        tension: 0,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion() ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, color: "#111827" } },
        tooltip: {
          callbacks: {
            label: (item) => `${item.dataset.label}: ${formatValue(item.parsed.y, unit)}`,
          },
        },
      },
      scales: {
        x: { stacked: !!spec.stacked, ticks: { color: "#374151", maxRotation: 0, autoSkip: true } },
        y: {
          stacked: !!spec.stacked,
          beginAtZero: true,
          max: spec.y_max ?? undefined,
          title: { display: !!spec.y_label, text: spec.y_label, color: "#374151" },
          ticks: { color: "#374151", callback: (value) => formatValue(value, unit) },
        },
      },
    },
  };
}

function draw(figure) {
  const island = document.getElementById(figure.dataset.chart);
  const canvas = figure.querySelector("canvas");
  const status = figure.querySelector("[data-chart-status]");
  if (!island || !canvas) return;
  let spec;
  try {
    spec = JSON.parse(island.textContent);
  } catch {
    return;
  }
  if (!spec.labels?.length || typeof Chart === "undefined") {
    // Nothing to draw (or the library failed to load): the table stays the view.
    figure.classList.add("chart--table-only");
    if (status) status.hidden = true;
    return;
  }
  figure.chart = new Chart(canvas, config(spec));
  figure.classList.add("chart--drawn");
  if (status) status.hidden = true;
}

function drawAll() {
  for (const figure of document.querySelectorAll("figure[data-chart]")) draw(figure);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
else drawAll();
