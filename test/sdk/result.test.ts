import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkError, errorResult, generatorErrorResult, isStream, resultFromOutput } from "../../sdk/worker/result";

test("a plain value is the output; undefined is null (Python's None)", () => {
  assert.deepEqual(resultFromOutput(42), { output: 42 });
  assert.deepEqual(resultFromOutput("text"), { output: "text" });
  assert.deepEqual(resultFromOutput([1, 2]), { output: [1, 2] });
  assert.deepEqual(resultFromOutput(false), { output: false });
  assert.deepEqual(resultFromOutput(null), { output: null });
  assert.deepEqual(resultFromOutput(undefined), { output: null });
});

test("an object's error key fails the job and the rest stays the output, as runpod-python's run_job", () => {
  assert.deepEqual(resultFromOutput({ error: "bad seed", partial: 1 }), { output: { partial: 1 }, error: "bad seed" });
  assert.deepEqual(resultFromOutput({ error: "bad seed" }), { error: "bad seed" });
  assert.deepEqual(resultFromOutput({ error: { code: 7 } }), { error: '{"code":7}' });
  assert.deepEqual(resultFromOutput({ error: null, ok: true }), { output: { ok: true } });
});

test("refresh_worker in the output asks for stopPod and is not part of the output", () => {
  assert.deepEqual(resultFromOutput({ refresh_worker: true, images: ["a"] }), { output: { images: ["a"] }, stopPod: true });
  assert.deepEqual(resultFromOutput({ refresh_worker: false, x: 1 }), { output: { x: 1 } });
});

test("an output of {} is left out; the handler's object is not changed", () => {
  assert.deepEqual(resultFromOutput({}), {});
  const returned = { error: "e", refresh_worker: true, keep: 1 };
  resultFromOutput(returned);
  assert.deepEqual(returned, { error: "e", refresh_worker: true, keep: 1 });
});

test("class instances are outputs, not dicts", () => {
  class Box {
    error = "not an error key";
  }
  assert.deepEqual(resultFromOutput(new Box()), { output: new Box() });
});

test("a thrown error is runpod-python's JSON string of type, message, traceback, host, worker, version", () => {
  class ModelError extends Error {
    override name = "ModelError";
  }
  const body = errorResult(new ModelError("out of memory"), { workerId: "w-1", hostname: "gpu-box" });
  assert.deepEqual(Object.keys(body), ["error"]);
  const info = JSON.parse(body.error!) as Record<string, string>;
  assert.equal(info.error_type, "ModelError");
  assert.equal(info.error_message, "out of memory");
  assert.match(info.error_traceback!, /ModelError: out of memory\n\s+at /);
  assert.equal(info.hostname, "gpu-box");
  assert.equal(info.worker_id, "w-1");
  assert.match(info.runpod_version!, /^berth-node\/\d+\.\d+\.\d+$/);
});

test("a thrown non-Error is reported too", () => {
  const info = JSON.parse(errorResult("plain string", { workerId: "w", hostname: "h" }).error!) as Record<string, string>;
  assert.equal(info.error_type, "string");
  assert.equal(info.error_message, "plain string");
});

test("a generator's error uses runpod-python's handler/traceback string", () => {
  const error = generatorErrorResult(new Error("boom")).error!;
  assert.match(error, /^handler: boom \ntraceback: Error: boom\n/);
});

test("a chunk that is an object with a truthy error ends the stream", () => {
  assert.equal(chunkError({ error: "stop here" }), "stop here");
  assert.equal(chunkError({ error: "" }), undefined);
  assert.equal(chunkError("error"), undefined);
  assert.equal(chunkError([{ error: "x" }]), undefined);
});

test("streams are async iterables and generator objects; arrays, strings and promises are outputs", () => {
  async function* agen() {
    yield 1;
  }
  function* gen() {
    yield 1;
  }
  assert.equal(isStream(agen()), true);
  assert.equal(isStream(gen()), true);
  assert.equal(isStream([1, 2]), false);
  assert.equal(isStream("abc"), false);
  assert.equal(isStream(new Map()), false);
  assert.equal(isStream(Promise.resolve(1)), false);
  assert.equal(isStream(null), false);
});
