#!/usr/bin/env bash
# A local container registry for the test bed, which has no other: the CNCF distribution registry, built from Go
# modules at a pinned version (cached in $BERTH_CACHE) and run in the background on 127.0.0.1, where the Docker
# engine allows plain HTTP (127.0.0.0/8 is an insecure registry by default). Tests push an image to it and pull it
# back, so the runtime's pull path runs against a registry that answers. Reused when it already answers.
# Prints BERTH_REGISTRY=<host:port>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

addr="${BERTH_REGISTRY_ADDR:-127.0.0.1:5000}"
answers() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://$addr/v2/"
}

if answers; then
  log "registry at $addr answers"
else
  dir="$BERTH_CACHE/registry-$REGISTRY_VERSION"
  if [ ! -x "$dir/registry" ]; then
    command -v go >/dev/null || die "Go is needed to build the registry; install Go 1.25 or newer"
    log "building the distribution registry $REGISTRY_VERSION from Go modules (cold: ~90 s)"
    GOBIN="$dir" go install "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" >&2
  fi
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
CONFIG
  log "starting the registry on $addr"
  setsid nohup "$dir/registry" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
  answers || { tail -n 20 "$dir/registry.log" >&2; die "the registry did not answer on $addr"; }
fi
echo "BERTH_REGISTRY=$addr"
