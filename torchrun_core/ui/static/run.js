// One run: summary, roles and replicas, events, lineage, cfg and env, request,
// actions, logs, metrics, progress and checkpoints.
import { getJson, getMeta, postJson } from "./api.js";
import { TERMINAL, clear, el, runLink, section, stateBadge, table, time } from "./dom.js";
import { onLeave, showError } from "./app.js";
import { logPanel } from "./logs.js";
import { metricsPanel } from "./charts.js";

const REFRESH_MS = 2000;

function summary(run) {
  const rows = [
    ["Handle", run.handle], ["Scheduler", run.scheduler], ["Session", run.session],
    ["App id", run.app_id], ["Created", time(run.created_at)], ["Updated", time(run.updated_at)],
  ];
  const body = rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)));
  if (run.stale) body.push(el("tr", {}, el("th", {}, "Stale"), el("td", {}, run.stale)));
  if (run.status && run.status.message) body.push(el("tr", {}, el("th", {}, "Message"), el("td", {}, run.status.message)));
  return el("table", { class: "kv" }, el("tbody", {}, body));
}

function replicas(run) {
  const roles = run.status ? run.status.roles : [];
  if (!roles.length) return el("p", { class: "muted" }, "The scheduler reports no replicas.");
  const rows = roles.flatMap((role) => role.replicas.map((r) => el("tr", { dataset: { replica: `${r.role}/${r.id}` } },
    el("td", {}, r.role), el("td", {}, r.id), el("td", {}, stateBadge(r.state)),
    el("td", {}, r.exit_code ?? "-"), el("td", {}, r.hostname || "-"), el("td", {}, r.attempt),
    el("td", {}, time(r.started_at)), el("td", {}, time(r.finished_at)), el("td", {}, r.message || ""))));
  return table(["Role", "Replica", "State", "Exit code", "Host", "Attempt", "Started", "Finished", "Message"], rows, { id: "replicas" });
}

function events(run) {
  const rows = run.events.map((e) => el("tr", {}, el("td", {}, e.seq), el("td", {}, time(e.at)),
    el("td", {}, stateBadge(e.state)), el("td", {}, e.message || "")));
  return table(["Seq", "At", "State", "Message"], rows, { id: "events" });
}

function lineage(run) {
  const parts = [el("p", {}, "Parent: ", run.parent_run_id ? runLink(run.parent_run_id) : "none")];
  if (run.children.length) {
    parts.push(el("ul", { id: "children" }, run.children.map((c) =>
      el("li", {}, runLink(c.handle, c.app_name), " ", stateBadge(c.state), " ", time(c.created_at)))));
    if (run.more_children) parts.push(el("p", {}, el("a", { href: "#/runs?parent=" + encodeURIComponent(run.handle) }, "All children")));
    parts.push(el("p", {}, el("a", { href: "#/compare?parent=" + encodeURIComponent(run.handle), id: "compare-children" },
      "Compare the children's metrics")));
  } else {
    parts.push(el("p", { class: "muted" }, "No children."));
  }
  return parts;
}

function config(run) {
  const cfgRows = Object.entries(run.cfg || {}).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, JSON.stringify(v))));
  const parts = [el("h3", {}, "Scheduler options"),
    cfgRows.length ? el("table", { class: "kv", id: "cfg" }, el("tbody", {}, cfgRows)) : el("p", { class: "muted" }, "none")];
  for (const role of (run.app ? run.app.roles : [])) {
    const envRows = Object.entries(role.env || {}).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)));
    parts.push(el("h3", {}, `Role ${role.name}: ${role.image}`),
      el("p", { class: "mono" }, [role.entrypoint, ...(role.args || [])].join(" ")),
      envRows.length ? el("table", { class: "kv env" }, el("tbody", {}, envRows)) : el("p", { class: "muted" }, "no env"));
  }
  return parts;
}

function requestPanel(handle) {
  const out = el("pre", { id: "request", class: "mono" });
  const button = el("button", { type: "button", onclick: async () => {
    out.textContent = "…";
    try {
      const answer = await getJson("/api/run/request", { handle });
      out.textContent = answer.request + (answer.notes.length ? "\n\n# " + answer.notes.join("\n# ") : "");
    } catch (err) {
      out.textContent = "error: " + err.message + (err.hint ? "\nhint: " + err.hint : "");
    }
  } }, "Show the request a rerun would submit");
  return [button, out];
}

function actionButtons(run, meta) {
  if (!meta.allow_actions) return null;
  const act = (action) => async () => {
    try {
      const answer = await postJson("/api/run/" + action, { handle: run.handle });
      if (action === "rerun") location.hash = "#/run?handle=" + encodeURIComponent(answer.handle);
    } catch (err) { showError(err); }
  };
  return el("div", { class: "actions" },
    TERMINAL.has(run.state) ? null : el("button", { type: "button", id: "cancel", class: "danger", onclick: act("cancel") }, "Cancel"),
    el("button", { type: "button", id: "rerun", onclick: act("rerun") }, "Rerun"));
}

export async function showRun(view, params) {
  const handle = params.get("handle") || "";
  const meta = await getMeta();
  let run = await getJson("/api/run", { handle });
  const head = el("div", { id: "run-head" });
  const details = el("div", { id: "run-details" });
  function render() {
    clear(head).append(
      el("h1", {}, el("span", { id: "run-name" }, run.app_name), " ", el("span", { id: "run-state" }, stateBadge(run.state))),
      actionButtons(run, meta) || "");
    clear(details).append(
      section("Summary", summary(run)),
      section("Roles and replicas", replicas(run)),
      section("Events", events(run)),
      section("Lineage", ...lineage(run)));
  }
  render();
  view.append(head, details,
    section("Logs", logPanel(run)),
    section("Metrics", metricsPanel([run], { live: !TERMINAL.has(run.state) })),
    section("Configuration", ...config(run)),
    section("Request", ...requestPanel(run.handle)));
  let alive = true;
  onLeave(() => { alive = false; });
  const timer = setInterval(async () => {
    if (document.hidden || TERMINAL.has(run.state)) return;
    try {
      const fresh = await getJson("/api/run", { handle });
      if (!alive) return;
      run = fresh;
      render();
    } catch (err) { showError(err); }
  }, REFRESH_MS);
  onLeave(() => clearInterval(timer));
}
