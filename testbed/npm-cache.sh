#!/usr/bin/env bash
# Fills npm's own cache with everything that installing Berth's package resolves, as a user does it: a `pulumi new`
# project from a template (templates/*/package.json) installs its own dependencies first, then Berth (its
# package.json's dependencies) goes into it, or into an empty project. The tests that do the same
# (test/package/) then run `npm install --offline` under the egress guard, which refuses the registry. Scratch
# installs do the resolving, in that order, once for each set of dependencies.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

berth_dependencies="$(node -p 'JSON.stringify(require(process.argv[1]).dependencies)' "$BERTH_ROOT/package.json")"
templates=("$BERTH_ROOT"/templates/*/package.json)
stamp="$BERTH_CACHE/npm-cache-$(node -p '
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
mkdir -p "$BERTH_CACHE"
touch "$stamp"
