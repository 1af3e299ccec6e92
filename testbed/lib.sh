# Shared by the test bed scripts: versions, cache locations and logging. Source it, do not run it.
set -euo pipefail
# A failing step inside $(...) must stop the script too, not hand an empty value to the next step.
shopt -s inherit_errexit

BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BERTH_CACHE="${BERTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}"

# One Pulumi version for the npm SDK (package.json) and the CLI built here. 3.248.0 is the newest release
# whose @pulumi/pulumi still supports Node 20 (later ones declare node >= 22).
PULUMI_VERSION="3.248.0"
PULUMI_HOME_DIR="$BERTH_CACHE/pulumi-v$PULUMI_VERSION"

# The runpod Python package (client and worker SDK) the compatibility tests use; runpod-compat.md describes 1.12.0.
RUNPOD_PYTHON_VERSION="1.12.0"
# The official `openai` Python client, for the tests of the OpenAI-compatible route (test/compat/openai.test.ts).
OPENAI_PYTHON_VERSION="3.51.0"

# The container registry the test bed runs locally (testbed/registry.sh).
REGISTRY_VERSION="v3.1.2"

# Pulumi's Kubernetes provider plugin, built from Go modules (testbed/pulumi-kubernetes.sh) at the version of the
# @pulumi/kubernetes npm package in package.json.
PULUMI_KUBERNETES_VERSION="4.24.1"

# The Kubernetes control plane the test bed runs locally (testbed/kubernetes.sh): Kubernetes' own apiserver,
# controller manager, scheduler and kubectl, etcd, and kwok's fake nodes, all built from Go modules.
KUBERNETES_VERSION="v1.36.3"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"
# crictl for the real node (testbed/kubelet.sh): clears a stopped node's pods; any recent one speaks CRI v1.
CRICTL_VERSION="v1.37.0"
# The Service addresses of the test cluster: kube-apiserver's default range, which kwokctl keeps.
KUBE_SERVICE_CIDR="10.0.0.0/24"

# The oldest PostgreSQL Berth's production store supports (testbed/postgres.sh runs Debian's, 15 on bookworm).
POSTGRES_MIN_MAJOR=15

BASE_IMAGE_SUITE="bookworm"
BASE_IMAGE="berth/debian:$BASE_IMAGE_SUITE"
NODE_IMAGE="berth/node:$(node --version | tr -d v)-$BASE_IMAGE_SUITE"
RUNPOD_PYTHON_IMAGE="berth/runpod-python:$RUNPOD_PYTHON_VERSION-$BASE_IMAGE_SUITE"

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  log "installing Debian packages: $*"
  if [ ! -f "$BERTH_CACHE/.apt-updated" ]; then
    apt-get update -qq
    mkdir -p "$BERTH_CACHE" && touch "$BERTH_CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# A new Debian root filesystem under the cache, by debootstrap --variant=minbase with the packages in $1 (a comma-
# separated list, or empty), its log in $2. Prints its directory.
debootstrap_rootfs() {
  local include="$1" log_file="$2" rootfs
  command -v debootstrap >/dev/null || apt_install debootstrap
  rootfs="$(mktemp -d "$BERTH_CACHE/rootfs.XXXXXX")"
  debootstrap --variant=minbase ${include:+"--include=$include"} "$BASE_IMAGE_SUITE" "$rootfs" http://deb.debian.org/debian \
    >"$log_file" 2>&1 || { tail -n 20 "$log_file" >&2; rm -rf "$rootfs"; die "debootstrap failed"; }
  echo "$rootfs"
}
