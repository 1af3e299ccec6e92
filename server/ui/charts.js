// An endpoint's last hour as charts (uPlot, loaded by index.html as the global `uPlot`): queue depth, workers by
// state, delay and execution time (p50 and p95 of the jobs that ended in each interval), with the scale and
// rollout events marked as vertical lines and listed in words below.
import { clock, esc, millis } from "./format.js";
import { STATES } from "./workers.js";

const HEIGHT = 150;
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";

/** Each chart: what it shows, and its series from a sample. */
const CHARTS = [
  {
    name: "queue",
    title: "Queue",
    series: [
      { label: "queued", color: "--queued", value: (s) => s.queued },
      { label: "in progress", color: "--progress", value: (s) => s.inProgress },
    ],
  },
  {
    name: "workers",
    title: "Workers by state",
    series: STATES.map((state) => ({ label: state, color: `--st-${state.toLowerCase()}`, value: (s) => (s.workers && s.workers[state]) || 0 })),
  },
  {
    name: "delay",
    title: "Delay (queued to taken)",
    unit: "ms",
    series: [
      { label: "p50", color: "--progress", value: (s) => (s.delayMs ? s.delayMs.p50 : null) },
      { label: "p95", color: "--queued", value: (s) => (s.delayMs ? s.delayMs.p95 : null) },
    ],
  },
  {
    name: "execution",
    title: "Execution time",
    unit: "ms",
    series: [
      { label: "p50", color: "--progress", value: (s) => (s.executionMs ? s.executionMs.p50 : null) },
      { label: "p95", color: "--queued", value: (s) => (s.executionMs ? s.executionMs.p95 : null) },
    ],
  },
];

/** Draws each event as a dashed vertical line: rollouts in the outdated colour, scale events in the muted one. */
function eventMarkers(events) {
  return {
    hooks: {
      draw: (u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
        for (const event of events()) {
          const x = Math.round(u.valToPos(event.t / 1000, "x", true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.strokeStyle = event.kind === "rollout" ? css("--st-outdated") : css("--muted");
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      },
    },
  };
}

/**
 * The latest values in words, what a screen reader (or a reader without the colours) gets: counts now; durations
 * of the latest interval in which jobs ended.
 */
function latestText(chart, samples) {
  if (samples.length === 0) return "no samples yet";
  if (chart.unit) {
    const last = samples.slice().reverse().find((s) => chart.series[0].value(s) !== null);
    if (!last) return "no job ended in this window";
    return `latest: ${chart.series.map((s) => `${s.label} ${millis(s.value(last))}`).join(", ")} at ${clock(new Date(last.t).toISOString())}`;
  }
  const now = samples[samples.length - 1];
  const values = chart.series.map((s) => [s.label, s.value(now)]).filter(([, v]) => chart.name !== "workers" || v > 0);
  return `now: ${values.map(([label, v]) => `${label} ${v}`).join(", ") || "none"}`;
}

export class EndpointCharts {
  constructor(container) {
    this.container = container;
    this.events = [];
    this.plots = [];
    this.container.innerHTML = `
      <div class="charts">${CHARTS.map((c) => `
        <figure class="chart-fig" data-chart="${c.name}">
          <figcaption>${esc(c.title)}${c.unit ? ` <span class="muted small">(${esc(c.unit)})</span>` : ""} <span class="muted small" data-latest></span></figcaption>
          <div class="chart-plot" role="img" aria-label="${esc(c.title)} over the last hour"></div>
        </figure>`).join("")}
      </div>
      <h3 class="events-title">Scale events and rollouts <span class="muted small">(dashed lines on the charts)</span></h3>
      <ol class="events" data-events></ol>`;
    this.resize = () => this.plots.forEach((p) => p.plot.setSize(this.size(p.figure)));
    window.addEventListener("resize", this.resize);
  }

  size(figure) {
    return { width: Math.max(240, figure.querySelector(".chart-plot").clientWidth || figure.clientWidth || 300), height: HEIGHT };
  }

  /** Redraws from GET /admin/endpoints/{id}/history. */
  update(history) {
    const samples = Array.isArray(history.samples) ? history.samples : [];
    this.events = Array.isArray(history.events) ? history.events : [];
    const xs = samples.map((s) => s.t / 1000);
    CHARTS.forEach((chart, i) => {
      const data = [xs, ...chart.series.map((series) => samples.map(series.value))];
      const figure = this.container.querySelector(`[data-chart="${chart.name}"]`);
      if (!this.plots[i]) {
        const plot = new uPlot(
          {
            ...this.size(figure),
            legend: { live: false },
            cursor: { drag: { x: false, y: false } },
            scales: { x: { time: true } },
            axes: [{ stroke: css("--muted"), grid: { stroke: css("--line") } }, { stroke: css("--muted"), grid: { stroke: css("--line") }, size: 56 }],
            series: [{}, ...chart.series.map((s) => ({ label: s.label, stroke: css(s.color), width: 2, points: { show: true, size: 4 }, spanGaps: false }))],
            plugins: [eventMarkers(() => this.events)],
          },
          data,
          figure.querySelector(".chart-plot"),
        );
        this.plots[i] = { plot, figure };
        // For readers of the page's state (tests, devtools): the chart's own data.
        figure.querySelector(".chart-plot").uplot = plot;
      } else {
        this.plots[i].plot.setData(data);
      }
      figure.querySelector("[data-latest]").textContent = latestText(chart, samples);
    });
    const list = this.container.querySelector("[data-events]");
    list.innerHTML = this.events.length > 0
      ? this.events.slice().reverse().map((e) => `<li data-event-kind="${esc(e.kind)}"><span class="mono small">${esc(clock(new Date(e.t).toISOString()))}</span> ${esc(e.text)}</li>`).join("")
      : `<li class="muted">none in the last hour</li>`;
  }

  destroy() {
    window.removeEventListener("resize", this.resize);
    this.plots.forEach((p) => p.plot.destroy());
    this.plots = [];
  }
}
