// What an operator opens when something is wrong, in real headless Chromium against a control plane running
// runpod-python workers in containers on the test bed's Docker engine: the endpoints page, a worker that prints and
// crashes shown in the logs pane, a failed job's page with the handler's traceback and both of its attempts, and
// clear messages for a job or endpoint that does not exist. Screenshots of each page are saved for the record.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { launchChromium } from "../helpers/browser";
import { ensurePythonWorkerImage } from "../helpers/worker-image";

describe("the operator's pages in headless Chromium, on runpod-python workers", () => {
  let runtime: DockerRuntime;
  let browser: Browser;
  let page: Page;
  let endpointId: string;
  let failedJobId: string;
  let crashedWorker: string;
  const pageErrors: string[] = [];
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), "berth-operator-pages-"));
  const screenshot = async (name: string) => {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };

  before(async () => {
    const image = await ensurePythonWorkerImage();
    // Two attempts: a job whose first worker dies goes to a second one.
    runtime = await DockerRuntime.start({ BERTH_MAX_ATTEMPTS: "2", BERTH_QUEUE_SAMPLE_MS: "1000" });
    const volume = await runtime.api.post("/admin/network-volumes", { name: "markers", size: 1, dataCenterId: "local" });
    assert.equal(volume.status, 200, JSON.stringify(volume.data));
    ({ id: endpointId } = await runtime.createEndpoint({ name: "operator pages", workersMax: 1, networkVolumeId: volume.data.id }, { imageName: image }));

    // The first run prints on both streams and its worker dies mid-job; the second raises: the job fails with a traceback.
    failedJobId = await runtime.submit(endpointId, {
      print: { stdout: ["loading the model"], stderr: ["CUDA out of memory: giving up"] },
      crashOnceMarker: `/runpod-volume/crash-once-${Date.now()}`,
      raise: "the input has no prompt",
    });
    const failed = await runtime.ended(endpointId, failedJobId, 180_000);
    assert.equal(failed.status, "FAILED", JSON.stringify(failed));

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(60_000);
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    await page.goto(`${runtime.cp.url}/ui/`);
    await page.fill("#key-input", runtime.cp.apiKey);
    await page.click("#key-form button[type=submit]");
  });
  after(async () => {
    await browser?.close();
    await runtime?.close();
  });

  test("the endpoints page lists the endpoint with its last error, and links to its workers view", async (t) => {
    const row = page.locator(`[data-endpoint-row="${endpointId}"]`);
    await row.waitFor();
    await eventually("the last error on the endpoints page", async () => ((await row.locator("[data-last-error]").getAttribute("data-last-error")) ? true : undefined));
    assert.match((await row.locator("[data-last-error]").getAttribute("data-last-error"))!, /ValueError: the input has no prompt/);
    assert.match(await row.innerText(), /operator pages/);
    t.diagnostic(`screenshot: ${await screenshot("endpoints")}`);
    await row.locator("a").click();
    await page.locator(`section[data-endpoint-id="${endpointId}"]`).waitFor();
  });

  test("the logs pane shows the crashed worker's last lines, stdout and stderr told apart", async (t) => {
    const timeline = (await runtime.api.get(`/admin/endpoints/${endpointId}/jobs/${failedJobId}`)).data;
    crashedWorker = timeline.attempts[0].workerId;
    // Listed whether it still runs or has gone since (idle, it is stopped): its logs are there either way.
    await eventually("the crashed worker in the logs pane's list", async () => ((await page.locator(`[data-log-worker] option[value="${crashedWorker}"]`).count()) > 0 ? true : undefined));
    await page.selectOption("[data-log-worker]", crashedWorker);
    // Each run of the job printed the same lines: the first run's are the ones before the crash.
    const lines = page.locator(`[data-log-lines] .log-line[data-worker="${crashedWorker}"]`);
    const stderr = lines.filter({ hasText: "CUDA out of memory: giving up" }).first();
    await stderr.waitFor();
    assert.equal(await stderr.getAttribute("data-stream"), "stderr");
    assert.match(await stderr.innerText(), /ERR/, "stderr marked in words, not only in colour");
    const stdout = lines.filter({ hasText: "loading the model" }).first();
    assert.equal(await stdout.getAttribute("data-stream"), "stdout");
    assert.ok(Date.parse((await stdout.getAttribute("data-time"))!) <= Date.parse((await stderr.getAttribute("data-time"))!), "in the order printed");
    // The same lines as `berth logs` reads them: the API's.
    const api = (await runtime.api.get(`/admin/endpoints/${endpointId}/logs`, { params: { worker: crashedWorker }, responseType: "text" })).data as string;
    assert.match(api, /CUDA out of memory: giving up/);
    // Its follow ends by itself: the worker stopped.
    await page.locator("[data-log-status]").filter({ hasText: "the worker stopped" }).waitFor();
    t.diagnostic(`screenshot: ${await screenshot("endpoint")}`);
  });

  test("the failed job's page shows the traceback and both attempts", async (t) => {
    // By its address, as a link from a worker's recent jobs leads there (that worker may be gone by now).
    await page.goto(`${runtime.cp.url}/ui/#/endpoints/${endpointId}/jobs/${failedJobId}`);
    const job = page.locator(`[data-job-id="${failedJobId}"]`);
    await job.waitFor();
    assert.equal(await job.getAttribute("data-job-status"), "FAILED");
    assert.match(await page.locator("[data-job-error]").innerText(), /ValueError: the input has no prompt/);
    const traceback = await page.locator("[data-traceback]").innerText();
    assert.match(traceback, /Traceback \(most recent call last\)/);
    assert.match(traceback, /raise ValueError/);
    const attempts = page.locator("tr[data-attempt]");
    assert.equal(await attempts.count(), 2);
    assert.equal(await attempts.nth(0).getAttribute("data-attempt-worker"), crashedWorker);
    assert.equal(await attempts.nth(0).getAttribute("data-attempt-outcome"), "requeued");
    assert.equal(await attempts.nth(1).getAttribute("data-attempt-outcome"), "failed");
    // On Docker a crashed worker's container is started again under the same id: the second run is its restart.
    assert.ok(await attempts.nth(1).getAttribute("data-attempt-worker"));
    assert.match(await page.locator("[data-job-input]").innerText(), /crashOnceMarker/);
    t.diagnostic(`screenshot: ${await screenshot("job")}`);
  });

  test("a job or endpoint that does not exist: a clear message on the page, 404 in the API", async () => {
    assert.equal((await runtime.api.get(`/admin/endpoints/${endpointId}/jobs/no-such-job`)).status, 404);
    await page.goto(`${runtime.cp.url}/ui/#/endpoints/${endpointId}/jobs/no-such-job`);
    await page.locator("[data-job-missing]").filter({ hasText: /job no-such-job does not exist/ }).waitFor();
    await page.goto(`${runtime.cp.url}/ui/#/endpoints/no-such-endpoint`);
    await page.locator("section.endpoint [role=alert]").filter({ hasText: "Endpoint no-such-endpoint does not exist" }).waitFor();
    assert.equal((await runtime.api.get(`/admin/endpoints/${endpointId}/logs`, { params: { worker: "no-such-worker" } })).status, 404);
    assert.deepEqual(pageErrors, [], "no script errors on the page");
  });
});
