import assert from "node:assert/strict";
import { test } from "node:test";
import { demultiplexLogs } from "../../docker-engine/log-stream";

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test("stdout and stderr frames are separated and kept in order", () => {
  const logs = Buffer.concat([frame(1, "a"), frame(2, "x"), frame(1, "bé"), frame(2, "y\n")]);
  assert.deepEqual(demultiplexLogs(logs), { stdout: "abé", stderr: "xy\n" });
});

test("an empty stream is empty output", () => {
  assert.deepEqual(demultiplexLogs(Buffer.alloc(0)), { stdout: "", stderr: "" });
});

test("a frame longer than the data left is an error, not silently cut output", () => {
  const cut = frame(1, "hello").subarray(0, 10);
  assert.throws(() => demultiplexLogs(cut), /claims 5 bytes, only 2 remain/);
});

test("an unknown stream type is an error", () => {
  assert.throws(() => demultiplexLogs(frame(7, "?")), /unknown log stream type 7/);
});
