/**
 * The Pulumi provider's speed as a program grows: `pulumi preview` and `pulumi up` of a stack with one Template and
 * N Endpoints (N from --endpoints, default 20 and 200), and a no-op `up`, through the real CLI (file backend) against
 * a control plane with no runtime (so no worker starts are counted). Baselines in the same run, to say where the
 * time goes:
 * - engine: the same program with no resources (CLI, language host, program start-up);
 * - control plane: the same creates sent straight to the admin API, one after another.
 * The rest of an up is the provider: the dynamic provider host and its calls.
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; npm run build; node --import tsx bench/provider.ts
 *   [--endpoints 20,200]
 */
import os from "node:os";
import path from "node:path";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { apiClient } from "../test/helpers/endpoint";
import { PulumiWorkspace } from "../test/helpers/pulumi-cli";
import { flag } from "./args";

const PROGRAM = path.resolve(__dirname, "../test/fixtures/pulumi-many");
const SIZES = (flag("endpoints") ?? "20,200").split(",").map(Number);

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

interface Run {
  endpoints: number;
  preview: number;
  up: number;
  noopPreview: number;
  noopUp: number;
  direct: number;
}

async function measure(cp: ControlPlaneProcess, endpoints: number, workspaces: PulumiWorkspace[]): Promise<Run> {
  const many = await stack(cp, `many-${endpoints}`, endpoints);
  workspaces.push(many);
  const preview = await timed(() => many.mustRun("preview"));
  const up = await timed(() => many.mustRun("up", "--yes", "--skip-preview"));
  const noopPreview = await timed(() => many.mustRun("preview", "--expect-no-changes"));
  const noopUp = await timed(() => many.mustRun("up", "--yes", "--skip-preview", "--expect-no-changes"));
  const api = apiClient(cp);
  const direct = await timed(async () => {
    const template = await api.post("/admin/templates", { name: `direct-${endpoints}`, imageName: "berth/bench-worker:1", env: { ROLE: "bench" } });
    for (let i = 0; i < endpoints; i++) {
      await api.post("/admin/endpoints", { name: `direct-${endpoints}-${i}`, templateId: template.data.id, gpuTypeIds: ["ADA_24"], workersMax: 2 });
    }
  });
  await many.mustRun("destroy", "--yes");
  return { endpoints, preview, up, noopPreview, noopUp, direct };
}

async function main(): Promise<void> {
  const cp = await ControlPlaneProcess.start();
  const workspaces: PulumiWorkspace[] = [];
  try {
    const empty = await stack(cp, "empty", 0);
    workspaces.push(empty);
    const emptyPreview = await timed(() => empty.mustRun("preview"));
    const emptyUp = await timed(() => empty.mustRun("up", "--yes", "--skip-preview"));
    const runs: Run[] = [];
    for (const endpoints of SIZES) runs.push(await measure(cp, endpoints, workspaces));

    const cpu = os.cpus();
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const ratio = (ms: number, base: number) => `${(ms / base).toFixed(2)}x`;
    console.log(`# Berth provider benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(`\n1 Template + N Endpoints, real pulumi CLI, file backend, control plane without a runtime; ratios against the empty program's`);
    console.log(`| endpoints | preview (new stack) | up (creates) | no-op preview | no-op up | the creates straight to the admin API |`);
    console.log(`|---|---|---|---|---|---|`);
    console.log(`| 0 (baseline: the empty program) | ${s(emptyPreview)} | ${s(emptyUp)} | | | |`);
    for (const r of runs) {
      console.log(
        `| ${r.endpoints} | ${s(r.preview)} (${ratio(r.preview, emptyPreview)}) | ${s(r.up)} (${ratio(r.up, emptyUp)}) | ` +
          `${s(r.noopPreview)} (${ratio(r.noopPreview, emptyPreview)}) | ${s(r.noopUp)} (${ratio(r.noopUp, emptyUp)}) | ${s(r.direct)} |`,
      );
    }
    for (const r of runs) {
      console.log(
        `\n${r.endpoints} endpoints, where an up's time goes: engine and program start-up ~${s(emptyUp)}, control plane ~${s(r.direct)}, ` +
          `provider and engine per resource ~${((r.up - emptyUp - r.direct) / (r.endpoints + 1)).toFixed(0)} ms; a no-op up ` +
          `~${((r.noopUp - emptyUp) / (r.endpoints + 1)).toFixed(0)} ms per resource`,
      );
    }
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
