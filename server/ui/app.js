// The Workers page: plain browser JavaScript modules, no build step. It reads GET /admin/events (server-sent events
// carrying the same JSON as GET /admin/overview, once a second) with fetch, because EventSource cannot send the
// Authorization header, and shows one of its pages from the address's hash:
//   #/                           every endpoint at a glance (endpoints.js)
//   #/endpoints/ID               an endpoint's workers (workers.js), charts of its last hour (charts.js), its logs (logs.js)
//   #/endpoints/ID/jobs/JOB_ID   a job's timeline (job.js)
import { EndpointCharts } from "./charts.js";
import { endpointsHtml } from "./endpoints.js";
import { authHeaders, clock, describe, errorMessage, esc, wait } from "./format.js";
import { JobPage } from "./job.js";
import { LogsPane } from "./logs.js";
import { endpointHtml } from "./workers.js";

const KEY_STORAGE = "berth.apiKey";
// Relative to /ui/, so the page also works behind a proxy that mounts the control plane under a path.
const OVERVIEW_URL = "../admin/overview";
const EVENTS_URL = "../admin/events";
// The server sends a message every second; this much silence means a connection that died without closing.
const SILENCE_LIMIT_MS = 5_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;

const el = (id) => document.getElementById(id);
const ui = {
  login: el("login"),
  form: el("key-form"),
  input: el("key-input"),
  loginError: el("login-error"),
  forget: el("forget"),
  conn: el("conn"),
  runtime: el("runtime"),
  updated: el("updated"),
  view: el("view"),
};

/** The running connection: its key and what stops it. Only one at a time. */
let session = null;
/** The latest overview, which every page but the job's draws from. */
let latest = null;
/** The page shown: its route and what it holds (charts, a log stream...) until another is shown. */
let page = null;

// ---------------------------------------------------------------- key handling

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (private mode, policy): the key then lasts as long as the page.
  }
}

function showLogin(error) {
  stopSession();
  storeKey("");
  clearView();
  ui.login.hidden = false;
  ui.forget.hidden = true;
  ui.loginError.hidden = !error;
  ui.loginError.textContent = error || "";
  ui.runtime.textContent = "";
  ui.updated.textContent = "";
  setConn("idle", "not connected");
  ui.input.value = "";
  ui.input.focus();
}

