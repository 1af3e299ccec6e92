// The OpenAI-compatible route, /v2/{endpointId}/openai/v1, called by the real `openai` clients from PyPI and npm, and
// answered by a runpod-python worker that behaves like worker-vllm's OpenAI path (test/fixtures/python-workers/
// openai_worker.py): as a local process, and in its image on the Docker runtime.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { DockerRuntime } from "../helpers/docker-runtime";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { ensurePythonWorkerImage } from "../helpers/worker-image";
import { WorkerProcess } from "../helpers/worker-process";

const FAST = { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_SWEEP_INTERVAL_MS: "100" };
const MODEL = "berth/tiny-echo";
const CLIENT = path.resolve(__dirname, "../fixtures/python-clients/openai_client.py");
const SENTENCE = "the quick brown fox jumps over the lazy dog";
const TOKENS = SENTENCE.split(" ").map((w, i) => (i === 0 ? w : ` ${w}`));

/** The test model's embedding of `text`: the first 8 bytes of its SHA-256, each mapped onto [-1, 1]. */
const embeddingOf = (text: string) => [...crypto.createHash("sha256").update(text).digest().subarray(0, 8)].map((b) => Math.round((b / 127.5 - 1) * 1e6) / 1e6);
const assertClose = (actual: number[], expected: number[]) => {
  assert.equal(actual.length, expected.length);
  // Float32 on the wire (the SDKs ask for base64): equal to about 7 digits.
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `${actual} vs ${expected}`));
};

/** A request with the test model's pause before each token: an extra body field, as vLLM's own extensions are. */
const slow = <T extends object>(params: T, tokenDelayMs: number): T => ({ ...params, berth_test_token_delay_ms: tokenDelayMs });

/** Runs the real openai Python client (test/fixtures/python-clients/openai_client.py) and returns what it printed. */
function pythonOpenAi(baseURL: string, apiKey: string, action: string, args: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(
      testbedEnv("BERTH_OPENAI_PYTHON"),
      [CLIENT, action, JSON.stringify(args)],
      { env: { ...process.env, OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: apiKey }, timeout: 90_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
  });
}

