// Formatting and small helpers the Workers page's modules share: every value a user or worker wrote goes through
// esc() before it becomes markup.

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function dash() {
  return `<span class="muted">–</span>`;
}

export function percent(value) {
  return `${esc(Number(value).toFixed(value < 10 ? 1 : 0))}%`;
}

export function bytes(value) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = Number(value);
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return esc(`${n.toFixed(n < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`);
}

export function millis(ms) {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "45s", "3m 12s", "2h 05m", "3d 4h". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function clock(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "?" : date.toLocaleTimeString([], { hour12: false });
}

/** A time to the millisecond, for log lines and job events. */
export function preciseClock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "?";
  return `${date.toLocaleTimeString([], { hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/** The endpoint prefix of a worker id is the endpoint's own id: dimmed, so the distinct part stands out. */
export function workerIdHtml(endpointId, id) {
  const prefix = `${endpointId}-`;
  return String(id).startsWith(prefix) ? `<span class="muted">${esc(prefix)}</span>${esc(String(id).slice(prefix.length))}` : esc(id);
}

/** A job's short id, linked to its page when the endpoint is known. */
export function jobIdHtml(id, endpointId, attribute) {
  const text = String(id);
  const short = text.startsWith("sync-") ? text.slice(0, 13) : text.slice(0, 8);
  const attrs = `class="mono job-id" title="${esc(text)}"${attribute ? ` ${attribute}="${esc(text)}"` : ""}`;
  return endpointId ? `<a ${attrs} href="${esc(jobHref(endpointId, text))}">${esc(short)}</a>` : `<span ${attrs}>${esc(short)}</span>`;
}

export const endpointHref = (endpointId) => `#/endpoints/${encodeURIComponent(endpointId)}`;
export const jobHref = (endpointId, jobId) => `#/endpoints/${encodeURIComponent(endpointId)}/jobs/${encodeURIComponent(jobId)}`;

export function authHeaders(key) {
  return { Authorization: `Bearer ${key}` };
}

/** The API's own words for a refusal: its JSON `message`. */
export async function errorMessage(res) {
  try {
    const body = await res.json();
    return body.message || body.error || res.statusText;
  } catch {
    return res.statusText || "no details";
  }
}

export function describe(err) {
  return err && err.message ? err.message : String(err);
}

export function wait(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
