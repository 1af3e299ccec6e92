// A job's page (GET /admin/endpoints/{id}/jobs/{jobId}): status, input and output (truncated, with their sizes),
// the error with the handler's traceback, each attempt, progress updates and stream chunks with their times, and
// the worker's log lines while it ran the job.
import { authHeaders, bytes, describe, errorMessage, esc, millis, preciseClock, workerIdHtml } from "./format.js";

export class JobPage {
  constructor(container, key, endpointId, jobId) {
    this.container = container;
    this.stop = new AbortController();
    container.innerHTML = `<p class="muted" role="status">loading job ${esc(jobId)}…</p>`;
    this.load(key, endpointId, jobId);
  }

  async load(key, endpointId, jobId) {
    try {
      const res = await fetch(`../admin/endpoints/${encodeURIComponent(endpointId)}/jobs/${encodeURIComponent(jobId)}`, {
        headers: authHeaders(key),
        cache: "no-store",
        signal: this.stop.signal,
      });
      if (res.status === 404) {
        this.container.innerHTML = `<p class="error" role="alert" data-job-missing>${esc(await errorMessage(res))}. It may have expired: results are kept 30 minutes after /run, 1 minute after /runsync.</p>`;
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await errorMessage(res)}`);
      this.container.innerHTML = jobHtml(endpointId, await res.json());
    } catch (err) {
      if (!this.stop.signal.aborted) this.container.innerHTML = `<p class="error" role="alert">Could not read the job: ${esc(describe(err))}</p>`;
    }
  }

  destroy() {
    this.stop.abort();
  }
}

const when = (iso) => (iso ? `<time datetime="${esc(iso)}">${esc(preciseClock(iso))}</time>` : `<span class="muted">–</span>`);

/** A document as the API gives it: whole (`value`), or its first bytes (`preview`) when over the bound. */
function documentText(doc, indent) {
  return doc.truncated ? `${doc.preview}…` : JSON.stringify(doc.value, null, indent);
}

function documentHtml(title, doc, attribute) {
  if (!doc) return `<h3>${esc(title)}</h3><p class="muted">none</p>`;
  const note = doc.truncated ? ` <span class="muted small">(cut: the first part shown)</span>` : "";
  return `<h3>${esc(title)} <span class="muted small">${bytes(doc.bytes)}</span>${note}</h3><pre class="payload" ${attribute}>${esc(documentText(doc, 2))}</pre>`;
}

function eventsHtml(kind, events) {
  const shown = events && Array.isArray(events.shown) ? events.shown : [];
  if (shown.length === 0) return "";
  const more = events.count > shown.length ? `<li class="muted">${esc(events.count - shown.length)} more not shown</li>` : "";
  return shown.map((e) => `<li data-job-event="${esc(kind)}">${when(e.at)} <span class="pill">${esc(kind)}</span> <span class="mono small">${esc(documentText(e))}</span></li>`).join("") + more;
}

function jobHtml(endpointId, job) {
  const attempts = Array.isArray(job.attempts) ? job.attempts : [];
  const logs = job.logs && Array.isArray(job.logs.lines) ? job.logs.lines : [];
  const events = eventsHtml("progress", job.progress) + eventsHtml("stream", job.stream);
  return `
    <section class="panel job" data-job-id="${esc(job.id)}" data-job-status="${esc(job.status)}">
      <h2>Job <span class="mono">${esc(job.id)}</span> <span class="job-status js-${esc(String(job.status).toLowerCase())}">${esc(job.status)}</span></h2>
      <dl class="facts">
        <div><dt>created</dt><dd>${when(job.createdAt)}</dd></div>
        <div><dt>started</dt><dd>${when(job.startedAt)}</dd></div>
        <div><dt>finished</dt><dd>${when(job.finishedAt)}</dd></div>
        <div><dt>delay</dt><dd>${esc(millis(job.delayMs))}</dd></div>
        <div><dt>execution</dt><dd>${esc(millis(job.executionMs))}</dd></div>
        <div><dt>retries</dt><dd>${esc(job.retries)}</dd></div>
      </dl>
      ${job.error ? errorHtml(job.error) : ""}
      <h3>Attempts</h3>
      ${attempts.length === 0 ? `<p class="muted">not taken by a worker yet</p>` : `
      <div class="table-wrap"><table class="workers attempts">
        <thead><tr><th>#</th><th>Worker</th><th>Taken</th><th>Ended</th><th class="num">Took</th><th>How it ended</th></tr></thead>
        <tbody>${attempts.map((a) => `
          <tr data-attempt="${esc(a.number)}" data-attempt-worker="${esc(a.workerId)}" data-attempt-outcome="${esc(a.outcome)}">
            <td>${esc(a.number)}</td><td class="mono">${workerIdHtml(endpointId, a.workerId)}</td><td>${when(a.takenAt)}</td><td>${when(a.endedAt)}</td>
            <td class="num">${esc(millis(a.durationMs))}</td>
            <td><span class="job-status js-${esc(String(a.outcome).toLowerCase())}">${esc(a.outcome)}</span>${a.reason ? ` <span class="reason">${esc(a.reason)}</span>` : ""}</td>
          </tr>`).join("")}</tbody>
      </table></div>`}
      <h3>Progress and stream <span class="muted small">${esc((job.progress || {}).count || 0)} updates, ${esc((job.stream || {}).count || 0)} chunks</span></h3>
      ${events ? `<ol class="job-events">${events}</ol>` : `<p class="muted">none</p>`}
      ${documentHtml("Input", job.input, "data-job-input")}
      ${documentHtml("Output", job.output, "data-job-output")}
      <h3>Worker log during the job</h3>
      ${logs.length > 0 ? `<div class="log-lines mono" data-job-logs>${logs.map((l) => `<div class="log-line${l.stream === "stderr" ? " log-stderr" : ""}" data-stream="${esc(l.stream)}">${when(l.time)} <span class="log-worker">${workerIdHtml(endpointId, l.workerId)}</span> <span class="log-stream">${l.stream === "stderr" ? "ERR" : "out"}</span> <span class="log-text">${esc(l.line)}</span></div>`).join("")}</div>`
        : `<p class="muted">${job.logs && job.logs.collected === false ? "kept by the control plane that runs the workers; open this page there" : "no lines"}</p>`}
    </section>`;
}

function errorHtml(error) {
  const message = [error.type, error.message].filter(Boolean).join(": ");
  const traceback = error.traceback ? `<pre class="traceback" data-traceback>${esc(error.traceback)}</pre>` : "";
  return `<div class="job-error" role="alert"><h3>Error</h3><p data-job-error>${esc(message)}</p>${traceback}</div>`;
}
