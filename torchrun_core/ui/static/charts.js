// Metrics: one uPlot line chart per tag against step, with a line per run
// and source; progress bars and the checkpoints table of a single run.
import { getJson } from "./api.js";
import { clear, el, runLink, section, stateBadge, table, time } from "./dom.js";
import { onLeave, showError } from "./app.js";

const MAX_POINTS = 2000;
const REFRESH_MS = 5000;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const MAX_COMPARED = 20;

function shortId(handle) {
  return handle.split("/").pop();
}

function tagCharts(answers, runs) {
  // answers[i] is /api/run/series of runs[i]; returns Map(tag -> {labels, tables, points, count})
  const tags = new Map();
  answers.forEach((answer, i) => {
    for (const { tag, series } of answer.tags) {
      const entry = tags.get(tag) || { labels: [], tables: [], points: 0, count: 0 };
      for (const s of series) {
        const who = runs.length > 1 ? `${runs[i].app_name} ${shortId(runs[i].handle)}` : "";
        entry.labels.push([who, s.source].filter(Boolean).join(" · ") || tag);
        entry.tables.push([s.steps, s.values]);
        entry.points += s.values.length;
        entry.count += s.count;
      }
      tags.set(tag, entry);
    }
  });
  return tags;
}

function aligned(tables) {
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

function chartOptions(tag, labels, width) {
  return {
    title: tag,
    width,
    height: 260,
    scales: { x: { time: false } },
    axes: [{ label: "step" }, {}],
    series: [{ label: "step" }, ...labels.map((label, i) => ({
      label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: false },
    }))],
  };
}

function drawCharts(holder, tags, charts) {
  const width = Math.max(320, Math.min(900, holder.clientWidth || 900));
  for (const [tag, entry] of tags) {
    const data = aligned(entry.tables);
    let box = charts.get(tag);
    if (box && box.uplot.series.length === entry.labels.length + 1) {
      box.uplot.setData(data);
    } else {
      if (box) { box.uplot.destroy(); box.remove(); }
      box = el("div", { class: "chart" });
      holder.append(box);
      box.uplot = new uPlot(chartOptions(tag, entry.labels, width), data, box);
      charts.set(tag, box);
    }
    box.dataset.tag = tag;
    box.dataset.points = String(entry.points);
    box.dataset.count = String(entry.count);
    let note = box.querySelector(".chart-note");
    if (!note) { note = el("p", { class: "chart-note muted" }); box.append(note); }
    note.textContent = entry.points < entry.count
      ? `${entry.points} of ${entry.count} points drawn (min and max of each stretch kept)`
      : `${entry.count} points`;
  }
}

async function progressPanel(handle) {
  const points = await getJson("/api/run/progress", { handle });
  if (!points.length) return el("p", { class: "muted" }, "No progress reported.");
  return el("div", { id: "progress" }, points.map((p) => el("div", { class: "progress-row" },
    el("span", {}, `${p.tag} (${p.source}) `),
    el("progress", { value: p.value, max: p.final_value ?? p.value }),
    el("span", {}, ` ${p.value}${p.final_value !== null ? " / " + p.final_value : ""} ${p.units || ""}`))));
}

async function checkpointsPanel(handle) {
  const found = await getJson("/api/run/checkpoints", { handle });
  if (!found.length) return el("p", { class: "muted" }, "No checkpoints recorded.");
  return table(["Step", "Status", "Recorded", "Source", "Path"], found.map((c) =>
    el("tr", {}, el("td", {}, c.step), el("td", {}, c.complete ? "complete" : "incomplete"),
      el("td", {}, time(c.timestamp)), el("td", {}, c.source), el("td", { class: "mono" }, c.path))),
  { id: "checkpoints" });
}

export function metricsPanel(runs, { live = false } = {}) {
  const holder = el("div", { class: "charts", id: "charts" });
  const status = el("p", { class: "muted", id: "charts-status" }, "Loading metrics…");
  const extras = el("div");
  const charts = new Map();
  let alive = true;
  onLeave(() => { alive = false; });
  async function load() {
    const answers = await Promise.all(runs.map((r) => getJson("/api/run/series", { handle: r.handle, max_points: MAX_POINTS })));
    if (!alive) return;
    const tags = tagCharts(answers, runs);
    status.textContent = tags.size ? "" : "No metrics recorded.";
    drawCharts(holder, tags, charts);
    if (runs.length === 1) {
      const [progress, checkpoints] = await Promise.all([progressPanel(runs[0].handle), checkpointsPanel(runs[0].handle)]);
      clear(extras).append(el("h3", {}, "Progress"), progress, el("h3", {}, "Checkpoints"), checkpoints);
    }
  }
  load().catch((err) => { status.textContent = "error: " + err.message; });
  if (live) {
    const timer = setInterval(() => { if (!document.hidden) load().catch(showError); }, REFRESH_MS);
    onLeave(() => clearInterval(timer));
  }
  return el("div", {}, status, holder, extras);
}

export async function showCompare(view, params) {
  let handles = (params.get("handles") || "").split(",").filter(Boolean);
  const parent = params.get("parent");
  if (parent) {
    const page = await getJson("/api/runs", { parent, sort: "oldest", limit: MAX_COMPARED });
    handles = page.runs.map((r) => r.handle);
  }
  const runs = await Promise.all(handles.slice(0, MAX_COMPARED).map((handle) => getJson("/api/run", { handle })));
  view.append(el("h1", {}, parent ? "Children of " : "Compare ", parent ? runLink(parent) : `${runs.length} runs`),
    table(["Run", "State", "Handle"], runs.map((r) => el("tr", {}, el("td", {}, runLink(r.handle, r.app_name)),
      el("td", {}, stateBadge(r.state)), el("td", { class: "handle" }, r.handle))), { id: "compared" }),
    runs.length ? section("Metrics", metricsPanel(runs)) : el("p", { class: "muted" }, "No runs to compare."));
}
