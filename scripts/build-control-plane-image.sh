#!/usr/bin/env bash
# Builds the control plane's image: esbuild bundles server/cli.ts into one file, better-sqlite3's native module is
# copied beside it (the one npm built for this Node and glibc), with the workers view's page files, and
# server/Dockerfile puts them on BASE_IMAGE.
#   bash scripts/build-control-plane-image.sh [TAG]        (default berth/control-plane:<package version>)
# BASE_IMAGE defaults to node:20-bookworm-slim; the test bed sets its local stand-in ($BERTH_NODE_IMAGE).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag="${1:-berth/control-plane:$(node -p 'require("./package.json").version')}"
base="${BASE_IMAGE:-${BERTH_NODE_IMAGE:-node:20-bookworm-slim}}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

npx esbuild server/cli.ts --bundle --platform=node --target=node20 --external:better-sqlite3 \
  --outfile="$context/berth.js" --log-level=warning
mkdir -p "$context/node_modules/better-sqlite3/build/Release"
cp -r node_modules/better-sqlite3/package.json node_modules/better-sqlite3/lib "$context/node_modules/better-sqlite3/"
cp node_modules/better-sqlite3/build/Release/better_sqlite3.node "$context/node_modules/better-sqlite3/build/Release/"
cp -r node_modules/bindings node_modules/file-uri-to-path "$context/node_modules/"
# The workers view's page is served from files beside the bundle (server/app.ts looks in <its directory>/ui).
mkdir -p "$context/ui"
cp server/ui/*.html server/ui/*.js server/ui/*.css node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$context/ui/"
cp server/Dockerfile "$context/"
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$base" -t "$tag" "$context" >/dev/null
echo "$tag"
