// Bundles Berth's server and CLI into dist/control-plane/, the part of the package that runs without TypeScript:
//   berth.js    server/cli.ts and everything it imports in one file (esbuild), except better-sqlite3, whose
//               native module must be the one npm built for the host (`berth image build` copies it beside);
//   ui/         the Workers page's files, which server/app.ts serves from beside the bundle;
//   Dockerfile  the control plane's image, which `berth image build` builds FROM a Node base image.
// `npm run build` runs it after tsc, so `npm pack` and an install from a git URL both ship the bundle.
import fs from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";
import { UI_FILES } from "../server/ui/routes";

const root = path.resolve(__dirname, "..");
const out = path.join(root, "dist/control-plane");

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, "ui"), { recursive: true });
buildSync({
  entryPoints: [path.join(root, "server/cli.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  external: ["better-sqlite3"],
  outfile: path.join(out, "berth.js"),
  logLevel: "warning",
});
for (const file of UI_FILES) {
  const from = file.vendored ? require.resolve(file.vendored, { paths: [root] }) : path.join(root, "server/ui", file.name);
  fs.copyFileSync(from, path.join(out, "ui", file.name));
}
fs.copyFileSync(path.join(root, "server/Dockerfile"), path.join(out, "Dockerfile"));
