// An endpoint's workers view: its facts, queue now, and a row per worker with what it is doing and has done.
// Redrawn from every overview the event stream brings.
import { bytes, dash, duration, esc, jobIdHtml, millis, percent, workerIdHtml } from "./format.js";

const RECENT_JOBS_SHOWN = 6;
export const STATES = ["Initializing", "Idle", "Running", "Throttled", "Outdated", "Unhealthy"];

export function rolloutHtml(rollout) {
  return rollout.state === "done" || !rollout.state
    ? `<span class="pill pill-ok">done</span>`
    : `<span class="pill ${rollout.state === "halted" ? "pill-bad" : "pill-warn"}">${esc(rollout.state)}</span>` +
        ` to r${esc(rollout.revision)}, ${esc(rollout.outdated)} outdated, ${esc(rollout.batchSize)} at a time` +
        (rollout.reason ? ` <span class="reason">${esc(rollout.reason)}</span>` : "");
}

export function endpointHtml(ep, now) {
  const workers = Array.isArray(ep.workers) ? ep.workers : [];
  const queue = ep.queue || { queued: 0, inProgress: 0 };
  const throttled = ep.throttled || { count: 0 };
  const showNode = workers.some((w) => w.node);
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
        <div><dt>rollout</dt><dd data-rollout="${esc((ep.rollout || {}).state)}">${rolloutHtml(ep.rollout || {})}</dd></div>
        <div><dt>throttled</dt><dd>${throttledText}</dd></div>
      </dl>
    </header>
    <div class="ep-queue">
      <div class="now">
        <div><span class="big q-queued" data-queued="${esc(queue.queued)}">${esc(queue.queued)}</span> queued</div>
        <div><span class="big q-progress" data-in-progress="${esc(queue.inProgress)}">${esc(queue.inProgress)}</span> in progress</div>
      </div>
      ${ep.lastError ? `<p class="last-error" data-last-error><span class="pill pill-bad">last error</span> ${esc(ep.lastError.message)} <span class="muted small">${esc(ep.lastError.at)}</span></p>` : ""}
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
      <td class="mono worker-id" title="${esc(w.id)}">${workerIdHtml(ep.id, w.id)}${flags ? `<div>${flags}</div>` : ""}</td>
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
      <td class="current">${current.length > 0 ? current.map((id) => jobIdHtml(id, ep.id, "data-current-job")).join("<br>") : dash()}</td>
      <td class="recent">${recentJobs(ep.id, recent)}</td>
    </tr>`;
}

function recentJobs(endpointId, jobs) {
  if (jobs.length === 0) return dash();
  const shown = jobs.slice(0, RECENT_JOBS_SHOWN);
  const items = shown.map(
    (job) => `
      <li data-job-id="${esc(job.id)}" data-job-status="${esc(job.status)}"${job.delayMs !== undefined ? ` data-delay-ms="${esc(Math.round(job.delayMs))}"` : ""}${job.executionMs !== undefined ? ` data-execution-ms="${esc(Math.round(job.executionMs))}"` : ""}${job.finishedAt ? ` title="finished ${esc(job.finishedAt)}"` : ""}>
        ${jobIdHtml(job.id, endpointId)} <span class="job-status js-${esc(String(job.status).toLowerCase())}">${esc(job.status)}</span>
        <span class="muted">${job.delayMs !== undefined ? esc(millis(job.delayMs)) : "–"} / ${job.executionMs !== undefined ? esc(millis(job.executionMs)) : "–"}</span>
      </li>`,
  );
  const more = jobs.length > shown.length ? `<li class="muted">+${jobs.length - shown.length} more</li>` : "";
  return `<ul class="jobs">${items.join("")}${more}</ul>`;
}
