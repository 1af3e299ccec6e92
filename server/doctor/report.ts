import { overall, type CheckResult } from "./checks";

const LABEL = { ok: "OK", warn: "WARN", fail: "FAIL" } as const;

/**
 * One headline per check, starting with its status so `grep ^FAIL` finds the failures; under it, indented, the
 * things it looked at and the fix. A last line counts them.
 *
 *   OK    Docker engine    unix:///var/run/docker.sock: Docker 27.3.1, API 1.47
 *   WARN  NVIDIA driver    nvidia-smi not found: ...
 *         fix: install NVIDIA's driver ...
 */
export function textReport(checks: readonly CheckResult[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const indent = " ".repeat(6);
  const lines = checks.flatMap((c) => [
    `${LABEL[c.status].padEnd(6)}${c.name.padEnd(width)}  ${c.detail}`,
    ...(c.items ?? []).map((item) => `${indent}- ${item}`),
    ...(c.fix ? [`${indent}fix: ${c.fix}`] : []),
  ]);
  const count = (status: CheckResult["status"]) => checks.filter((c) => c.status === status).length;
  lines.push(`${count("ok")} OK, ${count("warn")} WARN, ${count("fail")} FAIL`);
  return lines.join("\n") + "\n";
}

/** For scripts: the overall status and every check with the same fields, `fix` null when OK, `items` [] when none. */
export function jsonReport(checks: readonly CheckResult[]): string {
  const document = {
    status: overall(checks),
    checks: checks.map((c) => ({ name: c.name, status: c.status, detail: c.detail, fix: c.fix ?? null, items: c.items ?? [] })),
  };
  return JSON.stringify(document, null, 2) + "\n";
}