/** An OpenAI error body: exactly OpenAI's four fields, and nothing that looks like a stack trace. */
function assertOpenAiError(body: unknown, type: string, code: string | number) {
  const error = (body as { error?: Record<string, unknown> }).error ?? (body as Record<string, unknown>);
  assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"], JSON.stringify(body));
  assert.equal(error.type, type, JSON.stringify(body));
  assert.equal(error.code, code, JSON.stringify(body));
  assert.equal(typeof error.message, "string");
  assert.doesNotMatch(JSON.stringify(body), /Traceback|\n\s+at |\.ts:\d+|\.py", line/);
  return error;
}

describe("the real openai clients (PyPI and npm) against the OpenAI route, a worker-vllm-like runpod-python worker", () => {
  let cp: ControlPlaneProcess;
  let ep: TestEndpoint;
  let other: TestEndpoint;
  let runKey: string;
  let baseURL: string;
  let client: OpenAI;
  const workers: WorkerProcess[] = [];

  before(async () => {
    cp = await ControlPlaneProcess.start({ env: FAST });
    ep = await createEndpoint(cp);
    other = await createEndpoint(cp);
    const made = await apiClient(cp).post("/admin/keys", { name: "app", scope: "run", endpointIds: [ep.id] });
    assert.equal(made.status, 201, JSON.stringify(made.data));
    runKey = made.data.key;
    baseURL = `${cp.url}/v2/${ep.id}/openai/v1`;
    client = new OpenAI({ baseURL, apiKey: runKey, maxRetries: 0 });
    workers.push(WorkerProcess.python("openai_worker.py", { ...ep.workerEnv, MODEL_NAME: MODEL }, "py-openai-1"));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await cp?.stop();
    cp?.removeData();
  });

  test("chat completions, plain: the worker's response object is the body (Python and Node clients)", async () => {
    const messages = [
      { role: "system", content: "echo" },
      { role: "user", content: SENTENCE },
    ];
    const py = await pythonOpenAi(baseURL, runKey, "chat", { model: MODEL, messages });
    assert.equal(py.object, "chat.completion", JSON.stringify(py));
    assert.equal(py.model, MODEL);
    assert.equal(py.choices[0].message.content, SENTENCE);
    assert.equal(py.choices[0].finish_reason, "stop");
    assert.equal(py.usage.completion_tokens, TOKENS.length);

    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: SENTENCE }], max_tokens: 4 })
      .withResponse();
    assert.equal(data.choices[0]!.message.content, TOKENS.slice(0, 4).join(""));
    const jobId = response.headers.get("x-berth-job-id");
    assert.ok(jobId, "the job's id is in a header");
    // The job's input is worker-vllm's: the route and the body as sent.
    const job = await apiClient(cp).get(`/admin/endpoints/${ep.id}/jobs/${jobId}`);
    assert.equal(job.status, 200, JSON.stringify(job.data));
    assert.match(JSON.stringify(job.data), /"openai_route\\?":\\?"\/v1\/chat\/completions/);
  });

  test("chat completions streamed: token by token, in order, ending with finish_reason and [DONE] (Python and Node)", async () => {
    const py = await pythonOpenAi(baseURL, runKey, "chat_stream", { model: MODEL, messages: [{ role: "user", content: SENTENCE }] });
    assert.deepEqual(py, { deltas: TOKENS, finish_reason: "stop" });

    // 150 ms between tokens: each must reach the client before the worker has made the next ones.
    const stream = await client.chat.completions.create(slow({
      model: MODEL,
      messages: [{ role: "user", content: SENTENCE }],
      stream: true,
      stream_options: { include_usage: true },
    }, 150));
    const received: Array<{ content: string; at: number; emittedMs: number }> = [];
    let finish: string | null = null;
    let usage: unknown;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) received.push({ content: choice.delta.content, at: Date.now(), emittedMs: (chunk as any).berth_test.emitted_ms });
      finish = choice?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.deepEqual(received.map((r) => r.content), TOKENS);
    assert.equal(finish, "stop");
    assert.deepEqual(usage, { prompt_tokens: TOKENS.length, completion_tokens: TOKENS.length, total_tokens: 2 * TOKENS.length });
    assert.ok(received[0]!.at < received.at(-1)!.emittedMs, `the first token arrived at ${received[0]!.at}, after the worker made the last at ${received.at(-1)!.emittedMs}: not streamed`);
  });

  test("the raw stream is text/event-stream, ends with data: [DONE] once", async () => {
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${runKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "one two" }], stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const text = await res.text();
    assert.ok(text.endsWith("data: [DONE]\n\n"), text);
    assert.equal(text.match(/\[DONE\]/g)!.length, 1, text);
    assert.equal(text.split("\n\n").filter(Boolean).length, 5, text); // role, 2 tokens, finish, [DONE]
  });

  test("completions, plain and streamed", async () => {
    const py = await pythonOpenAi(baseURL, runKey, "completion", { model: MODEL, prompt: "alpha beta gamma", max_tokens: 2 });
    assert.equal(py.object, "text_completion", JSON.stringify(py));
    assert.equal(py.choices[0].text, "alpha beta");
    const streamed = await pythonOpenAi(baseURL, runKey, "completion_stream", { model: MODEL, prompt: "alpha beta gamma" });
    assert.deepEqual(streamed.texts, ["alpha", " beta", " gamma", ""]);
    const stream = await client.completions.create({ model: MODEL, prompt: "alpha beta", stream: true });
    const texts: string[] = [];
    for await (const chunk of stream) texts.push(chunk.choices[0]!.text);
    assert.deepEqual(texts, ["alpha", " beta", ""]);
  });

  test("models lists the worker's model", async () => {
    assert.deepEqual(await pythonOpenAi(baseURL, runKey, "models", {}), { ids: [MODEL] });
    const page = await client.models.list();
    assert.deepEqual(page.data.map((m) => m.id), [MODEL]);
  });

  test("embeddings: one vector per input, the same for the same text", async () => {
    const py = await pythonOpenAi(baseURL, runKey, "embeddings", { model: MODEL, input: ["hello", "world"] });
    assert.equal(py.data.length, 2, JSON.stringify(py));
    assertClose(py.data[0].embedding, embeddingOf("hello"));
    assertClose(py.data[1].embedding, embeddingOf("world"));
    // The Node client asks for base64 and decodes it; asked for floats, it gets them as they are.
    const viaBase64 = await client.embeddings.create({ model: MODEL, input: "hello" });
    assertClose([...viaBase64.data[0]!.embedding], embeddingOf("hello"));
    const floats = await client.embeddings.create({ model: MODEL, input: "world", encoding_format: "float" });
    assert.deepEqual(floats.data[0]!.embedding, embeddingOf("world"));
  });

  test("a bad body gets 400 in OpenAI's shape naming the field; so does a body that is not JSON", async () => {
    const py = await pythonOpenAi(baseURL, runKey, "chat", { model: MODEL, messages: [] });
    assert.equal(py.raised, "BadRequestError", JSON.stringify(py));
    assert.equal(py.status, 400);
    const error = assertOpenAiError(py.body, "invalid_request_error", "invalid_request");
    assert.equal(error.param, "messages");
    assert.match(String(error.message), /body\.messages: needs at least one message/);

    const post = (body: string) =>
      fetch(`${baseURL}/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${runKey}`, "content-type": "application/json" }, body });
    const missing = await post(JSON.stringify({ model: MODEL }));
    assert.equal(missing.status, 400);
    assert.equal(assertOpenAiError(await missing.json(), "invalid_request_error", "invalid_request").param, "messages");
    const notJson = await post("{not json");
    assert.equal(notJson.status, 400);
    assertOpenAiError(await notJson.json(), "invalid_request_error", "malformed_json");
    const embeddings = await fetch(`${baseURL}/embeddings`, { method: "POST", headers: { authorization: `Bearer ${runKey}` }, body: JSON.stringify({ input: 7 }) });
    assert.equal(embeddings.status, 400);
    assert.equal(assertOpenAiError(await embeddings.json(), "invalid_request_error", "invalid_request").param, "input");
  });

  test("an error the worker answers in band (vLLM's ErrorResponse) is the HTTP error it names, streamed or not", async () => {
    await assert.rejects(client.completions.create({ model: MODEL, prompt: ["a", "b"] }), (err: any) => {
      assert.equal(err.status, 400);
      assert.equal(err.error.message, "prompt: this test model takes one prompt string");
      assert.equal(err.error.param, "prompt");
      return true;
    });
    await assert.rejects(client.completions.create({ model: MODEL, prompt: ["a", "b"], stream: true }), (err: any) => err.status === 400);
  });

  test("a worker that fails answers 502 with its message, never its traceback", async () => {
    const py = await pythonOpenAi(baseURL, runKey, "chat", { model: MODEL, messages: [{ role: "user", content: "raise" }] });
    assert.equal(py.status, 502, JSON.stringify(py));
    const error = assertOpenAiError(py.body, "server_error", "worker_error");
    assert.match(String(error.message), /the test model was asked to raise/);
  });

  test("keys: none or unknown 401, a run key of another endpoint 403, an unknown endpoint 404, all in OpenAI's shape", async () => {
    const otherKey = (await apiClient(cp).post("/admin/keys", { name: "other app", scope: "run", endpointIds: [other.id] })).data.key;
    const forbidden = await pythonOpenAi(baseURL, otherKey, "models", {});
    assert.equal(forbidden.raised, "PermissionDeniedError", JSON.stringify(forbidden));
    assert.equal(forbidden.status, 403);
    assert.match(String(assertOpenAiError(forbidden.body, "permission_error", "forbidden").message), new RegExp(`not endpoint ${ep.id}`));

    const unknown = await pythonOpenAi(baseURL, "bk_0123456789abcdef_" + "A".repeat(43), "chat", { model: MODEL, messages: [{ role: "user", content: "hi" }] });
    assert.equal(unknown.raised, "AuthenticationError", JSON.stringify(unknown));
    assertOpenAiError(unknown.body, "authentication_error", "unauthorized");
    const none = await fetch(`${baseURL}/models`);
    assert.equal(none.status, 401);
    assertOpenAiError(await none.json(), "authentication_error", "unauthorized");

    const missing = await pythonOpenAi(`${cp.url}/v2/no-such-endpoint/openai/v1`, cp.apiKey, "models", {});
    assert.equal(missing.status, 404, JSON.stringify(missing));
    assertOpenAiError(missing.body, "not_found_error", "endpoint_not_found");
  });

  test("a client that disconnects mid-stream cancels its job", async () => {
    const controller = new AbortController();
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const { data: stream, response } = await client.chat.completions
      .create(slow({ model: MODEL, messages: [{ role: "user", content: words }], stream: true }, 100), { signal: controller.signal })
      .withResponse();
    const jobId = response.headers.get("x-berth-job-id")!;
    let seen = 0;
    // The npm client ends its iteration quietly on an abort, as an app that stops reading would.
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++seen === 3) {
        controller.abort();
        break;
      }
    }
    assert.equal(seen, 3);
    const api = apiClient(cp);
    const ended = await eventually("the job to be cancelled", async () => {
      const { data } = await api.get(`/v2/${ep.id}/status/${jobId}`);
      return data.status === "IN_PROGRESS" ? undefined : data;
    }, 4_000);
    // Well before its 6 s of tokens were done: the disconnect ended it, not the worker.
    assert.equal(ended.status, "CANCELLED", JSON.stringify(ended));
  });
});

describe("the worker-vllm-like test worker in its image on the Docker runtime (Debian base)", () => {
  let runtime: DockerRuntime;
  let image: string;
  before(async () => {
    image = await ensurePythonWorkerImage(undefined, "openai_worker.py");
    runtime = await DockerRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("a streamed chat completion and a models list through the npm client, from a cold endpoint", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 }, { imageName: image, env: { OPENAI_SERVED_MODEL_NAME_OVERRIDE: "in-image-model" } });
    const client = new OpenAI({ baseURL: `${runtime.cp.url}/v2/${ep.id}/openai/v1`, apiKey: runtime.cp.apiKey, maxRetries: 0, timeout: 180_000 });
    const stream = await client.chat.completions.create({ model: "in-image-model", messages: [{ role: "user", content: SENTENCE }], stream: true });
    const deltas: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
    assert.deepEqual(deltas, TOKENS);
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ["in-image-model"]);
  });
});
