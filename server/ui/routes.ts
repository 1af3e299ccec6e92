import fs from "node:fs/promises";
import path from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";

export interface UiRoutesOptions {
  /** Where index.html, app.js and style.css are: this folder in a checkout, next to the bundle in the image. */
  dir?: string;
}

const FILES = [
  { name: "index.html", type: "text/html; charset=utf-8" },
  { name: "app.js", type: "text/javascript; charset=utf-8" },
  { name: "style.css", type: "text/css; charset=utf-8" },
] as const;

// The page shows names and reasons that API users wrote, so scripts come only from this origin: an escaping
// slip in app.js cannot become script execution. The SVG chart is inline markup, not an image, so no img-src.
const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The Workers page at /ui/, without auth: the files hold no data. The page asks for an API key and reads
 * /admin/overview and /admin/events with it, so the key never appears in a URL or a log.
 */
export async function uiRoutes(app: FastifyInstance, opts: UiRoutesOptions): Promise<void> {
  const dir = opts.dir ?? __dirname;
  // Read once, at start: a missing file fails the server's start (and its tests), not a visitor's request.
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const file of FILES) {
    const body = await fs.readFile(path.join(dir, file.name)).catch((err: Error) => {
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
  app.get("/ui/index.html", async (_request, reply) => send(reply, "index.html"));
  app.get("/ui/app.js", async (_request, reply) => send(reply, "app.js"));
  app.get("/ui/style.css", async (_request, reply) => send(reply, "style.css"));
}
