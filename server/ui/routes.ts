import fs from "node:fs/promises";
import path from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";

export interface UiRoutesOptions {
  /** Where index.html, app.js and style.css are: this folder in a checkout, next to the bundle in the image. */
  dir?: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/**
 * The page's files. uPlot (the charts) is served as its package ships it: from node_modules in a checkout, from
 * beside the page's own files in the bundle and the image (scripts/bundle-control-plane.ts copies it there).
 */
export const UI_FILES: ReadonlyArray<{ name: string; type: string; vendored?: string }> = [
  { name: "index.html", type: "text/html; charset=utf-8" },
  { name: "style.css", type: CSS },
  { name: "app.js", type: JS },
  { name: "format.js", type: JS },
  { name: "workers.js", type: JS },
  { name: "endpoints.js", type: JS },
  { name: "charts.js", type: JS },
  { name: "logs.js", type: JS },
  { name: "job.js", type: JS },
  { name: "uPlot.iife.min.js", type: JS, vendored: "uplot/dist/uPlot.iife.min.js" },
  { name: "uPlot.min.css", type: CSS, vendored: "uplot/dist/uPlot.min.css" },
];

// The page shows names, reasons and log lines that API users and workers wrote, so scripts come only from this
// origin: an escaping slip cannot become script execution. The charts draw on canvas, so no img-src.
const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The Workers page at /ui/, without auth: the files hold no data. The page asks for an API key and reads
 * /admin/overview and /admin/events with it, so the key never appears in a URL or a log.
 */
export async function uiRoutes(app: FastifyInstance, opts: UiRoutesOptions): Promise<void> {
  const dir = opts.dir ?? __dirname;
  // Read once, at start: a missing file fails the server's start (and its tests), not a visitor's request.
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const file of UI_FILES) {
    const beside = path.join(dir, file.name);
    const where = file.vendored && !(await exists(beside)) ? require.resolve(file.vendored) : beside;
    const body = await fs.readFile(where).catch((err: Error) => {
      throw new Error(`the Workers page's ${file.name} is missing from ${dir}: ${err.message}`);
    });
    files.set(file.name, { body, type: file.type });
  }

  const send = (reply: FastifyReply, name: string) => {
    const file = files.get(name)!;
    return reply
      .header("content-type", file.type)
      // Revalidate every load, so a control plane upgrade never runs an old app.js against a new API.
      .header("cache-control", "no-cache")
      .header("x-content-type-options", "nosniff")
      .header("content-security-policy", CONTENT_SECURITY_POLICY)
      .send(file.body);
  };

  // Relative links (app.js, ../admin/events) resolve against /ui/, which keeps the page working behind a
  // proxy that mounts the control plane under a path; so /ui sends the browser to /ui/ (relative Location).
  app.get("/ui", async (_request, reply) => reply.redirect("ui/"));
  app.get("/ui/", async (_request, reply) => send(reply, "index.html"));
  app.get("/ui/:file", async (request, reply) => {
    const { file } = request.params as { file: string };
    if (!files.has(file)) return reply.status(404).send({ error: "not_found", message: `the Workers page has no file ${file}` });
    return send(reply, file);
  });
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);
