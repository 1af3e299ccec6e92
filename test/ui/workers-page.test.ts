// The Workers page (server/ui) in real headless Chromium (Debian's, driven by playwright-core) against a real
// control plane running its workers as containers on the test bed's Docker engine: the key form and the 401
// behind it, the workers the admin API reports, states and job histories changing live as jobs arrive and
// finish (with no reload), and a screenshot that shows something.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import axios from "axios";
import type { Browser, Page } from "playwright-core";
import { PNG } from "pngjs";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { launchChromium } from "../helpers/browser";

const ENDPOINT_NAME = `ui <b class="injected">bold</b> & "quotes" ${Date.now()}`;
/** How long a control plane may take to exit on SIGTERM; it takes about 2 s with nothing open. */
const STOP_LIMIT_MS = 20_000;

/** One worker row as the page shows it, read from the DOM in one go so its fields belong to the same update. */
interface RowView {
  id: string;
  type: string;
  state: string;
  reason: string;
  text: string;
  cpu: string;
  /** The CPU cell as the reader sees it. */
  cpuText: string;
  memory: string;
  currentJobs: string[];
  recentJobs: Array<{ id: string; status: string; delayMs: number | undefined; executionMs: number | undefined }>;
}

interface SectionView {
  queued: number;
  inProgress: number;
  text: string;
  rows: RowView[];
}

/** The subset of GET /admin/overview's contract this test reads. */
interface OverviewWorker {
  id: string;
  type: string;
  state: string;
  revision: number;
  gpus: { ids: string[]; typeId?: string; simulated: boolean };
  resources: { cpuPercent?: number; memoryBytes?: number; memoryLimitBytes?: number };
  recentJobs: Array<{ id: string; status: string; delayMs?: number; executionMs?: number }>;
}
interface OverviewEndpoint {
  id: string;
  name: string;
  revision: number;
  workers: OverviewWorker[];
}

/** What the one computed-style call needs from the browser's globals; the project's lib is ES only, no DOM. */
interface BrowserGlobals {
  getComputedStyle(element: unknown): { backgroundColor: string };
}

/**
 * Reads one endpoint's section in the page, as browser JavaScript source: a function written in this file would
 * be rewritten by the TypeScript loader (helpers such as __name that the page does not have).
 */
const READ_SECTION = `(selector) => {
  const section = document.querySelector(selector);
  if (!section) return undefined;
  const attr = (e, name) => (e ? e.getAttribute(name) ?? "" : "");
  const num = (value) => (value === null || value === "" ? undefined : Number(value));
  return {
    queued: Number(attr(section.querySelector("[data-queued]"), "data-queued")),
    inProgress: Number(attr(section.querySelector("[data-in-progress]"), "data-in-progress")),
    text: section.textContent,
    rows: Array.from(section.querySelectorAll("tr[data-worker-id]"), (tr) => ({
      id: attr(tr, "data-worker-id"),
      type: attr(tr, "data-worker-type"),
      state: attr(tr.querySelector("[data-state]"), "data-state"),
      reason: tr.querySelector("[data-reason]")?.textContent ?? "",
      text: tr.textContent,
      cpu: attr(tr.querySelector("[data-cpu]"), "data-cpu"),
      cpuText: tr.querySelector("[data-cpu]")?.textContent ?? "",
      memory: attr(tr.querySelector("[data-memory]"), "data-memory"),
      currentJobs: Array.from(tr.querySelectorAll("[data-current-job]"), (e) => attr(e, "data-current-job")),
      recentJobs: Array.from(tr.querySelectorAll("[data-job-id]"), (e) => ({
        id: attr(e, "data-job-id"),
        status: attr(e, "data-job-status"),
        delayMs: num(e.getAttribute("data-delay-ms")),
        executionMs: num(e.getAttribute("data-execution-ms")),
      })),
    })),
  };
}`;

