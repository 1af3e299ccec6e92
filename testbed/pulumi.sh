#!/usr/bin/env bash
# Pulumi engine for the test bed: uses `pulumi` on PATH when it is the pinned version, otherwise builds the CLI
# (from github.com/pulumi/pulumi/pkg/v3 at the pinned version) and Berth's Node.js language host from Go
# modules into $BERTH_CACHE/pulumi-vX/bin, and writes the pulumi-resource-pulumi-nodejs shim beside them.
# Prints the bin directory to put first on PATH.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="$PULUMI_HOME_DIR/bin"
mkdir -p "$bin"

if command -v pulumi >/dev/null && [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ] \
   && [ "$(dirname "$(command -v pulumi)")" != "$bin" ]; then
  log "pulumi v$PULUMI_VERSION found on PATH at $(command -v pulumi)"
  echo "$(dirname "$(command -v pulumi)")"
  exit 0
fi

command -v go >/dev/null || die "Go is needed to build the Pulumi CLI; install Go 1.25 or newer"
cd "$BERTH_ROOT/testbed/pulumi"
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

if [ ! -x "$bin/pulumi" ]; then
  log "building pulumi v$PULUMI_VERSION from Go modules (cold: ~10 min on 2 cores; cached afterwards)"
  go build -trimpath -ldflags "$ldflags" -o "$bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$bin/pulumi.tmp" "$bin/pulumi"
else
  log "pulumi v$PULUMI_VERSION cached at $bin/pulumi"
fi

# The language host is small and Berth's own: rebuild it whenever its source is newer than the binary.
if [ ! -x "$bin/pulumi-language-nodejs" ] || [ -n "$(find pulumi-language-nodejs go.mod go.sum -newer "$bin/pulumi-language-nodejs")" ]; then
  log "building pulumi-language-nodejs"
  go build -trimpath -ldflags "-s -w -X main.version=$PULUMI_VERSION" -o "$bin/pulumi-language-nodejs" ./pulumi-language-nodejs
fi

# The CLI looks for the dynamic provider plugin by this exact name; without it, it tries to download one.
cat > "$bin/pulumi-resource-pulumi-nodejs" <<'SHIM'
#!/bin/sh
exec node "$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")" "$@"
SHIM
chmod +x "$bin/pulumi-resource-pulumi-nodejs"

echo "$bin"
