#!/usr/bin/env bash
# Fills npm's own cache with everything that installing Berth's package into an empty project resolves: its
# dependencies and those of the `pulumi new` templates (templates/*/package.json). The tests that install Berth as
# a user would (test/package/) then run `npm install --offline` under the egress guard, which refuses the registry.
# A scratch install does the resolving, once for each set of dependencies.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

manifest="$(node -e '
  const fs = require("fs"), path = require("path");
  const root = process.argv[1];
  const dependencies = {};
  const templates = path.join(root, "templates");
  for (const dir of fs.existsSync(templates) ? fs.readdirSync(templates) : []) {
    const file = path.join(templates, dir, "package.json");
    if (fs.existsSync(file)) Object.assign(dependencies, JSON.parse(fs.readFileSync(file, "utf8")).dependencies);
  }
  Object.assign(dependencies, require(path.join(root, "package.json")).dependencies);
  console.log(JSON.stringify({ name: "berth-npm-cache", version: "0.0.0", private: true, dependencies }));
' "$BERTH_ROOT")"
stamp="$BERTH_CACHE/npm-cache-$(sha256sum <<<"$manifest" | cut -c1-16)"
if [ -f "$stamp" ]; then
  log "npm cache holds Berth's install"
  exit 0
fi
log "filling npm's cache with what an install of Berth resolves"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
echo "$manifest" >"$scratch/package.json"
(cd "$scratch" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
mkdir -p "$BERTH_CACHE"
touch "$stamp"
