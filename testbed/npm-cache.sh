#!/usr/bin/env bash
# Fills npm's own cache with everything that installing Berth's package resolves, as a user does it: a `pulumi new`
# project from a template (templates/*/package.json) installs its own dependencies first, then Berth (its
# package.json's dependencies) goes into it, or into an empty project. The tests that do the same
# (test/package/) then run `npm install --offline` under the egress guard, which refuses the registry. Scratch
# installs do the resolving, in that order, once for each set of dependencies.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# better-sqlite3's install script asks GitHub for a prebuilt binary and, failing that, compiles one (a minute on two
# cores, for every install). prebuild-install looks in npm's cache (_prebuilds/) before it asks, so a binary
# compiled here once per version is what each offline install then unpacks, as on a host that downloaded it before.
seed_sqlite_prebuild() {  # DIR: an installed better-sqlite3
  local dir="$1" cached
  cached="$(cd "$dir" && node -e '
    const pkg = require("./package.json"), util = require("prebuild-install/util");
    const options = { ...require("prebuild-install/rc")(pkg), pkg };
    console.log(util.cachedPrebuild(util.getDownloadUrl(options)));
  ')"
  [ -f "$cached" ] && return 0
  if [ ! -f "$dir/build/Release/better_sqlite3.node" ]; then
    log "compiling better-sqlite3 $(node -p "require('$dir/package.json').version") for npm's prebuild cache"
    (cd "$dir/../.." && npm rebuild better-sqlite3 --build-from-source --loglevel=error >&2)
  fi
  mkdir -p "$(dirname "$cached")"
  tar -czf "$cached" -C "$dir" build/Release/better_sqlite3.node
}
# The checkout's own (npm ci built it): what an install from a git URL builds with, from the lockfile.
seed_sqlite_prebuild "$BERTH_ROOT/node_modules/better-sqlite3"

berth_dependencies="$(node -p 'JSON.stringify(require(process.argv[1]).dependencies)' "$BERTH_ROOT/package.json")"
templates=("$BERTH_ROOT"/templates/*/package.json)
stamp="$BERTH_CACHE/npm-install-$(node -p '
  process.argv.slice(1).map((file) => JSON.stringify(require(file).dependencies)).join("\n")
' "$BERTH_ROOT/package.json" "${templates[@]}" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  log "npm cache holds Berth's install"
  exit 0
fi
log "filling npm's cache with what an install of Berth resolves"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
install_into() {  # DIR DEPENDENCIES_JSON: adds the dependencies to DIR's project, as `npm install` of them would
  mkdir -p "$1"
  [ -f "$1/package.json" ] || echo '{"name": "scratch", "version": "0.0.0", "private": true}' >"$1/package.json"
  node -e '
    const fs = require("fs"), [file, added] = process.argv.slice(1);
    const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
    manifest.dependencies = { ...manifest.dependencies, ...JSON.parse(added) };
    fs.writeFileSync(file, JSON.stringify(manifest));
  ' "$1/package.json" "$2"
  (cd "$1" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
}
install_into "$scratch/berth" "$berth_dependencies"
for template in "${templates[@]}"; do
  name="$(basename "$(dirname "$template")")"
  install_into "$scratch/$name" "$(node -p 'JSON.stringify(require(process.argv[1]).dependencies)' "$template")"
  install_into "$scratch/$name" "$berth_dependencies"
done
for installed in "$scratch"/*/node_modules/better-sqlite3; do seed_sqlite_prebuild "$installed"; done
mkdir -p "$BERTH_CACHE"
touch "$stamp"
