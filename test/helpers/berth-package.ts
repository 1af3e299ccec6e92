import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(__dirname, "../..");
const NPM_TIMEOUT_MS = 8 * 60_000;

/**
 * A PULUMI_HOME holding the test bed's Kubernetes provider plugin. @pulumi/kubernetes's install script runs
 * `pulumi plugin install resource kubernetes <version>`, which would look the package up in Pulumi's registry and
 * download the plugin; with the plugin already there and registry look-ups off (PULUMI_DISABLE_REGISTRY_RESOLVE),
 * it finds it and asks nobody, as on an air-gapped host that installed the plugin from a file.
 */
export function pulumiHomeWithPlugins(home: string): string {
  fs.mkdirSync(home, { recursive: true });
  const version: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules/@pulumi/kubernetes/package.json"), "utf8")).version;
  const binary = execFileSync("which", ["pulumi-resource-kubernetes"], { encoding: "utf8" }).trim();
  execFileSync("pulumi", ["plugin", "install", "resource", "kubernetes", version, "--file", binary], {
    env: { ...process.env, PULUMI_HOME: home },
    stdio: "ignore",
  });
  return home;
}

let sharedPulumiHome: string | undefined;

/**
 * npm as a user runs it, but offline: testbed/npm-cache.sh filled its cache with what an install of Berth
 * resolves, better-sqlite3's prebuilt binary included (its install script finds it there and asks GitHub
 * nothing), and the egress guard refuses the registry. PULUMI_HOME: see pulumiHomeWithPlugins.
 */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    PULUMI_HOME: extra.PULUMI_HOME ?? (sharedPulumiHome ??= pulumiHomeWithPlugins(outsideDir("pulumi-home"))),
    ...extra,
  };
}

/**
 * A new empty directory outside this checkout, so nothing in it can resolve a module from the checkout. Removed
 * when the test process exits: an installed project is most of a gigabyte, and runs left them behind until the
 * disk was too full for runpod-python's own disk check.
 */
export function outsideDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-${prefix}-`));
  if (dir.startsWith(REPO_ROOT + path.sep)) throw new Error(`${dir} is inside the checkout`);
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let packed: Promise<string> | undefined;

/** `npm pack` of this checkout (its prepare script builds dist/ first), once per test process: the tarball's path. */
export function packBerth(): Promise<string> {
  packed ??= (async () => {
    const dir = outsideDir("pack");
    const { stdout } = await run("npm", ["pack", "--pack-destination", dir, "--loglevel=error"], {
      cwd: REPO_ROOT,
      env: npmEnv(),
      timeout: NPM_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = path.join(dir, stdout.trim().split("\n").pop()!);
    if (!fs.existsSync(tarball)) throw new Error(`npm pack printed ${stdout}, and no tarball is at ${tarball}`);
    return tarball;
  })();
  return packed;
}

/** `npm <args>` in `cwd`, offline; fails with npm's own output. */
export async function npm(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run("npm", [...args, "--loglevel=error"], { cwd, env: npmEnv(env), timeout: NPM_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const failed = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(" ")} in ${cwd} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

/** A new project directory outside the checkout, with a package.json, as `npm init -y` leaves it. */
export async function emptyProject(prefix: string): Promise<string> {
  const dir = outsideDir(prefix);
  await npm(dir, ["init", "-y"]);
  return dir;
}
