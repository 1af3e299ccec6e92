#!/usr/bin/env bash
# Builds the control plane's image from this checkout, as `berth image build` does from an installed package:
# the bundle is made afresh (scripts/bundle-control-plane.ts), then the CLI builds the image on the local engine.
#   bash scripts/build-control-plane-image.sh [TAG]        (default berth/control-plane:<package version>)
# BASE_IMAGE defaults to node:20-bookworm-slim; the test bed sets its local stand-in ($BERTH_NODE_IMAGE).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag="${1:-berth/control-plane:$(node -p 'require("./package.json").version')}"
base="${BASE_IMAGE:-${BERTH_NODE_IMAGE:-node:20-bookworm-slim}}"
node --import tsx scripts/bundle-control-plane.ts
node bin/berth image build --tag "$tag" --base "$base"
