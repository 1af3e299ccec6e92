// The endpoints page: every endpoint at a glance (workers by state, queue, rollout, last error), each a link to
// its workers view.
import { endpointHref, esc } from "./format.js";
import { rolloutHtml, STATES } from "./workers.js";

export function endpointsHtml(endpoints) {
  if (endpoints.length === 0) return `<p class="message">No endpoints yet. Create one with the admin API or a Pulumi program.</p>`;
  const rows = endpoints.map((ep) => {
    const workers = Array.isArray(ep.workers) ? ep.workers : [];
    const byState = STATES.map((state) => [state, workers.filter((w) => w.state === state).length]).filter(([, n]) => n > 0);
    const states = byState.length > 0
      ? byState.map(([state, n]) => `<span class="badge st-${esc(state.toLowerCase())}" data-state-count="${esc(state)}">${esc(n)} ${esc(state)}</span>`).join(" ")
      : `<span class="muted">none</span>`;
    const queue = ep.queue || { queued: 0, inProgress: 0 };
    return `
      <tr data-endpoint-row="${esc(ep.id)}">
        <td><a href="${esc(endpointHref(ep.id))}" class="ep-link">${esc(ep.name)}</a><div class="mono muted small">${esc(ep.id)}</div></td>
        <td class="states">${states}</td>
        <td class="num" data-queued="${esc(queue.queued)}">${esc(queue.queued)}</td>
        <td class="num" data-in-progress="${esc(queue.inProgress)}">${esc(queue.inProgress)}</td>
        <td data-rollout="${esc((ep.rollout || {}).state)}">r${esc(ep.revision)} ${rolloutHtml(ep.rollout || {})}</td>
        <td class="last-error-cell" data-last-error="${esc(ep.lastError ? ep.lastError.message : "")}">${
          ep.lastError ? `${esc(ep.lastError.message)} <div class="muted small">${esc(ep.lastError.at)}</div>` : `<span class="muted">none</span>`
        }</td>
      </tr>`;
  });
  return `
    <section class="panel">
      <h2>Endpoints</h2>
      <div class="table-wrap">
        <table class="workers endpoints">
          <thead><tr><th>Endpoint</th><th>Workers by state</th><th class="num">Queued</th><th class="num">In progress</th><th>Rollout</th><th>Last error</th></tr></thead>
          <tbody>${rows.join("")}</tbody>
        </table>
      </div>
    </section>`;
}
