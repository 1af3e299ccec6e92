/**
 * The worker API's URLs, built from the RUNPOD_WEBHOOK_* templates exactly as runpod-python builds them:
 * `$ID` in the job-take URL is the worker id; in the job-done and stream URLs `$RUNPOD_POD_ID` is the worker id
 * and then `$ID` the job id. The templates end in `?` (or already carry a query), and the SDK appends `&k=v`.
 * Pure functions: they are the part of the protocol most worth unit-testing.
 */

/** Appends query parameters to a URL that may end in `?`, already carry a query, or have none. */
export function withQuery(url: string, params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    // Commas stay literal (legal in a query, and how the job_id list reads in a server's logs).
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value)).replace(/%2C/gi, ",")}`);
  if (pairs.length === 0) return url;
  const query = pairs.join("&");
  if (!url.includes("?")) return `${url}?${query}`;
  if (url.endsWith("?") || url.endsWith("&")) return url + query;
  return `${url}&${query}`;
}

export interface UrlTemplates {
  getJob: string;
  postOutput: string;
  postStream?: string;
  ping?: string;
}

export class WorkerUrls {
  /** The job-take URL with `$ID` -> worker id, as given (ending in `?`). */
  private readonly take: string;
  private readonly done: string;
  private readonly stream?: string;
  private readonly pingBase?: string;

  constructor(templates: UrlTemplates, readonly workerId: string) {
    this.take = templates.getJob.replaceAll("$ID", workerId);
    this.done = templates.postOutput.replaceAll("$RUNPOD_POD_ID", workerId);
    this.stream = templates.postStream?.replaceAll("$RUNPOD_POD_ID", workerId);
    this.pingBase = templates.ping?.replaceAll("$RUNPOD_POD_ID", workerId);
  }

  /**
   * `GET {take}&job_in_progress=0|1`; for more than one job `/job-take/` becomes `/job-take-batch/` and
   * `&batch_size=N` is added before job_in_progress (runpod-python's order).
   */
  jobTake(batchSize: number, jobInProgress: boolean): string {
    const base = batchSize > 1 ? withQuery(this.take.replace("/job-take/", "/job-take-batch/"), { batch_size: batchSize }) : this.take;
    return withQuery(base, { job_in_progress: jobInProgress ? 1 : 0 });
  }

  /** The job-stop long-poll: the job-take URL with `/job-take/` -> `/job-stop/`, query kept; none without `/job-take/`. */
  jobStop(): string | undefined {
    return this.take.includes("/job-take/") ? this.take.replace("/job-take/", "/job-stop/") : undefined;
  }

  /** `POST {done with $ID -> job id}&isStream=true|false`. */
  jobDone(jobId: string, isStream: boolean): string {
    return withQuery(this.done.replaceAll("$ID", jobId), { isStream: String(isStream) });
  }

  /** `POST {stream with $ID -> job id}&isStream=false`; undefined when no stream URL was given. */
  jobStream(jobId: string): string | undefined {
    return this.stream === undefined ? undefined : withQuery(this.stream.replaceAll("$ID", jobId), { isStream: "false" });
  }

  /** `GET {ping}?job_id=a,b&runpod_version=v` (job_id left out when no job is running); undefined without a ping URL. */
  ping(jobIds: readonly string[], version: string): string | undefined {
    if (this.pingBase === undefined) return undefined;
    return withQuery(this.pingBase, { job_id: jobIds.length > 0 ? jobIds.join(",") : undefined, runpod_version: version });
  }

  /** The ping URL without its query, for the heartbeat thread, which adds the query itself. */
  pingTemplate(): string | undefined {
    return this.pingBase;
  }
}
