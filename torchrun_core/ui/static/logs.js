// A replica's log, one page of whole lines at a time, followed live over
// server-sent events. The DOM never holds more than MAX_SHOWN lines, so a
// million-line log scrolls like a short one; earlier pages are a click away.
import { getJson, streamUrl } from "./api.js";
import { TERMINAL, clear, el } from "./dom.js";
import { onLeave } from "./app.js";

const PAGE = 1000;
const MAX_SHOWN = 5000;

export function logPanel(run) {
  const replicas = run.replicas || [];
  const pick = el("select", { id: "log-replica", "aria-label": "replica" },
    replicas.map((r, i) => el("option", { value: String(i) }, `${r.role}/${r.replica}`)));
  const streams = el("select", { id: "log-streams", "aria-label": "streams" },
    ["combined", "stdout", "stderr"].map((s) => el("option", { value: s }, s)));
  const regex = el("input", { id: "log-regex", placeholder: "regex filter", "aria-label": "regex" });
  const follow = el("input", { type: "checkbox", id: "log-follow", checked: !TERMINAL.has(run.state) });
  const lines = el("div", { id: "log-lines", class: "log", role: "log" });
  const info = el("span", { id: "log-info", class: "muted" });
  const button = (label, id, fn) => el("button", { type: "button", id, onclick: fn }, label);
  let start = 0;      // index of the first line shown
  let total = null;   // lines known to exist (null: unknown, when paging forward)
  let source = null;  // the EventSource while following

  function stop() {
    if (source) source.close();
    source = null;
  }
  onLeave(stop);

  function query() {
    const r = replicas[Number(pick.value)] || {};
    return { handle: run.handle, role: r.role, replica: r.replica, streams: streams.value === "combined" ? "" : streams.value,
      regex: regex.value };
  }

  function show(list, first) {
    start = first;
    clear(lines).append(...list.map((text) => el("div", { class: "line" }, text)));
    describe();
  }

  function append(list) {
    const atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
    lines.append(...list.map((text) => el("div", { class: "line" }, text)));
    total += list.length;
    let excess = lines.childElementCount - MAX_SHOWN;
    while (excess-- > 0) { lines.firstElementChild.remove(); start += 1; }
    describe();
    if (atBottom) lines.scrollTop = lines.scrollHeight;
  }

  function describe() {
    const shown = lines.childElementCount;
    info.textContent = shown ? `lines ${start + 1}–${start + shown}` + (total !== null ? ` of ${total}` : "")
      + (source ? " · following" : "") : (source ? "no lines yet · following" : "no lines");
  }

  async function last() {
    stop();
    const page = await getJson("/api/run/logs", { ...query(), tail: PAGE });
    total = page.total;
    show(page.lines, page.start);
    lines.scrollTop = lines.scrollHeight;
    if (follow.checked) {
      source = new EventSource(streamUrl("/api/run/logs/stream", { ...query(), skip: total }));
      source.addEventListener("lines", (event) => append(JSON.parse(event.data)));
      source.addEventListener("end", () => { stop(); describe(); });
      source.addEventListener("failure", (event) => {
        stop();
        const err = JSON.parse(event.data);
        info.textContent = "error: " + err.error;
      });
      source.onerror = () => { if (source && source.readyState === EventSource.CLOSED) stop(); };
      describe();
    }
  }

  async function at(offset) {
    stop();
    follow.checked = false;
    const page = await getJson("/api/run/logs", { ...query(), offset: Math.max(0, offset), limit: PAGE });
    show(page.lines, page.start);
    lines.scrollTop = 0;
  }

  const fail = (fn) => () => fn().catch((err) => { info.textContent = "error: " + err.message; });
  for (const control of [pick, streams, follow]) control.addEventListener("change", fail(last));
  regex.addEventListener("keydown", (event) => { if (event.key === "Enter") fail(last)(); });
  const panel = el("div", { class: "log-panel" },
    el("div", { class: "log-controls" }, pick, streams, regex,
      el("label", {}, follow, " follow"),
      button("First", "log-first", fail(() => at(0))),
      button("Previous", "log-prev", fail(() => at(start - PAGE))),
      button("Next", "log-next", fail(() => at(start + PAGE))),
      button("Last", "log-last", fail(last)),
      info),
    lines);
  if (replicas.length) fail(last)(); else info.textContent = "no replicas";
  return panel;
}
