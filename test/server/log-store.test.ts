// The worker log store on its own: lines in, lines out in time order, the size bound per endpoint (oldest dropped
// first), the retention of a stopped worker's lines on an injected clock, and what a restart reads back. Also the
// pieces the collectors cut lines with: Docker's frames as they arrive, timestamped text cut anywhere.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, test } from "node:test";
import pino from "pino";
import { LogFrameDecoder } from "../../docker-engine/log-stream";
import { normalizeTime, TimestampedLines, timeOf, type CollectedLine } from "../../server/logs/log-line";
import { LogStore, type LogEvent } from "../../server/logs/log-store";

const log = pino({ level: "silent" });
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-logs-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** `n` lines of `text` a second apart from `startMs`, on stdout. */
function lines(n: number, startMs: number, text = (i: number) => `line ${i}`): CollectedLine[] {
  return Array.from({ length: n }, (_, i) => ({ time: timeOf(startMs + i * 1000), stream: "stdout" as const, line: text(i) }));
}

/** Bytes on disk under a folder. */
function du(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? du(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size), 0);
}

describe("the log store", () => {
  test("lines of several workers come back merged in time order, filtered by worker, time range and tail", async () => {
    const store = await LogStore.open({ dir: tempDir(), maxBytesPerEndpoint: 1 << 20, retentionMs: 60_000, log });
    const t0 = Date.parse("2025-01-01T00:00:00Z");
    store.append("ep", "w1", [{ time: timeOf(t0), stream: "stdout", line: "one" }, { time: timeOf(t0 + 2000), stream: "stderr", line: "three" }]);
    store.append("ep", "w2", [{ time: timeOf(t0 + 1000), stream: "stdout", line: "two" }]);
    store.append("other", "w3", [{ time: timeOf(t0), stream: "stdout", line: "elsewhere" }]);

    const all = await store.read("ep");
    assert.deepEqual(all.map((l) => `${l.workerId} ${l.stream} ${l.line}`), ["w1 stdout one", "w2 stdout two", "w1 stderr three"]);
    assert.equal(all[0]!.time, "2025-01-01T00:00:00.000000000Z");
    assert.deepEqual((await store.read("ep", { workerId: "w1" })).map((l) => l.line), ["one", "three"]);
    assert.deepEqual((await store.read("ep", { from: timeOf(t0 + 1000) })).map((l) => l.line), ["two", "three"]);
    assert.deepEqual((await store.read("ep", { to: timeOf(t0 + 1000) })).map((l) => l.line), ["one"]);
    assert.deepEqual((await store.read("ep", { tail: 2 })).map((l) => l.line), ["two", "three"]);
    assert.deepEqual(await store.read("nobody"), []);
    await store.stop();
  });

  test("an endpoint's files stay within the bound: the oldest lines go first, other endpoints keep theirs", async () => {
    const dir = tempDir();
    const bound = 8 * 1024;
    const store = await LogStore.open({ dir, maxBytesPerEndpoint: bound, retentionMs: 60_000, log });
    const t0 = Date.parse("2025-01-01T00:00:00Z");
    store.append("quiet", "q", lines(3, t0, (i) => `quiet ${i}`));
    // Two chatty workers, 40 KB between them: five times the bound.
    for (let batch = 0; batch < 100; batch++) {
      const worker = batch % 2 === 0 ? "a" : "b";
      store.append("chatty", worker, lines(5, t0 + batch * 5000, (i) => `${worker} batch ${batch} line ${i} ${"x".repeat(40)}`));
    }
    await store.flushed();
    assert.ok(store.bytes("chatty") <= bound, `${store.bytes("chatty")} bytes kept`);
    assert.equal(du(path.join(dir, "chatty")), store.bytes("chatty"), "what the store counts is what is on disk");
    const kept = await store.read("chatty");
    assert.ok(kept.length > 20, `${kept.length} lines kept`);
    assert.match(kept.at(-1)!.line, /batch 99 line 4/, "the newest line is kept");
    assert.ok(!kept.some((l) => /batch 0 /.test(l.line)), "the oldest lines went");
    // What is kept is a contiguous recent stretch: nothing older than the oldest kept line survives beside a gap.
    const batches = [...new Set(kept.map((l) => Number(/batch (\d+)/.exec(l.line)![1])))];
    assert.deepEqual(batches, Array.from({ length: batches.length }, (_, i) => batches[0]! + i));
    assert.deepEqual((await store.read("quiet")).map((l) => l.line), ["quiet 0", "quiet 1", "quiet 2"]);
    await store.stop();
  });

  test("a stopped worker's lines are kept for the retention window, then removed; a running worker's stay", async () => {
    const dir = tempDir();
    let now = Date.parse("2025-01-01T00:00:00Z");
    const store = await LogStore.open({ dir, maxBytesPerEndpoint: 1 << 20, retentionMs: 24 * 3_600_000, now: () => now, log });
    store.workerStarted("ep", "gone");
    store.workerStarted("ep", "alive");
    store.append("ep", "gone", lines(2, now));
    store.append("ep", "alive", lines(2, now));
    store.workerStopped("ep", "gone");
    assert.equal(store.stopped("ep", "gone"), true);
    assert.equal(store.stopped("ep", "alive"), false);
    assert.equal(store.stopped("ep", "never"), undefined);

    now += 23 * 3_600_000;
    assert.equal(await store.sweep(), 0, "within the window");
    assert.equal((await store.read("ep", { workerId: "gone" })).length, 2, "still readable after 23 h");

    now += 3_600_000;
    assert.equal(await store.sweep(), 1);
    assert.equal(store.hasWorker("ep", "gone"), false);
    assert.deepEqual(await store.read("ep", { workerId: "gone" }), []);
    assert.ok(!fs.existsSync(path.join(dir, "ep", "gone")), "its folder is gone");
    assert.equal((await store.read("ep", { workerId: "alive" })).length, 2, "a worker still running keeps its lines however old");
    await store.stop();
  });

  test("a restart reads back sizes, last times and stop times; a worker started again is no longer stopped", async () => {
    const dir = tempDir();
    let now = Date.parse("2025-01-01T00:00:00Z");
    const first = await LogStore.open({ dir, maxBytesPerEndpoint: 1 << 20, retentionMs: 3_600_000, now: () => now, log });
    first.append("ep", "w1", lines(3, now));
    first.append("ep", "w2", lines(1, now));
    first.workerStopped("ep", "w1");
    await first.stop();

    const second = await LogStore.open({ dir, maxBytesPerEndpoint: 1 << 20, retentionMs: 3_600_000, now: () => now, log });
    assert.equal(second.bytes("ep"), du(path.join(dir, "ep")) - fs.statSync(path.join(dir, "ep", "w1", "stopped")).size);
    assert.equal(second.lastTime("ep", "w1"), timeOf(now + 2000));
    assert.equal(second.stopped("ep", "w1"), true);
    // Nobody collects w2 here yet: it counts as stopped (from its last write) until a collector says otherwise.
    assert.equal(second.stopped("ep", "w2"), true);
    second.workerStarted("ep", "w2");
    assert.equal(second.stopped("ep", "w2"), false);
    second.append("ep", "w1", lines(1, now + 10_000, () => "after the restart"));
    assert.deepEqual((await second.read("ep", { workerId: "w1" })).map((l) => l.line), ["line 0", "line 1", "line 2", "after the restart"]);
    now += 3_600_000;
    await second.sweep();
    assert.equal(second.hasWorker("ep", "w1"), false);
    assert.equal(second.hasWorker("ep", "w2"), true);
    await second.stop();
  });

  test("subscribers hear each line and each stop of their endpoint only, until they unsubscribe", async () => {
    const store = await LogStore.open({ dir: tempDir(), maxBytesPerEndpoint: 1 << 20, retentionMs: 60_000, log });
    const heard: LogEvent[] = [];
    const unsubscribe = store.subscribe("ep", (event) => heard.push(event));
    store.append("ep", "w", lines(1, 0));
    store.append("other", "w", lines(1, 0));
    store.workerStopped("ep", "w");
    unsubscribe();
    store.append("ep", "w", lines(1, 5000));
    assert.deepEqual(heard, [
      { kind: "line", line: { workerId: "w", time: timeOf(0), stream: "stdout", line: "line 0" } },
      { kind: "stopped", workerId: "w" },
    ]);
    await store.stop();
  });

  test("ids cannot name a path outside the store's folder", async () => {
    const dir = tempDir();
    const store = await LogStore.open({ dir: path.join(dir, "logs"), maxBytesPerEndpoint: 1 << 20, retentionMs: 60_000, log });
    store.append("..", "../../escape", lines(1, 0));
    await store.flushed();
    assert.deepEqual(fs.readdirSync(dir), ["logs"]);
    assert.equal((await store.read("..", { workerId: "../../escape" })).length, 1);
    await store.stop();
  });
});

