// The Workers page: plain browser JavaScript, no build step. It reads GET /admin/events (server-sent events
// carrying the same JSON as GET /admin/overview, once a second) with fetch, because EventSource cannot send the
// Authorization header, and redraws each endpoint's section from every message.
"use strict";

(() => {
  const KEY_STORAGE = "berth.apiKey";
  // Relative to /ui/, so the page also works behind a proxy that mounts the control plane under a path.
  const OVERVIEW_URL = "../admin/overview";
  const EVENTS_URL = "../admin/events";
  // The server sends a message every second; this much silence means a connection that died without closing.
  const SILENCE_LIMIT_MS = 5_000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15_000;
  const RECENT_JOBS_SHOWN = 6;
  const CHART_WINDOW_MS = 15 * 60_000;
  const CHART_MIN_WINDOW_MS = 2 * 60_000;
  const STATES = ["Initializing", "Idle", "Running", "Throttled", "Outdated", "Unhealthy"];

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
    message: el("message"),
    endpoints: el("endpoints"),
  };

  /** The running connection: its key and what stops it. Only one at a time. */
  let session = null;
  /** Per endpoint id: its section element and the markup last put into it. */
  const sections = new Map();

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
    clearEndpoints();
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

  // ---------------------------------------------------------------- rendering

  function render(overview) {
    ui.updated.textContent = `updated ${clock(overview.generatedAt)}`;
    ui.updated.title = overview.generatedAt || "";
    ui.runtime.textContent = runtimeText(overview.runtime);
    const endpoints = Array.isArray(overview.endpoints) ? overview.endpoints : [];
    const now = Date.parse(overview.generatedAt) || Date.now();

    const seen = new Set();
    let previous = null;
    for (const endpoint of endpoints) {
      seen.add(endpoint.id);
      let entry = sections.get(endpoint.id);
      if (!entry) {
        const section = document.createElement("section");
        section.className = "endpoint";
        section.dataset.endpointId = endpoint.id;
        entry = { section, html: "" };
        sections.set(endpoint.id, entry);
      }
      const html = endpointHtml(endpoint, now);
      // Untouched markup keeps a reader's text selection (an id being copied) across updates.
      if (html !== entry.html) {
        entry.section.innerHTML = html;
        entry.html = html;
      }
      const expected = previous ? previous.nextSibling : ui.endpoints.firstChild;
      if (expected !== entry.section) ui.endpoints.insertBefore(entry.section, expected);
      previous = entry.section;
    }
    for (const [id, entry] of sections) {
      if (!seen.has(id)) {
        entry.section.remove();
        sections.delete(id);
      }
    }
    ui.message.hidden = endpoints.length > 0;
    ui.message.textContent = endpoints.length > 0 ? "" : "No endpoints yet. Create one with the admin API or a Pulumi program.";
  }

  function clearEndpoints() {
    for (const entry of sections.values()) entry.section.remove();
    sections.clear();
    ui.message.hidden = true;
  }

  function endpointHtml(ep, now) {
    const workers = Array.isArray(ep.workers) ? ep.workers : [];
    const queue = ep.queue || { queued: 0, inProgress: 0 };
    const rollout = ep.rollout || {};
    const throttled = ep.throttled || { count: 0 };
    const showNode = workers.some((w) => w.node);

    const rolloutText =
      rollout.state === "done" || !rollout.state
        ? `<span class="pill pill-ok">done</span>`
        : `<span class="pill ${rollout.state === "halted" ? "pill-bad" : "pill-warn"}">${esc(rollout.state)}</span>` +
          ` to r${esc(rollout.revision)}, ${esc(rollout.outdated)} outdated, ${esc(rollout.batchSize)} at a time` +
          (rollout.reason ? ` <span class="reason">${esc(rollout.reason)}</span>` : "");
    const throttledText =
      throttled.count > 0
        ? `<span class="pill pill-warn" data-throttled="${esc(throttled.count)}">${esc(throttled.count)}</span>` +
          (throttled.reason ? ` <span class="reason">${esc(throttled.reason)}</span>` : "")
        : `<span class="muted" data-throttled="0">none</span>`;

    return `
      <header class="ep-head">
        <h2><span class="ep-name">${esc(ep.name)}</span> <span class="mono muted ep-id">${esc(ep.id)}</span></h2>
        <dl class="facts">
          <div><dt>revision</dt><dd data-revision="${esc(ep.revision)}">r${esc(ep.revision)}</dd></div>
          <div><dt>workers</dt><dd>${esc(ep.workersMin)}–${esc(ep.workersMax)}</dd></div>
          <div><dt>rollout</dt><dd data-rollout="${esc(rollout.state)}">${rolloutText}</dd></div>
          <div><dt>throttled</dt><dd>${throttledText}</dd></div>
        </dl>
      </header>
      <div class="ep-queue">
        <div class="now">
          <div><span class="big q-queued" data-queued="${esc(queue.queued)}">${esc(queue.queued)}</span> queued</div>
          <div><span class="big q-progress" data-in-progress="${esc(queue.inProgress)}">${esc(queue.inProgress)}</span> in progress</div>
        </div>
        ${chartHtml(Array.isArray(ep.history) ? ep.history : [], queue, now)}
      </div>
      ${workers.length > 0 ? workersTable(ep, workers, showNode, now) : `<p class="muted no-workers">No workers running${ep.workersMin > 0 ? "" : "; they start when jobs arrive (workersMin is 0)"}.</p>`}`;
  }

  function workersTable(ep, workers, showNode, now) {
    const rows = workers.map((w) => workerRow(ep, w, showNode, now)).join("");
    return `
      <div class="table-wrap">
        <table class="workers">
          <thead><tr>
            <th>Worker</th><th>State</th><th>Type</th><th>Rev</th><th>GPUs</th>${showNode ? "<th>Node</th>" : ""}
            <th class="num">CPU</th><th class="num">Memory</th><th>GPU use</th><th class="num">Uptime</th>
            <th>Current job</th><th>Recent jobs <span class="muted">(delay / execution)</span></th>
          </tr></thead>
          <tbody>${rows}</tbody>
        </table>
      </div>`;
  }

  function workerRow(ep, w, showNode, now) {
    const state = STATES.includes(w.state) ? w.state : "Unknown";
    const flags = [
      w.frozen ? `<span class="flag">frozen</span>` : "",
      w.draining ? `<span class="flag">draining</span>` : "",
      w.restarts > 0 ? `<span class="flag flag-bad">${esc(w.restarts)} restart${w.restarts === 1 ? "" : "s"}</span>` : "",
    ].join("");
    const gpus = w.gpus || { ids: [] };
    const gpuIds = Array.isArray(gpus.ids) ? gpus.ids : [];
    const gpuText =
      (gpus.typeId ? `<div>${gpuIds.length > 0 ? `${gpuIds.length} × ` : ""}${esc(gpus.typeId)}</div>` : "") +
      (gpuIds.length > 0 || gpus.simulated
        ? `<div>${gpuIds.length > 0 ? `<span class="mono small">${gpuIds.map(esc).join(", ")}</span> ` : ""}${gpus.simulated ? `<span class="flag" data-simulated>simulated</span>` : ""}</div>`
        : "") +
      (!gpus.typeId && gpuIds.length === 0 ? `<span class="muted">none</span>` : "");
    const res = w.resources || {};
    const memory =
      res.memoryBytes === undefined
        ? dash()
        : `${bytes(res.memoryBytes)}${res.memoryLimitBytes ? ` <span class="muted">/ ${bytes(res.memoryLimitBytes)}</span>` : ""}`;
    const gpuUse = res.gpuPercent !== undefined ? percent(res.gpuPercent) : res.note ? `<span class="muted small">${esc(res.note)}</span>` : dash();
    const uptime = w.uptimeSeconds !== undefined ? w.uptimeSeconds : w.startedAt ? (now - Date.parse(w.startedAt)) / 1000 : undefined;
    const current = Array.isArray(w.currentJobs) ? w.currentJobs : [];
    const recent = Array.isArray(w.recentJobs) ? w.recentJobs : [];
    const outdated = typeof w.revision === "number" && w.revision < ep.revision;

    return `
      <tr data-worker-id="${esc(w.id)}" data-worker-type="${esc(w.type)}" data-worker-state="${esc(state)}">
        <td class="mono worker-id" title="${esc(w.id)}">${workerId(ep.id, w.id)}${flags ? `<div>${flags}</div>` : ""}</td>
        <td class="state" data-state="${esc(w.state)}">
          <span class="badge st-${esc(state.toLowerCase())}">${esc(w.state)}</span>
          ${w.reason ? `<div class="reason" data-reason>${esc(w.reason)}</div>` : ""}
        </td>
        <td>${esc(w.type)}</td>
        <td class="${outdated ? "warn" : ""}">r${esc(w.revision)}</td>
        <td class="gpus">${gpuText}</td>
        ${showNode ? `<td class="mono small">${w.node ? esc(w.node) : dash()}</td>` : ""}
        <td class="num" data-cpu="${esc(res.cpuPercent ?? "")}">${res.cpuPercent !== undefined ? percent(res.cpuPercent) : dash()}</td>
        <td class="num" data-memory="${esc(res.memoryBytes ?? "")}">${memory}</td>
        <td>${gpuUse}</td>
        <td class="num" data-uptime="${uptime === undefined ? "" : esc(Math.round(uptime))}">${uptime === undefined ? dash() : esc(duration(uptime))}</td>
        <td class="current">${current.length > 0 ? current.map((id) => jobId(id, "data-current-job")).join("<br>") : dash()}</td>
        <td class="recent">${recentJobs(recent)}</td>
      </tr>`;
  }

  function recentJobs(jobs) {
    if (jobs.length === 0) return dash();
    const shown = jobs.slice(0, RECENT_JOBS_SHOWN);
    const items = shown.map(
      (job) => `
        <li data-job-id="${esc(job.id)}" data-job-status="${esc(job.status)}"${job.delayMs !== undefined ? ` data-delay-ms="${esc(Math.round(job.delayMs))}"` : ""}${job.executionMs !== undefined ? ` data-execution-ms="${esc(Math.round(job.executionMs))}"` : ""}${job.finishedAt ? ` title="finished ${esc(job.finishedAt)}"` : ""}>
          ${jobId(job.id)} <span class="job-status js-${esc(String(job.status).toLowerCase())}">${esc(job.status)}</span>
          <span class="muted">${job.delayMs !== undefined ? esc(millis(job.delayMs)) : "–"} / ${job.executionMs !== undefined ? esc(millis(job.executionMs)) : "–"}</span>
        </li>`,
    );
    const more = jobs.length > shown.length ? `<li class="muted">+${jobs.length - shown.length} more</li>` : "";
    return `<ul class="jobs">${items.join("")}${more}</ul>`;
  }

  /** Queue depth and in-progress count over the history window, as two step lines on one time axis. */
  function chartHtml(history, queue, now) {
    const samples = history.filter((s) => Number.isFinite(s.t));
    // The counts of this very message end the line, so it reaches "now" even before the first sample is taken.
    if (samples.length === 0 || samples[samples.length - 1].t < now) samples.push({ t: now, queued: queue.queued, inProgress: queue.inProgress });
    const W = 300;
    const H = 60;
    const end = Math.max(now, samples[samples.length - 1].t);
    // The axis spans the history there is, from two minutes up to the fifteen the server keeps: a control plane
    // started a minute ago shows its first minute wide, not as a sliver at the right edge.
    const start = end - Math.min(CHART_WINDOW_MS, Math.max(CHART_MIN_WINDOW_MS, end - samples[0].t));
    const max = Math.max(1, ...samples.map((s) => Math.max(s.queued || 0, s.inProgress || 0)));
    const x = (t) => (((t - start) / (end - start || 1)) * W).toFixed(1);
    const y = (v) => (H - 1 - ((v || 0) / max) * (H - 4)).toFixed(1);
    // A level holds until the next sample: steps, not slopes, and the last one runs to "now".
    const steps = (field) => {
      const points = [];
      samples.forEach((s, i) => {
        if (i > 0) points.push(`${x(s.t)},${y(samples[i - 1][field])}`);
        points.push(`${x(s.t)},${y(s[field])}`);
      });
      points.push(`${x(end)},${y(samples[samples.length - 1][field])}`);
      return points.join(" ");
    };
    const queuedLine = steps("queued");
    const minutes = Math.round((end - start) / 60_000);
    return `
      <div class="chart-box">
        <div class="chart-scale small muted"><span>max ${esc(max)}</span><span class="legend"><i class="sw sw-queued"></i>queued <i class="sw sw-progress"></i>in progress</span></div>
        <svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="queued and in-progress jobs over the last ${minutes} minutes">
          <line class="grid" x1="0" y1="${y(max)}" x2="${W}" y2="${y(max)}" vector-effect="non-scaling-stroke"/>
          <line class="axis" x1="0" y1="${y(0)}" x2="${W}" y2="${y(0)}" vector-effect="non-scaling-stroke"/>
          <polygon class="area-queued" points="${x(samples[0].t)},${y(0)} ${queuedLine} ${x(end)},${y(0)}"/>
          <polyline class="line-queued" points="${queuedLine}" vector-effect="non-scaling-stroke"/>
          <polyline class="line-progress" points="${steps("inProgress")}" vector-effect="non-scaling-stroke"/>
        </svg>
        <div class="chart-scale small muted"><span>${esc(minutes)} min ago</span><span>now</span></div>
      </div>`;
  }

  // ---------------------------------------------------------------- small helpers

  function setConn(state, text) {
    ui.conn.className = `conn conn-${state}`;
    ui.conn.dataset.conn = state;
    ui.conn.textContent = text;
  }

  function markStale(stale) {
    ui.endpoints.classList.toggle("stale", stale);
  }

  function authHeaders(key) {
    return { Authorization: `Bearer ${key}` };
  }

  async function errorMessage(res) {
    try {
      const body = await res.json();
      return body.message || body.error || res.statusText;
    } catch {
      return res.statusText || "no details";
    }
  }

  function describe(err) {
    return err && err.message ? err.message : String(err);
  }

  function wait(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  function runtimeText(runtime) {
    if (!runtime) return "no runtime (workers started elsewhere)";
    return [runtime.kind, runtime.location, runtime.gpus].filter(Boolean).join(" · ");
  }

  /** The endpoint prefix of a worker id is the section's own id: dimmed, so the distinct part stands out. */
  function workerId(endpointId, id) {
    const prefix = `${endpointId}-`;
    return String(id).startsWith(prefix) ? `<span class="muted">${esc(prefix)}</span>${esc(String(id).slice(prefix.length))}` : esc(id);
  }

  function jobId(id, attribute) {
    const text = String(id);
    const short = text.startsWith("sync-") ? text.slice(0, 13) : text.slice(0, 8);
    return `<span class="mono job-id" title="${esc(text)}"${attribute ? ` ${attribute}="${esc(text)}"` : ""}>${esc(short)}</span>`;
  }

  function dash() {
    return `<span class="muted">–</span>`;
  }

  function percent(value) {
    return `${esc(Number(value).toFixed(value < 10 ? 1 : 0))}%`;
  }

  function bytes(value) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = Number(value);
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) {
      n /= 1024;
      unit++;
    }
    return esc(`${n.toFixed(n < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`);
  }

  function millis(ms) {
    return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  /** "45s", "3m 12s", "2h 05m", "3d 4h". */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  function clock(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "?" : date.toLocaleTimeString([], { hour12: false });
  }

  function esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // ---------------------------------------------------------------- start

  const key = storedKey();
  if (key) startSession(key);
  else showLogin("");
})();
