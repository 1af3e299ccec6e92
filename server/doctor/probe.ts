import type { Probed } from "./facts";

/**
 * Runs one probe with a deadline and never throws: a dead host (an engine, an API server, a control plane that
 * accepts the connection and then says nothing) must not hang `berth doctor`, and a probe that fails is a verdict,
 * not a crash. The timer is unref'd, so a finished doctor does not wait for it; whatever the abandoned call still
 * holds open is cut when the command exits.
 */
export async function probe<T>(timeoutMs: number, run: () => Promise<T>): Promise<Probed<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
  });
  try {
    return { ok: true, value: await Promise.race([run(), deadline]) };
  } catch (err) {
    // DockerEngineError and KubernetesApiError carry the HTTP status of a refusal: 403 is not "unreachable".
    const status = (err as { status?: unknown }).status;
    return { ok: false, error: (err as Error).message ?? String(err), ...(typeof status === "number" && { status }) };
  } finally {
    clearTimeout(timer);
  }
}
