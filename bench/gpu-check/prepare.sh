#!/usr/bin/env bash
# Prepares the device check (a machine with a real GPU, no registry, maybe no Node): Node 20 itself (xz, ~24 MB),
# Berth's control plane bundled like its image, and the check and its worker bundled, into .gpucheck/ (keep it out
# of git: echo /.gpucheck/ >> .git/info/exclude). On the device, from the repository root:
#   cd .gpucheck && python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('node.xz'),open('/tmp/node','wb'))" \
#     && chmod +x /tmp/node && OUT=$OUT /tmp/node check.js
# check.ts says what it does; it needs nvidia-smi and python3 with PyTorch there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=.gpucheck
mkdir -p "$out"
[ -f "$out/node.xz" ] || xz -T0 -6 -c "$(command -v node)" >"$out/node.xz"
# The control plane as its image has it (server/control-plane-image.ts): the bundle, the page, better-sqlite3.
node --import tsx scripts/bundle-control-plane.ts
node --import tsx -e 'require("./server/control-plane-image").assembleContext(process.cwd(), process.argv[1])' "$out"
bundle() { npx esbuild "$1" --bundle --platform=node --target=node20 --external:better-sqlite3 --outfile="$out/$2" --log-level=warning; }
bundle bench/gpu-check/check.ts check.js
bundle bench/gpu-check/worker.ts worker.js
du -sh "$out"
