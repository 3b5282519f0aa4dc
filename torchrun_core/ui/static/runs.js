// The runs table: the `list` filters, cursor paging, states refreshed live.
import { getJson, getMeta } from "./api.js";
import { clear, el, runLink, stateBadge, table, time } from "./dom.js";
import { onLeave, showError } from "./app.js";

const REFRESH_MS = 2000;
const FILTERS = ["scheduler", "state", "name", "parent", "since", "until", "sort"];

function toLocalInput(seconds) {
  if (!seconds) return "";
  const d = new Date(Number(seconds) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(text) {
  return text ? String(Math.floor(new Date(text).getTime() / 1000)) : "";
}

function filterForm(meta, params) {
  const chosen = new Set((params.get("state") || "").split(",").filter(Boolean));
  const form = el("form", { id: "run-filters", class: "filters" },
    el("label", {}, "Scheduler ",
      el("select", { name: "scheduler" },
        el("option", { value: "" }, "any"),
        meta.schedulers.map((s) => el("option", { value: s, selected: params.get("scheduler") === s }, s)))),
    el("fieldset", { class: "states" }, el("legend", {}, "States"),
      meta.states.map((s) => el("label", {},
        el("input", { type: "checkbox", name: "state", value: s, checked: chosen.has(s) }), " ", s))),
    el("label", {}, "Name ", el("input", { name: "name", placeholder: "ILIKE pattern, e.g. train%",
      value: params.get("name") || "" })),
    el("label", {}, "Parent ", el("input", { name: "parent", placeholder: "handle",
      value: params.get("parent") || "" })),
    el("label", {}, "Created from ", el("input", { type: "datetime-local", name: "since",
      value: toLocalInput(params.get("since")) })),
    el("label", {}, "to ", el("input", { type: "datetime-local", name: "until",
      value: toLocalInput(params.get("until")) })),
    el("label", {}, "Sort ", el("select", { name: "sort" },
      ["newest", "oldest", "name"].map((s) => el("option", { value: s, selected: params.get("sort") === s }, s)))),
    el("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const key of ["scheduler", "name", "parent", "sort"]) {
      const value = String(data.get(key) || "").trim();
      if (value) next.set(key, value);
    }
    const states = data.getAll("state");
    if (states.length) next.set("state", states.join(","));
    for (const key of ["since", "until"]) {
      const value = fromLocalInput(String(data.get(key) || ""));
      if (value) next.set(key, value);
    }
    location.hash = "#/runs" + (next.toString() ? "?" + next.toString() : "");
  });
  return form;
}

function runRow(run, selected) {
  const box = el("input", { type: "checkbox", class: "pick", checked: selected.has(run.handle),
    "aria-label": "compare " + run.app_name });
  box.addEventListener("change", () => {
    if (box.checked) selected.add(run.handle); else selected.delete(run.handle);
  });
  return el("tr", { dataset: { handle: run.handle } },
    el("td", {}, box),
    el("td", { class: "name" }, runLink(run.handle, run.app_name)),
    el("td", {}, stateBadge(run.state), run.stale ? el("span", { class: "muted", title: run.stale }, " (stale)") : null),
    el("td", {}, run.scheduler),
    el("td", { class: "handle" }, run.handle),
    el("td", {}, time(run.created_at)),
    el("td", {}, run.parent_run_id ? runLink(run.parent_run_id) : "-"));
}

export async function showRuns(view, params) {
  const meta = await getMeta();
  const filters = {};
  for (const key of FILTERS) if (params.get(key)) filters[key] = params.get(key);
  const cursor = params.get("cursor") || "";
  const selected = new Set();
  const body = el("tbody");
  const status = el("p", { class: "muted", id: "runs-status" });
  const pager = el("div", { class: "pager" });
  const compare = el("button", { type: "button", onclick: () => {
    if (selected.size) location.hash = "#/compare?handles=" + encodeURIComponent([...selected].join(","));
  } }, "Compare metrics of the checked runs");
  view.append(el("h1", {}, "Runs"), filterForm(meta, params),
    el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["", "Name", "State", "Scheduler", "Handle", "Created", "Parent"].map((h) => el("th", {}, h)))),
      body),
    status, pager, compare);

  let alive = true;
  onLeave(() => { alive = false; });
  async function load() {
    const page = await getJson("/api/runs", { ...filters, cursor });
    if (!alive) return;
    clear(body).append(...page.runs.map((run) => runRow(run, selected)));
    status.textContent = page.runs.length ? `${page.runs.length} runs on this page` : "no runs match";
    const next = new URLSearchParams({ ...filters });
    clear(pager);
    if (cursor) pager.append(el("a", { href: "#/runs?" + new URLSearchParams(filters).toString(), class: "button" }, "First page"));
    if (page.next_cursor) {
      next.set("cursor", page.next_cursor);
      pager.append(el("a", { href: "#/runs?" + next.toString(), class: "button", id: "next-page" }, "Next page"));
    }
  }
  await load();
  const timer = setInterval(() => {
    if (!document.hidden) load().then(() => showError(null)).catch(showError);
  }, REFRESH_MS);
  onLeave(() => clearInterval(timer));
}
