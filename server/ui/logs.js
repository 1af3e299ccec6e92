// An endpoint's worker logs (GET /admin/endpoints/{id}/logs, newline-delimited JSON): the last lines of one worker
// or all of them, then followed as they come. stderr lines are marked in words as well as in colour.
import { authHeaders, describe, errorMessage, esc, preciseClock, workerIdHtml } from "./format.js";

const TAIL = 200;
/** Lines kept on the page: a chatty worker must not grow it without end. */
const KEPT = 2_000;

export class LogsPane {
  constructor(container, key, endpointId) {
    this.key = key;
    this.endpointId = endpointId;
    this.known = new Set();
    this.stream = null;
    container.innerHTML = `
      <form class="log-controls" data-log-controls>
        <label>Worker <select data-log-worker><option value="">all workers</option></select></label>
        <label><input type="checkbox" data-log-follow checked> follow</label>
        <button type="submit">Show</button>
        <span class="muted small" data-log-status role="status"></span>
      </form>
      <div class="log-lines mono" data-log-lines tabindex="0" aria-label="log lines"></div>`;
    this.select = container.querySelector("[data-log-worker]");
    this.followBox = container.querySelector("[data-log-follow]");
    this.lines = container.querySelector("[data-log-lines]");
    this.status = container.querySelector("[data-log-status]");
    container.querySelector("[data-log-controls]").addEventListener("submit", (event) => {
      event.preventDefault();
      this.open();
    });
    this.select.addEventListener("change", () => this.open());
    this.followBox.addEventListener("change", () => this.open());
    this.open();
  }

  /** The endpoint's workers now; a worker that stopped stays in the list, since its logs are still there. */
  workers(ids) {
    for (const id of ids) this.addWorker(id);
  }

  addWorker(id) {
    if (!id || this.known.has(id)) return;
    this.known.add(id);
    const option = document.createElement("option");
    option.value = id;
    option.textContent = id;
    this.select.append(option);
  }

  /** (Re)opens the stream for the chosen worker: the last lines, then new ones while follow is on. */
  async open() {
    if (this.stream) this.stream.abort();
    const stream = new AbortController();
    this.stream = stream;
    this.lines.innerHTML = "";
    const query = new URLSearchParams({ tail: String(TAIL), follow: String(this.followBox.checked) });
    if (this.select.value) query.set("worker", this.select.value);
    this.setStatus(this.followBox.checked ? "following…" : "loading…");
    try {
      const res = await fetch(`../admin/endpoints/${encodeURIComponent(this.endpointId)}/logs?${query}`, {
        headers: authHeaders(this.key),
        cache: "no-store",
        signal: stream.signal,
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await errorMessage(res)}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const complete = buffer.split("\n");
        buffer = complete.pop();
        this.append(complete.filter((line) => line.trim() !== "").map((line) => JSON.parse(line)));
      }
      if (this.stream === stream) this.setStatus(this.followBox.checked ? "the stream ended: the worker stopped" : `${this.lines.childElementCount} lines`);
    } catch (err) {
      if (stream.signal.aborted) return;
      this.setStatus(`could not read the logs: ${describe(err)}`, true);
    }
  }

  append(entries) {
    if (entries.length === 0) return;
    const atBottom = this.lines.scrollTop + this.lines.clientHeight >= this.lines.scrollHeight - 4;
    const html = entries
      .map((entry) => {
        this.addWorker(entry.workerId);
        const stderr = entry.stream === "stderr";
        return `<div class="log-line${stderr ? " log-stderr" : ""}" data-worker="${esc(entry.workerId)}" data-stream="${esc(entry.stream)}" data-time="${esc(entry.time)}"><time datetime="${esc(entry.time)}">${esc(preciseClock(entry.time))}</time> <span class="log-worker">${workerIdHtml(this.endpointId, entry.workerId)}</span> <span class="log-stream">${stderr ? "ERR" : "out"}</span> <span class="log-text">${esc(entry.line)}</span></div>`;
      })
      .join("");
    this.lines.insertAdjacentHTML("beforeend", html);
    while (this.lines.childElementCount > KEPT) this.lines.firstElementChild.remove();
    if (atBottom) this.lines.scrollTop = this.lines.scrollHeight;
    if (this.followBox.checked) this.setStatus(`following: ${this.lines.childElementCount} lines`);
  }

  setStatus(text, error) {
    this.status.textContent = text;
    this.status.classList.toggle("error", Boolean(error));
  }

  destroy() {
    if (this.stream) this.stream.abort();
    this.stream = null;
  }
}
