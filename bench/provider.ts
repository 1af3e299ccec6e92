/**
 * The Pulumi provider's speed: `pulumi preview` and `pulumi up` of a stack with one Template and 20 Endpoints, and
 * a no-op `up`, through the real CLI (file backend) against a control plane with no runtime (so no worker starts
 * are counted). Baselines in the same run, to say where the time goes:
 * - engine: the same program with no resources (CLI, language host, program start-up);
 * - control plane: the same 21 creates sent straight to the admin API, one after another.
 * The rest of an up is the provider: the dynamic provider host and its calls.
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; npm run build; node --import tsx bench/provider.ts
 */
import os from "node:os";
import path from "node:path";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { apiClient } from "../test/helpers/endpoint";
import { PulumiWorkspace } from "../test/helpers/pulumi-cli";

const PROGRAM = path.resolve(__dirname, "../test/fixtures/pulumi-many");
const ENDPOINTS = 20;

async function timed(what: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await what();
  return performance.now() - started;
}

async function stack(cp: ControlPlaneProcess, name: string, count: number): Promise<PulumiWorkspace> {
  const ws = await PulumiWorkspace.create(PROGRAM, name);
  await ws.mustRun("config", "set", "berth:url", cp.url);
  await ws.mustRun("config", "set", "--secret", "berth:apiKey", cp.apiKey);
  await ws.mustRun("config", "set", "count", String(count));
  return ws;
}

async function main(): Promise<void> {
  const cp = await ControlPlaneProcess.start();
  const workspaces: PulumiWorkspace[] = [];
  try {
    const empty = await stack(cp, "empty", 0);
    const many = await stack(cp, "many", ENDPOINTS);
    workspaces.push(empty, many);

    const emptyPreview = await timed(() => empty.mustRun("preview"));
    const emptyUp = await timed(() => empty.mustRun("up", "--yes", "--skip-preview"));
    const preview = await timed(() => many.mustRun("preview"));
    const up = await timed(() => many.mustRun("up", "--yes", "--skip-preview"));
    const noopPreview = await timed(() => many.mustRun("preview", "--expect-no-changes"));
    const noopUp = await timed(() => many.mustRun("up", "--yes", "--skip-preview", "--expect-no-changes"));

    const api = apiClient(cp);
    const direct = await timed(async () => {
      const template = await api.post("/admin/templates", { name: "direct", imageName: "berth/bench-worker:1", env: { ROLE: "bench" } });
      for (let i = 0; i < ENDPOINTS; i++) {
        await api.post("/admin/endpoints", { name: `direct-${i}`, templateId: template.data.id, gpuTypeIds: ["ADA_24"], workersMax: 2 });
      }
    });
    await many.mustRun("destroy", "--yes");

    const cpu = os.cpus();
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const ratio = (ms: number, base: number) => `${(ms / base).toFixed(2)}x`;
    console.log(`# Berth provider benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(`\n1 Template + ${ENDPOINTS} Endpoints, real pulumi CLI, file backend, control plane without a runtime`);
    console.log(`| | time | vs the empty program's |\n|---|---|---|`);
    console.log(`| preview (new stack) | ${s(preview)} | ${ratio(preview, emptyPreview)} |`);
    console.log(`| up (21 creates) | ${s(up)} | ${ratio(up, emptyUp)} |`);
    console.log(`| no-op preview | ${s(noopPreview)} | ${ratio(noopPreview, emptyPreview)} |`);
    console.log(`| no-op up | ${s(noopUp)} | ${ratio(noopUp, emptyUp)} |`);
    console.log(`| baseline: empty program, preview / up | ${s(emptyPreview)} / ${s(emptyUp)} | 1.00x |`);
    console.log(`| baseline: the 21 creates straight to the admin API | ${s(direct)} | |`);
    console.log(
      `\nwhere an up's time goes: engine and program start-up ~${s(emptyUp)}, control plane ~${s(direct)}, ` +
        `provider (dynamic provider host, checks, diffs, calls) ~${s(Math.max(0, up - emptyUp - direct))}`,
    );
  } finally {
    for (const ws of workspaces) ws.remove();
    await cp.stop();
    cp.removeData();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
