// Which way imports go, read from the source itself: a folder cycle, a policy that reaches into the server or a
// provider that reaches into a runtime fails here, naming the files.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "..");
const SOURCES = ["server", "provider", "sdk", "docker-engine"];

interface Import {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** Every relative import of the product's sources, as repository paths without extension. */
function imports(): Import[] {
  return SOURCES.flatMap((dir) => sourceFiles(path.join(ROOT, dir))).flatMap((file) => {
    const text = fs.readFileSync(file, "utf8");
    const from = path.relative(ROOT, file).replace(/\.ts$/, "");
    return [...text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)"(\.{1,2}\/[^"]+)"/g)].map((m) => ({
      from,
      to: path.relative(ROOT, path.resolve(path.dirname(file), m[1]!)),
    }));
  });
}

/** A file's folder as the layering sees it: server/<folder> (sub-folders included), a server/ root file, or a top folder. */
function unit(file: string): string {
  const parts = file.split("/");
  if (parts[0] !== "server") return parts[0]!;
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

const all = imports();
const crossing = (test: (i: Import) => boolean) =>
  all
    .filter(test)
    .map((i) => `${i.from} -> ${i.to}`)
    .sort();

test("the import graph is read (the checks below see the real sources)", () => {
  assert.ok(all.some((i) => i.from === "server/server" && i.to === "server/jobs/service"));
  assert.ok(all.some((i) => i.from === "provider/control-plane" && i.to === "docker-engine/engine"));
});

test("no folder imports a folder that imports it back, however indirectly", () => {
  const edges = new Map<string, Set<string>>();
  for (const i of all) {
    const [a, b] = [unit(i.from), unit(i.to)];
    if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (node: string, trail: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(" -> "));
      return;
    }
    state.set(node, "open");
    for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
    state.set(node, "done");
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});

test("policies are a leaf: server/policy imports nothing of the server", () => {
  assert.deepEqual(crossing((i) => i.from.startsWith("server/policy/") && !i.to.startsWith("server/policy/")), []);
});

test("the job service does not know which database stores its jobs", () => {
  assert.deepEqual(crossing((i) => i.from.startsWith("server/jobs/") && i.to.startsWith("server/store/")), []);
});

test("the domain speaks no HTTP: only the API and start-up import server/api", () => {
  const http = (i: Import) => i.to.startsWith("server/api/") && !i.from.startsWith("server/api/") && i.from !== "server/app";
  assert.deepEqual(crossing(http), []);
});

test("each runtime keeps to itself: Docker's fleet and Kubernetes share only runtimes/ and policy/", () => {
  assert.deepEqual(
    crossing(
      (i) =>
        (i.from.startsWith("server/runtimes/kubernetes/") && i.to.startsWith("server/runtimes/docker/")) ||
        (i.from.startsWith("server/runtimes/docker/") && i.to.startsWith("server/runtimes/kubernetes/")),
    ),
    [],
  );
});

test("the provider reaches no runtime, and the Engine API client nothing of Berth", () => {
  assert.deepEqual(crossing((i) => i.from.startsWith("provider/") && i.to.startsWith("server/runtimes/")), []);
  assert.deepEqual(crossing((i) => i.from.startsWith("docker-engine/") && !i.to.startsWith("docker-engine/")), []);
});