describe("the Workers page in headless Chromium", () => {
  let runtime: DockerRuntime;
  let browser: Browser;
  let page: Page;
  let endpointId: string;
  const pageErrors: string[] = [];
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-ui-test-"));

  before(async () => {
    // Samples every second, so the charts have points to compare with the API's within the test.
    runtime = await DockerRuntime.start({ BERTH_QUEUE_SAMPLE_MS: "1000" });
    // REQUEST_COUNT with scalerValue 1: two jobs want two workers, so a flex worker joins the active one, and
    // leaves again after idleTimeout; the page has rows appear, change state and go.
    // Markup in the name: the page must show it as text.
    ({ id: endpointId } = await runtime.createEndpoint({ name: ENDPOINT_NAME, workersMin: 1, workersMax: 2, idleTimeout: 5, scalerType: "REQUEST_COUNT", scalerValue: 1 }));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(60_000);
    page.on("pageerror", (err) => pageErrors.push(String(err)));
  });
  after(async () => {
    await browser?.close();
    await runtime?.close();
  });

  const section = () => page.locator(`section[data-endpoint-id="${endpointId}"]`);

  /** What the endpoint's section shows now. */
  async function shown(): Promise<SectionView | undefined> {
    return page.evaluate(`(${READ_SECTION})(${JSON.stringify(`section[data-endpoint-id="${endpointId}"]`)})`);
  }

  /** Polls the page until `accept` finds what it waits for in the endpoint's section. */
  function onPage<T>(what: string, accept: (view: SectionView) => T | undefined, timeoutMs = 60_000): Promise<T> {
    return eventually(`the page to show ${what}`, async () => {
      const view = await shown();
      return view ? accept(view) : undefined;
    }, timeoutMs);
  }

  async function overviewEndpoint(): Promise<OverviewEndpoint> {
    const res = await runtime.api.get("/admin/overview");
    assert.equal(res.status, 200, JSON.stringify(res.data));
    const endpoint = (res.data.endpoints as OverviewEndpoint[]).find((e) => e.id === endpointId);
    assert.ok(endpoint, `GET /admin/overview lists endpoint ${endpointId}`);
    return endpoint;
  }

  test("without a key the data is refused with 401 and the page shows the key form", async () => {
    const anonymous = axios.create({ baseURL: runtime.cp.url, validateStatus: () => true });
    for (const url of ["/admin/overview", "/admin/events"]) {
      for (const headers of [{}, { Authorization: "Bearer not-the-key" }]) {
        const res = await anonymous.get(url, { headers });
        assert.equal(res.status, 401, `${url} with ${JSON.stringify(headers)}`);
        assert.equal(res.data.error, "unauthorized", JSON.stringify(res.data));
      }
    }

    // The page's files hold no data, so they are served without a key.
    const redirect = await anonymous.get("/ui", { maxRedirects: 0 });
    assert.ok([301, 302, 303, 307, 308].includes(redirect.status), `GET /ui: HTTP ${redirect.status}`);
    assert.equal(new URL(redirect.headers.location, `${runtime.cp.url}/ui`).pathname, "/ui/");
    for (const [file, type] of [["/ui/", /^text\/html/], ["/ui/app.js", /^text\/javascript/], ["/ui/style.css", /^text\/css/]] as const) {
      const res = await anonymous.get(file, { responseType: "text" });
      assert.equal(res.status, 200, file);
      assert.match(String(res.headers["content-type"]), type, file);
      assert.equal(res.headers["cache-control"], "no-cache", file);
    }

    await page.goto(`${runtime.cp.url}/ui`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    await page.locator("#key-form").waitFor({ state: "visible" });
    assert.equal(await page.locator("[data-endpoint-id]").count(), 0, "no data without a key");
    assert.equal(await page.locator("#conn").getAttribute("data-conn"), "idle");

    // A wrong key: the page's own data call is refused, and it says so on the form.
    await page.fill("#key-input", "not-the-key");
    const [refused] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/admin/overview"),
      page.click("#key-form button[type=submit]"),
    ]);
    assert.equal(refused.status(), 401);
    await page.locator("#login-error").waitFor({ state: "visible" });
    assert.match(await page.locator("#login-error").innerText(), /not accepted/);
    assert.ok(await page.locator("#key-form").isVisible(), "the form stays");
    assert.equal(await page.locator("[data-endpoint-id]").count(), 0);
    assert.equal(await page.evaluate("sessionStorage.getItem('berth.apiKey')"), null, "a refused key is not kept");

    // An application's run key is a key of this control plane, but not one that may read the workers view.
    const runKey = (await runtime.api.post("/admin/keys", { name: "app", scope: "run", endpointIds: [endpointId] })).data.key as string;
    await page.fill("#key-input", runKey);
    const [forbidden] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/admin/overview"),
      page.click("#key-form button[type=submit]"),
    ]);
    assert.equal(forbidden.status(), 403);
    await page.locator("#login-error").getByText(/may not read the workers view: it needs a read or admin key/).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('berth.apiKey')"), null, "a forbidden key is not kept");
  });

  test("with the dashboard's read key, the page lists the endpoint and its workers with the states the admin API reports", async () => {
    const readKey = (await runtime.api.post("/admin/keys", { name: "dashboard", scope: "read" })).data.key as string;
    await page.fill("#key-input", readKey);
    await page.click("#key-form button[type=submit]");
    // The endpoints page first: the endpoint's row, a link to its workers view, followed from the keyboard.
    const link = page.locator(`[data-endpoint-row="${endpointId}"] a[href="#/endpoints/${endpointId}"]`);
    await link.waitFor();
    await link.focus();
    await page.keyboard.press("Enter");
    await section().waitFor();
    assert.equal(new URL(page.url()).hash, `#/endpoints/${endpointId}`);
    await page.locator('#conn[data-conn="live"]').waitFor();
    assert.ok(await page.locator("#key-form").isHidden(), "the form goes once the key is accepted");
    assert.ok(await page.locator("#forget").isVisible(), "a way to forget the key");
    assert.equal(await page.evaluate("sessionStorage.getItem('berth.apiKey')"), readKey);

    const worker = await runtime.until("the active worker to be Idle", endpointId, (w) =>
      w.workers.length === 1 && w.workers[0]!.state === "Idle" ? w.workers[0] : undefined,
    );
    await section().locator(`tr[data-worker-id="${worker.id}"] td[data-state="Idle"]`).waitFor();

    // Page and API agree on the whole list, id by id. Idle is a steady state, so both views hold still.
    const api = await overviewEndpoint();
    const view = await onPage("the workers the API reports", (v) =>
      JSON.stringify(v.rows.map((r) => [r.id, r.state, r.type])) === JSON.stringify(api.workers.map((w) => [w.id, w.state, w.type])) ? v : undefined,
    );
    assert.deepEqual(view.rows.map((r) => r.id), [worker.id]);
    const row = view.rows[0]!;
    assert.equal(row.type, "active");
    assert.equal(api.name, ENDPOINT_NAME);
    assert.ok(view.text.includes(ENDPOINT_NAME), "the endpoint's name, markup shown as text");
    assert.equal(await section().locator(".injected").count(), 0, "no element made from the name");
    assert.ok(view.text.includes(endpointId), "the endpoint's id");
    const apiWorker = api.workers[0]!;
    assert.ok(row.text.includes(`r${apiWorker.revision}`), `revision r${apiWorker.revision} in ${row.text}`);
    assert.ok(apiWorker.gpus.simulated && apiWorker.gpus.ids.length === 1, JSON.stringify(apiWorker.gpus));
    assert.ok(row.text.includes(apiWorker.gpus.ids[0]!), `the GPU id ${apiWorker.gpus.ids[0]} in ${row.text}`);
    assert.match(row.text, /simulated/, "a simulated GPU is shown as such");
    assert.match(row.text, /\d+s/, "an uptime");
    for (const chart of ["queue", "workers", "delay", "execution"]) {
      assert.equal(await page.locator(`[data-chart="${chart}"] canvas`).count(), 1, `the ${chart} chart is drawn`);
    }

    // CPU is a rate, so it comes with the sampler's second reading of the container (every 5 s). The page shows
    // the figures the admin API reports for the worker: polled until both show the same sample (the page's stream
    // follows the API within a second, the sampler moves every 5 s).
    const { row: used, resources } = await eventually("the page to show the worker's CPU and memory use as the admin API reports them", async () => {
      const reported = (await overviewEndpoint()).workers.find((w) => w.id === worker.id)?.resources;
      const r = (await shown())?.rows.find((x) => x.id === worker.id);
      if (!r || reported?.cpuPercent === undefined || reported.memoryBytes === undefined) return undefined;
      return r.cpu === String(reported.cpuPercent) && r.memory === String(reported.memoryBytes) ? { row: r, resources: reported } : undefined;
    }, 30_000);
    const cpu = resources.cpuPercent!;
    // A percentage of one core, rounded to a tenth: at most 100 for each of the engine's CPUs. The engine's
    // /info has NCPU besides what DockerEngine.info() declares.
    const { NCPU } = (await runtime.engine.info()) as unknown as { NCPU: number };
    assert.ok(Number.isFinite(cpu) && cpu >= 0 && cpu <= 100 * NCPU, `cpu ${cpu}% with ${NCPU} CPUs`);
    assert.match(used.cpu, /^\d+(\.\d)?$/, "CPU to a tenth of a percent");
    assert.equal(used.cpuText, `${cpu.toFixed(cpu < 10 ? 1 : 0)}%`, "CPU as a percentage, a tenth below 10 %");
    const memory = resources.memoryBytes!;
    assert.ok(memory > 0 && (resources.memoryLimitBytes === undefined || memory <= resources.memoryLimitBytes), JSON.stringify(resources));
    assert.match(used.text, /\d+(\.\d)? (KiB|MiB|GiB)/, "memory in binary units");
  });

  test("states change on the page as jobs arrive and finish, without a reload", async () => {
    const marker = `loaded-once-${Date.now()}`;
    await page.evaluate((m) => ((globalThis as unknown as Record<string, string>).__berthTestMarker = m), marker);
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => frame === page.mainFrame() && navigations.push(frame.url()));

    const jobs = await Promise.all([1, 2].map((n) => runtime.submit(endpointId, { sleepMs: 3000, n })));
    const [running, flex] = await Promise.all([
      onPage("a worker Running one of the jobs, counted in progress", (v) => {
        const row = v.rows.find((r) => r.state === "Running" && r.currentJobs.some((j) => jobs.includes(j)));
        return row && v.inProgress >= 1 ? { workerId: row.id, jobId: row.currentJobs.find((j) => jobs.includes(j))! } : undefined;
      }),
      onPage("a flex worker joining", (v) => v.rows.find((r) => r.type === "flex")),
    ]);

    const ended = await Promise.all(jobs.map((id) => runtime.ended(endpointId, id)));
    for (const job of ended) assert.equal(job.status, "COMPLETED", JSON.stringify(job));
    const ranOn = new Map(ended.map((job) => [job.id, String(job.output.workerId)]));
    assert.equal(ranOn.get(running.jobId), running.workerId, "the page showed the job on the worker that ran it");

    // Each job turns up, completed, in the recent jobs of the worker that ran it, with the API's timings.
    for (const [jobId, workerId] of ranOn) {
      const shownJob = await onPage(`job ${jobId} completed in the recent jobs of ${workerId}`, (v) =>
        v.rows.find((r) => r.id === workerId)?.recentJobs.find((j) => j.id === jobId && j.status === "COMPLETED"),
      );
      assert.ok(shownJob.executionMs !== undefined && shownJob.executionMs >= 3000, `execution time of a 3 s job: ${JSON.stringify(shownJob)}`);
      assert.ok(shownJob.delayMs !== undefined && shownJob.delayMs >= 0, `delay time: ${JSON.stringify(shownJob)}`);
    }

    // The worker seen Running is Idle again, with nothing current; the flex worker leaves after idleTimeout.
    await onPage(`${running.workerId} Idle again`, (v) => {
      const row = v.rows.find((r) => r.id === running.workerId);
      return row?.state === "Idle" && row.currentJobs.length === 0 && v.inProgress === 0 ? row : undefined;
    });
    await runtime.until("the flex worker to be gone", endpointId, (w) => (w.workers.some((x) => x.id === flex.id) ? undefined : true));
    const left = await onPage("the flex worker gone", (v) => (v.rows.some((r) => r.id === flex.id) ? undefined : v));
    assert.deepEqual(left.rows.map((r) => r.type), ["active"]);

    assert.deepEqual(navigations, [], "the page never navigated");
    assert.equal(await page.evaluate("globalThis.__berthTestMarker"), marker, "the page never reloaded");
    assert.deepEqual(pageErrors, [], "no script errors on the page");
  });

  test("the charts draw the points the history API reports, and mark the scale events", async () => {
    interface Sample { t: number; queued: number; inProgress: number; workers: Record<string, number>; executionMs: { p50: number; p95: number } | null }
    const history = async () => (await runtime.api.get(`/admin/endpoints/${endpointId}/history`)).data as { samples: Sample[]; events: Array<{ kind: string; text: string }> };
    // The jobs of the test before made a flex worker join and leave: a scale event each way.
    const api = await eventually("a scale event in the endpoint's history", async () => {
      const h = await history();
      return h.events.some((e) => e.kind === "scale") && h.samples.some((x) => x.executionMs !== null) ? h : undefined;
    });
    const chartData = (name: string) => page.evaluate(`Array.from(document.querySelector('[data-chart="${name}"] .chart-plot').uplot.data, (s) => Array.from(s))`) as Promise<number[][]>;
    // The page reads the history every sample interval: wait until it has drawn the samples read above.
    const last = api.samples[api.samples.length - 1]!.t / 1000;
    await eventually("the page to draw the latest samples", async () => ((await chartData("queue"))[0]!.includes(last) ? true : undefined));
    const byTime = new Map(api.samples.map((x) => [x.t / 1000, x]));
    const [xs, queued, inProgress] = await chartData("queue");
    const [, ...workerSeries] = await chartData("workers");
    const [, p50, p95] = await chartData("execution");
    let compared = 0;
    xs!.forEach((x, i) => {
      const sample = byTime.get(x);
      if (!sample) return;
      compared++;
      assert.equal(queued![i], sample.queued, `queued at ${x}`);
      assert.equal(inProgress![i], sample.inProgress, `in progress at ${x}`);
      const drawnWorkers = workerSeries.reduce((sum, series) => sum + (series[i] ?? 0), 0);
      assert.equal(drawnWorkers, Object.values(sample.workers).reduce((sum, n) => sum + n, 0), `workers at ${x}`);
      assert.equal(p50![i], sample.executionMs?.p50 ?? null, `execution p50 at ${x}`);
      assert.equal(p95![i], sample.executionMs?.p95 ?? null, `execution p95 at ${x}`);
    });
    assert.ok(compared >= 10, `only ${compared} points compared`);
    assert.ok(Math.max(...workerSeries.map((series) => Math.max(...series))) >= 1, "workers drawn");
    await page.locator('[data-events] [data-event-kind="scale"]').first().waitFor();
    assert.match(await page.locator('[data-events] [data-event-kind="scale"]').first().innerText(), /\d+ → \d+ workers/);
  });

  test("a screenshot of the page is not blank", async (t) => {
    // Taken while a job runs, so it shows a Running worker, its current job and the counts.
    const jobId = await runtime.submit(endpointId, { sleepMs: 3000, screenshot: true });
    await onPage(`job ${jobId} running`, (v) => v.rows.find((r) => r.state === "Running" && r.currentJobs.includes(jobId)));
    // The Running badge's colour as the page styles it, read just before the picture, is looked for in it below.
    const badge = await section().locator(".badge.st-running").first().evaluate((e) => (globalThis as unknown as BrowserGlobals).getComputedStyle(e).backgroundColor);
    const file = path.join(outDir, "workers-page.png");
    const png = await page.screenshot({ path: file, fullPage: true });
    const image = PNG.sync.read(png);
    const total = image.width * image.height;
    const counts = new Map<number, number>();
    for (let i = 0; i < image.data.length; i += 4) {
      const rgb = (image.data[i]! << 16) | (image.data[i + 1]! << 8) | image.data[i + 2]!;
      counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
    }
    const background = Math.max(...counts.values());
    t.diagnostic(`screenshot: ${file} (${image.width} x ${image.height}, ${counts.size} colours, ${((1 - background / total) * 100).toFixed(1)}% not background)`);
    assert.ok(image.width >= 1000 && image.height >= 400, `${image.width} x ${image.height}`);
    assert.ok(counts.size >= 64, `only ${counts.size} distinct colours: text and badges would make many more`);
    assert.ok(1 - background / total >= 0.05, `${((1 - background / total) * 100).toFixed(1)}% of pixels differ from the background`);

    // The badge is in the picture: the workers table was drawn, not just the page's frame.
    const [r, g, b] = (badge.match(/\d+/g) ?? []).map(Number);
    const badgePixels = counts.get(((r ?? 0) << 16) | ((g ?? 0) << 8) | (b ?? 0)) ?? 0;
    assert.ok(badgePixels >= 100, `${badgePixels} pixels of the state badge's colour ${badge}`);

    assert.equal((await runtime.ended(endpointId, jobId)).status, "COMPLETED");
    await onPage("the workers Idle again", (v) => (v.rows.length > 0 && v.rows.every((r) => r.state === "Idle") ? v : undefined));
  });

  test("while the control plane is away the page says it is reconnecting, then goes live again by itself", { timeout: 120_000 }, async () => {
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => frame === page.mainFrame() && navigations.push(frame.url()));
    const before = await shown();
    assert.ok(before && before.rows.length === 1, "one worker before the restart");

    // A tab left open on the page must not keep the control plane from stopping (on SIGTERM, as Docker stops it).
    let timer: NodeJS.Timeout | undefined;
    const exited = runtime.cp.stop();
    const stopped = await Promise.race([
      exited,
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running"), STOP_LIMIT_MS))),
    ]).finally(() => clearTimeout(timer));
    if (stopped !== 0) {
      // Fail, but leave the suite a control plane: leaving the page closes its stream, which lets this one exit.
      await page.goto("about:blank");
      const code = await exited;
      runtime.cp = await runtime.cp.restart();
      await page.goto(`${runtime.cp.url}/ui/`);
      assert.fail(`the control plane was ${stopped} ${STOP_LIMIT_MS / 1000} s after SIGTERM while the page held /admin/events open; it exited (${code}) only once the page let go`);
    }
    await page.locator('#conn[data-conn="reconnecting"]').waitFor();
    assert.match(await page.locator("#conn").innerText(), /reconnect/);

    // Same port, data and key; the workers outlived it and are adopted.
    runtime.cp = await runtime.cp.restart();
    await page.locator('#conn[data-conn="live"]').waitFor();
    await onPage("the same worker, Idle, after the restart", (v) => (v.rows.length === 1 && v.rows[0]!.id === before.rows[0]!.id && v.rows[0]!.state === "Idle" ? v : undefined));
    assert.deepEqual(navigations, [], "reconnected without a reload");
    assert.match(String(await page.evaluate("globalThis.__berthTestMarker")), /^loaded-once-/, "the page never reloaded");
  });

  test("forget key: the page drops the key and its data and asks again", async () => {
    await page.click("#forget");
    await page.locator("#key-form").waitFor({ state: "visible" });
    assert.equal(await page.locator("[data-endpoint-id]").count(), 0, "the data goes with the key");
    assert.equal(await page.evaluate("sessionStorage.getItem('berth.apiKey')"), null);
    assert.equal(await page.locator("#conn").getAttribute("data-conn"), "idle");
    // A reload still asks: the key is gone from the tab's storage, not only from the page.
    await page.reload();
    await page.locator("#key-form").waitFor({ state: "visible" });
    assert.equal(await page.locator("[data-endpoint-id]").count(), 0);
    assert.deepEqual(pageErrors, [], "no script errors on the page");
  });
});
