import type { z } from "zod";
import type { jsonPreviewSchema } from "./jobs/timeline";
import type { JobTimelineReply } from "./resources/job-timeline-schemas";
import { bytes, table } from "./cli-output";
type Preview = z.output<typeof jsonPreviewSchema>;

/** `berth job`: a job's timeline as text, in the order an operator reads it when a job went wrong. */
export function timelineText(t: JobTimelineReply): string {
  const created = Date.parse(t.createdAt);
  // Times of day, with how long after the job was queued: what happened when, at a glance.
  const when = (at: string | undefined) => (at === undefined ? "-" : `${at.slice(11, 23)} (+${seconds(Date.parse(at) - created)})`);
  const out: string[] = [];
  out.push(`job ${t.id} on endpoint ${t.endpointId}: ${t.status}${t.retries > 0 ? ` (retried ${t.retries}x)` : ""}`);
  out.push(`queued ${t.createdAt}, started ${when(t.startedAt)}, finished ${when(t.finishedAt)}`);
  out.push(`delay ${t.delayMs} ms, execution ${t.executionMs} ms`);
  out.push("", `input: ${document(t.input)}`);
  if (t.output) out.push(`output: ${document(t.output)}`);
  if (t.error) {
    const e = t.error;
    const origin = [e.workerId && `worker ${e.workerId}`, e.hostname && `host ${e.hostname}`, e.runpodVersion && `SDK ${e.runpodVersion}`].filter(Boolean);
    out.push("", `error: ${e.type ? `${e.type}: ` : ""}${e.message}${origin.length > 0 ? ` (${origin.join(", ")})` : ""}`);
    if (e.traceback) out.push(indent(e.traceback.trimEnd()));
  }
  out.push("", `attempts (${t.attempts.length}):`);
  if (t.attempts.length > 0) {
    const rows = t.attempts.map((a) => [String(a.number), a.workerId, when(a.takenAt), when(a.endedAt), `${a.durationMs} ms`, a.outcome, a.reason ?? ""]);
    out.push(indent(table(["#", "WORKER", "TAKEN", "ENDED", "RAN", "OUTCOME", "REASON"], rows).trimEnd()));
  }
  for (const [title, events] of [["progress updates", t.progress], ["stream chunks", t.stream]] as const) {
    const shown = events.shown.length < events.count ? `, first ${events.shown.length} shown` : "";
    out.push("", `${title} (${events.count}${shown}):`);
    if (events.shown.length > 0) {
      out.push(indent(table(["AT", "SIZE", "CONTENT"], events.shown.map((e) => [when(e.at), bytes(e.bytes), content(e)])).trimEnd()));
    }
  }
  out.push("", `worker logs (${t.logs.lines.length} lines)${t.logs.collected ? "" : ": not kept by this control plane; ask the leader"}:`);
  for (const line of t.logs.lines) out.push(`  ${line.time.slice(11, 23)} ${line.workerId} ${line.stream}: ${line.line}`);
  return out.join("\n") + "\n";
}

function document(p: Preview): string {
  return p.truncated ? `${bytes(p.bytes)}, the first ${bytes(Buffer.byteLength(p.preview!))} shown\n${indent(p.preview!)}` : `${bytes(p.bytes)}\n${indent(JSON.stringify(p.value))}`;
}

function content(p: Preview): string {
  return p.truncated ? `${p.preview}...` : JSON.stringify(p.value);
}

const indent = (text: string) => text.replace(/^/gm, "  ");

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
