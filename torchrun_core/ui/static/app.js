// The page's router: #/runs?filters, #/run?handle=H, #/compare?handles=A,B or ?parent=H.
import { getMeta } from "./api.js";
import { clear } from "./dom.js";
import { showRuns } from "./runs.js";
import { showRun } from "./run.js";
import { showCompare } from "./charts.js";

let cleanup = [];

export function onLeave(fn) {
  cleanup.push(fn);
}

export function showError(err) {
  const box = document.getElementById("error");
  if (!err) {
    box.hidden = true;
    return;
  }
  box.textContent = "error: " + err.message + (err.hint ? "\nhint: " + err.hint : "");
  box.hidden = false;
}

function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  showError(null);
  const hash = location.hash.slice(1) || "/runs";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const view = clear(document.getElementById("view"));
  const shown = path === "/run" ? showRun(view, params)
    : path === "/compare" ? showCompare(view, params)
    : showRuns(view, params);
  Promise.resolve(shown).catch(showError);
}

getMeta().then((meta) => {
  document.getElementById("actions-mode").textContent =
    meta.allow_actions ? "actions enabled" : "read-only";
  window.addEventListener("hashchange", route);
  route();
}).catch(showError);