describe("cutting collected output into lines", () => {
  test("runtime timestamps get nine fraction digits in UTC, so they order as strings", () => {
    assert.equal(normalizeTime("2025-01-02T03:04:05.1Z"), "2025-01-02T03:04:05.100000000Z");
    assert.equal(normalizeTime("2025-01-02T03:04:05Z"), "2025-01-02T03:04:05.000000000Z");
    assert.equal(normalizeTime("2025-01-02T03:04:05.123456789+01:00"), "2025-01-02T02:04:05.123456789Z");
    assert.equal(normalizeTime("not a time"), undefined);
  });

  test("text cut anywhere becomes whole lines with their times; the rest waits for its newline", () => {
    const cut = new TimestampedLines("stderr", () => 0);
    assert.deepEqual(cut.push("2025-01-02T03:04:05.5Z hel"), []);
    assert.deepEqual(cut.push("lo\r\n2025-01-02T03:04:06Z wor"), [{ time: "2025-01-02T03:04:05.500000000Z", stream: "stderr", line: "hello" }]);
    assert.deepEqual(cut.push("ld\n"), [{ time: "2025-01-02T03:04:06.000000000Z", stream: "stderr", line: "world" }]);
    assert.deepEqual(cut.push("2025-01-02T03:04:07Z no newline"), []);
    assert.deepEqual(cut.end(), [{ time: "2025-01-02T03:04:07.000000000Z", stream: "stderr", line: "no newline" }]);
    assert.equal(cut.last, "2025-01-02T03:04:07.000000000Z");
  });

  test("Docker's multiplexed frames are read whatever the chunks they arrive in", () => {
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header.writeUInt8(stream, 0);
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const all = Buffer.concat([frame(1, "out é\n"), frame(2, "err\n"), frame(1, "more\n")]);
    for (const size of [1, 3, 8, 9, all.length]) {
      const got: string[] = [];
      const decoder = new LogFrameDecoder((stream, payload) => got.push(`${stream}:${payload.toString()}`));
      for (let at = 0; at < all.length; at += size) decoder.push(all.subarray(at, at + size));
      assert.deepEqual(got, ["stdout:out é\n", "stderr:err\n", "stdout:more\n"], `chunks of ${size}`);
      assert.equal(decoder.leftover, 0);
    }
  });
});
