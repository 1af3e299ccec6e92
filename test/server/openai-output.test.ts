// What a worker's output means on the OpenAI-compatible route (server/api/openai-output.ts), for the shapes real
// workers answer that the test worker does not: vLLM's later ErrorResponse, RAW_OPENAI_OUTPUT=0's lists of objects,
// a plain handler's return value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { endedWithoutAnswer, fromBerthError, toEvents, unwrapOutput, workerError } from "../../server/api/openai-output";

test("a generator's one-item aggregate is unwrapped; a plain handler's value and longer lists are kept", () => {
  assert.deepEqual(unwrapOutput([{ object: "chat.completion" }]), { object: "chat.completion" });
  assert.deepEqual(unwrapOutput({ object: "list", data: [] }), { object: "list", data: [] });
  assert.deepEqual(unwrapOutput(["a", "b"]), ["a", "b"]);
});

test("vLLM's ErrorResponse, before and after 0.10, is the HTTP status it names; worker-vllm's {error: string} is 502", () => {
  assert.deepEqual(workerError({ object: "error", message: "bad", type: "BadRequestError", param: null, code: 400 }), {
    status: 400,
    body: { error: { message: "bad", type: "BadRequestError", param: null, code: 400 } },
  });
  assert.deepEqual(workerError({ error: { message: "no such model", type: "NotFoundError", param: "model", code: 404 } }), {
    status: 404,
    body: { error: { message: "no such model", type: "NotFoundError", param: "model", code: 404 } },
  });
  const engine = workerError({ error: "CUDA is not available" });
  assert.equal(engine?.status, 502);
  assert.match(engine!.body.error.message, /CUDA is not available/);
  assert.equal(workerError({ object: "chat.completion", choices: [] }), undefined);
});

test("runpod-python's error document comes down to its message, without the traceback", () => {
  const error = JSON.stringify({ error_type: "<class 'ValueError'>", error_message: "boom", error_traceback: "Traceback (most recent call last): ..." });
  const failure = endedWithoutAnswer({ id: "j", status: "FAILED", delayTime: 0, executionTime: 0, error });
  assert.equal(failure?.status, 502);
  assert.equal(failure?.body.error.message, "the worker failed: boom");
  const generator = "handler: boom \ntraceback: Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom\n";
  assert.equal(endedWithoutAnswer({ id: "j", status: "FAILED", delayTime: 0, executionTime: 0, error: generator })?.body.error.message, "the worker failed: boom");
  assert.equal(endedWithoutAnswer({ id: "j", status: "TIMED_OUT", delayTime: 0, executionTime: 0 })?.status, 504);
  assert.equal(endedWithoutAnswer({ id: "j", status: "COMPLETED", delayTime: 0, executionTime: 0 }), undefined);
});

test("SSE strings pass through as they are; objects become data lines; [DONE] is noticed", () => {
  const raw = 'data: {"a":1}\n\ndata: {"a":2}\n\n';
  assert.deepEqual(toEvents(raw), { text: raw, done: false });
  assert.deepEqual(toEvents(raw + "data: [DONE]\n\n"), { text: raw + "data: [DONE]\n\n", done: true });
  assert.deepEqual(toEvents([{ a: 1 }, { a: 2 }]), { text: raw, done: false });
  assert.equal(toEvents('data: {"content":"data: [DONE]"}\n\n').done, false, "[DONE] inside a token is not the end");
});

test("Berth's error bodies become OpenAI's, the field named by param", () => {
  assert.deepEqual(fromBerthError(400, { error: "invalid_request", message: "body.messages: required", details: [{ field: "body.messages", rule: "required" }] }), {
    error: { message: "body.messages: required", type: "invalid_request_error", param: "messages", code: "invalid_request" },
  });
  assert.equal(fromBerthError(429, { error: "rate_limited", message: "over" })?.error.type, "rate_limit_error");
  assert.equal(fromBerthError(400, { error: { message: "already OpenAI's" } }), undefined);
});