ui.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = ui.input.value.trim();
  if (!key) return;
  const button = ui.form.querySelector("button");
  button.disabled = true;
  ui.loginError.hidden = true;
  try {
    // One plain request first, so a wrong key is told at once on the form rather than as a dropped stream.
    const res = await fetch(OVERVIEW_URL, { headers: authHeaders(key), cache: "no-store" });
    if (res.status === 401 || res.status === 403) {
      // 403: a key of this control plane without the read scope (an application's run key, say).
      const verdict = res.status === 401 ? "is not accepted" : "may not read the workers view: it needs a read or admin key";
      ui.loginError.textContent = `That key ${verdict} (${await errorMessage(res)}).`;
      ui.loginError.hidden = false;
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await errorMessage(res)}`);
    const overview = await res.json();
    storeKey(key);
    ui.input.value = "";
    startSession(key);
    render(overview);
  } catch (err) {
    ui.loginError.textContent = `Could not reach the control plane: ${describe(err)}`;
    ui.loginError.hidden = false;
  } finally {
    button.disabled = false;
  }
});

ui.forget.addEventListener("click", (event) => {
  event.preventDefault();
  showLogin("");
});

// ---------------------------------------------------------------- the event stream

function startSession(key) {
  stopSession();
  ui.login.hidden = true;
  ui.forget.hidden = false;
  session = { key, stop: new AbortController() };
  follow(session);
  showPage();
}

function stopSession() {
  if (session) session.stop.abort();
  session = null;
}

/** Keeps one stream open for the session, reconnecting with doubling back-off while it drops. */
async function follow(current) {
  let delay = BACKOFF_FIRST_MS;
  let everConnected = false;
  while (!current.stop.signal.aborted) {
    setConn(everConnected ? "reconnecting" : "connecting", everConnected ? "reconnecting…" : "connecting…");
    let failure;
    try {
      const outcome = await readStream(current, () => {
        everConnected = true;
        delay = BACKOFF_FIRST_MS;
      });
      if (outcome === "unauthorized") {
        if (session === current) showLogin("The key is no longer accepted; enter it again.");
        return;
      }
      failure = "the stream ended";
    } catch (err) {
      failure = describe(err);
    }
    if (current.stop.signal.aborted) return;
    everConnected = true;
    setConn("reconnecting", `reconnecting in ${Math.ceil(delay / 1000)} s (${failure})`);
    markStale(true);
    await wait(delay, current.stop.signal);
    delay = Math.min(delay * 2, BACKOFF_MAX_MS);
  }
}

/** One connection to /admin/events, until it ends, fails or goes silent. */
async function readStream(current, onMessage) {
  const attempt = new AbortController();
  const abort = () => attempt.abort();
  current.stop.signal.addEventListener("abort", abort, { once: true });
  let silence;
  const watch = () => {
    clearTimeout(silence);
    silence = setTimeout(() => attempt.abort(new Error(`no message for ${SILENCE_LIMIT_MS / 1000} s`)), SILENCE_LIMIT_MS);
  };
  try {
    watch();
    const res = await fetch(EVENTS_URL, {
      headers: { ...authHeaders(current.key), Accept: "text/event-stream" },
      cache: "no-store",
      signal: attempt.signal,
    });
    if (res.status === 401 || res.status === 403) return "unauthorized";
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await errorMessage(res)}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = eventStreamParser((type, data) => {
      if (type !== "overview") return;
      watch();
      const overview = JSON.parse(data);
      if (session !== current) return;
      onMessage();
      setConn("live", "live");
      markStale(false);
      render(overview);
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "ended";
      parser(value);
    }
  } catch (err) {
    // An abort for silence carries its reason; report that rather than "The user aborted a request".
    throw attempt.signal.aborted && attempt.signal.reason instanceof Error ? attempt.signal.reason : err;
  } finally {
    clearTimeout(silence);
    current.stop.signal.removeEventListener("abort", abort);
    attempt.abort();
  }
}

/**
 * The text/event-stream format (HTML standard, "event stream interpretation"): lines end in CR, LF or CRLF;
 * `event:` names the event, `data:` lines join with LF, a blank line dispatches, `:` starts a comment.
 */
function eventStreamParser(dispatch) {
  let buffer = "";
  let type = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      if (data.length > 0) dispatch(type || "message", data.join("\n"));
      type = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  };
  return (chunk) => {
    buffer += chunk;
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(buffer);
      if (!found) break;
      // A CR at the very end may be the first half of a CRLF split across chunks: wait for the next one.
      if (found[0] === "\r" && found.index === buffer.length - 1) break;
      line(buffer.slice(start, found.index));
      start = found.index + found[0].length;
    }
    buffer = buffer.slice(start);
  };
}

// ---------------------------------------------------------------- pages

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "endpoints" && parts[1] && parts[2] === "jobs" && parts[3]) return { name: "job", endpointId: parts[1], jobId: parts[3] };
  if (parts[0] === "endpoints" && parts[1]) return { name: "endpoint", endpointId: parts[1] };
  return { name: "endpoints" };
}

/** Shows the page the hash names, once there is a session; the previous page's streams and timers stop. */
function showPage() {
  if (!session) return;
  const next = route();
  if (page && JSON.stringify(page.route) === JSON.stringify(next)) return;
  clearView();
  page = { route: next, parts: [] };
  if (next.name === "endpoints") {
    document.title = "Berth · Endpoints";
    ui.view.innerHTML = `<div data-page="endpoints"></div>`;
  } else if (next.name === "endpoint") {
    document.title = `Berth · ${next.endpointId}`;
    ui.view.innerHTML = `
      <nav class="crumbs"><a href="#/">Endpoints</a> › <span class="mono">${esc(next.endpointId)}</span></nav>
      <section class="endpoint" data-endpoint-id="${esc(next.endpointId)}"></section>
      <section class="panel" aria-label="charts"><h2>Last hour</h2><div data-charts></div></section>
      <section class="panel" aria-label="logs"><h2>Logs</h2><div data-logs></div></section>`;
    const charts = new EndpointCharts(ui.view.querySelector("[data-charts]"));
    page.logs = new LogsPane(ui.view.querySelector("[data-logs]"), session.key, next.endpointId);
    page.parts.push(charts, new HistoryPoller(session.key, next.endpointId, (history) => charts.update(history)), page.logs);
  } else {
    document.title = `Berth · job ${next.jobId}`;
    ui.view.innerHTML = `
      <nav class="crumbs"><a href="#/">Endpoints</a> › <a href="#/endpoints/${esc(encodeURIComponent(next.endpointId))}" class="mono">${esc(next.endpointId)}</a> › job <span class="mono">${esc(next.jobId)}</span></nav>
      <div data-job></div>`;
    page.parts.push(new JobPage(ui.view.querySelector("[data-job]"), session.key, next.endpointId, next.jobId));
  }
  if (latest) render(latest);
  // Keyboard users land on the new page's first heading, not where they were on the old one.
  const heading = ui.view.querySelector("nav, h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function clearView() {
  if (page) for (const part of page.parts) part.destroy();
  page = null;
  ui.view.innerHTML = "";
}

window.addEventListener("hashchange", showPage);

/** Re-reads an endpoint's history every sample interval the server names (at least a second). */
class HistoryPoller {
  constructor(key, endpointId, onHistory) {
    this.stop = new AbortController();
    this.run(key, endpointId, onHistory);
  }

  async run(key, endpointId, onHistory) {
    const url = `../admin/endpoints/${encodeURIComponent(endpointId)}/history`;
    while (!this.stop.signal.aborted) {
      let next = 5_000;
      try {
        const res = await fetch(url, { headers: authHeaders(key), cache: "no-store", signal: this.stop.signal });
        if (res.ok) {
          const history = await res.json();
          onHistory(history);
          next = Math.max(1_000, history.sampleMs || 5_000);
        }
      } catch {
        // A failed read: the next one tries again; the connection indicator tells of a control plane gone.
      }
      await wait(next, this.stop.signal);
    }
  }

  destroy() {
    this.stop.abort();
  }
}

function render(overview) {
  latest = overview;
  ui.updated.textContent = `updated ${clock(overview.generatedAt)}`;
  ui.updated.title = overview.generatedAt || "";
  ui.runtime.textContent = runtimeText(overview.runtime);
  if (!page) return;
  const endpoints = Array.isArray(overview.endpoints) ? overview.endpoints : [];
  const now = Date.parse(overview.generatedAt) || Date.now();
  if (page.route.name === "endpoints") {
    update(ui.view.querySelector("[data-page=endpoints]"), endpointsHtml(endpoints));
  } else if (page.route.name === "endpoint") {
    const endpoint = endpoints.find((e) => e.id === page.route.endpointId);
    const section = ui.view.querySelector("section.endpoint");
    update(
      section,
      endpoint
        ? endpointHtml(endpoint, now)
        : `<p class="error" role="alert">Endpoint ${esc(page.route.endpointId)} does not exist. <a href="#/">All endpoints</a></p>`,
    );
    if (endpoint) page.logs.workers(Array.isArray(endpoint.workers) ? endpoint.workers.map((w) => w.id) : []);
  }
}

/** Untouched markup keeps a reader's text selection (an id being copied) and focus across updates. */
function update(element, html) {
  if (!element || element.dataset.html === html) return;
  element.innerHTML = html;
  element.dataset.html = html;
}

// ---------------------------------------------------------------- small helpers

function setConn(state, text) {
  ui.conn.className = `conn conn-${state}`;
  ui.conn.dataset.conn = state;
  ui.conn.textContent = text;
}

function markStale(stale) {
  ui.view.classList.toggle("stale", stale);
}

function runtimeText(runtime) {
  if (!runtime) return "no runtime (workers started elsewhere)";
  return [runtime.kind, runtime.location, runtime.gpus].filter(Boolean).join(" · ");
}

// ---------------------------------------------------------------- start

const storedAtStart = storedKey();
if (storedAtStart) startSession(storedAtStart);
else showLogin("");
