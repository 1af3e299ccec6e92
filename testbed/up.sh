#!/usr/bin/env bash
# Brings up the whole test bed, skipping whatever is already there, and prints `export` lines for the
# shell that runs Berth's tests or demo:   testbed_env="$(bash testbed/up.sh)" && eval "$testbed_env"
#   1. Docker engine (testbed/docker.sh)      3. Pulumi CLI + language host (testbed/pulumi.sh)
#   2. offline base images (testbed/images.sh) 4. runpod from PyPI, and an image with it (testbed/python.sh)
#   5. the project's npm dependencies (npm ci)  6. a local container registry (testbed/registry.sh)
#   7. a Kubernetes control plane with kwok's fake GPU nodes (testbed/kubernetes.sh; cold: ~10 min of Go builds)
#      and a real node beside them: kubelet, kube-proxy, containerd (testbed/kubelet.sh)
#   8. Pulumi's Kubernetes provider plugin (testbed/pulumi-kubernetes.sh; cold: ~11 min of Go build)
#   9. Debian's Chromium for the workers page's browser tests (testbed/chromium.sh)
#  10. Debian's PostgreSQL on 127.0.0.1 for the production store's tests (testbed/postgres.sh)
#  11. Debian's HAProxy, for the tests of several control planes behind a load balancer (testbed/haproxy.sh)
#  12. npm's cache filled with what an install of Berth's package resolves, for the offline install tests
#      (testbed/npm-cache.sh)
# `up.sh --demo` brings up only what the main job (scripts/demo.sh) uses: 1, 2, 3 and 5. The rest is for tests,
# and a first demo on a fresh machine should not wait twenty minutes for a Kubernetes build it never uses.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  "") everything=true ;;
  --demo) everything=false ;;
  *) die "usage: up.sh [--demo]" ;;
esac

[[ "$(node --version)" == v20.* ]] || die "Berth needs Node 20; found $(node --version)"

timed() {
  local started=$SECONDS
  "$@"
  log "$(basename "$2") done in $((SECONDS - started)) s"
}

docker_host="$(timed bash "$BERTH_ROOT/testbed/docker.sh")"
images="$(DOCKER_HOST="$docker_host" timed bash "$BERTH_ROOT/testbed/images.sh")"
pulumi_bin="$(timed bash "$BERTH_ROOT/testbed/pulumi.sh")"
if $everything; then
  python="$(DOCKER_HOST="$docker_host" timed bash "$BERTH_ROOT/testbed/python.sh")"
  registry="$(timed bash "$BERTH_ROOT/testbed/registry.sh")"
  postgres="$(timed bash "$BERTH_ROOT/testbed/postgres.sh")"
  haproxy="$(timed bash "$BERTH_ROOT/testbed/haproxy.sh")"
  kubernetes="$(timed bash "$BERTH_ROOT/testbed/kubernetes.sh")"
  real_node="$(BERTH_REGISTRY_ADDR="${registry#BERTH_REGISTRY=}" timed bash "$BERTH_ROOT/testbed/kubelet.sh")"
  pulumi_kubernetes_bin="$(timed bash "$BERTH_ROOT/testbed/pulumi-kubernetes.sh")"
  chromium="$(timed bash "$BERTH_ROOT/testbed/chromium.sh")"
fi

# npm ci only when package-lock.json changed since the last install into this clone.
lock_hash="$(sha256sum "$BERTH_ROOT/package-lock.json" | cut -d' ' -f1)"
stamp="$BERTH_ROOT/node_modules/.berth-lock-hash"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  log "installing npm dependencies (npm ci)"
  (cd "$BERTH_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" >"$stamp"
else
  log "npm dependencies up to date"
fi
if $everything; then timed bash "$BERTH_ROOT/testbed/npm-cache.sh"; fi

echo "export DOCKER_HOST='$docker_host'"
while IFS='=' read -r key value; do echo "export $key='$value'"; done <<<"$images"
echo "export PULUMI_SKIP_UPDATE_CHECK=true"
echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
if ! $everything; then
  echo "export PATH='$pulumi_bin':\"\$PATH\""
  exit 0
fi
while IFS='=' read -r key value; do echo "export $key='$value'"; done <<<"$python"
echo "export $chromium"
echo "export $registry"
while IFS='=' read -r key value; do echo "export $key='$value'"; done <<<"$postgres"
echo "export $haproxy"
while IFS='=' read -r key value; do echo "export $key='$value'"; done <<<"$kubernetes"
while IFS='=' read -r key value; do echo "export $key='$value'"; done <<<"$real_node"
echo "export PATH='$pulumi_bin':'$pulumi_kubernetes_bin':'$(sed -n 's/^BERTH_KUBE_BIN=//p' <<<"$kubernetes")':\"\$PATH\""
