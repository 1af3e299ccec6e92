#!/usr/bin/env bash
# A real Kubernetes control plane for the test bed, which has no registry to pull kind or k3s images from:
# Kubernetes' own kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (from k8s.io/kubernetes through
# the wrapper module testbed/kubernetes/k8s), etcd (testbed/kubernetes/etcd) and kwok + kwokctl, all built from Go
# modules at pinned versions into $BERTH_CACHE/kubernetes-vX/bin. kwokctl runs them as local processes (cluster
# "berth", state in $BERTH_CACHE/kwok) with kwok standing in for the kubelets of fake GPU nodes, and the script
# applies testbed/kubernetes/cluster.yaml: those nodes, a ReadWriteMany storage class and NFS volumes for it.
# Reused when its apiserver answers. Prints BERTH_KUBECONFIG=<kubeconfig> and BERTH_KUBE_BIN=<bin directory>.
# `kubernetes.sh stop` deletes the cluster.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="$BERTH_CACHE/kubernetes-$KUBERNETES_VERSION/bin"
cluster="berth"
export KWOK_WORKDIR="$BERTH_CACHE/kwok"
kubeconfig="$KWOK_WORKDIR/clusters/$cluster/kubeconfig.yaml"
# kwokctl adds the cluster's context to this kubeconfig on create and takes it out on delete; by default it would
# edit ~/.kube/config.
contexts="$KWOK_WORKDIR/kubeconfig"
# kwokctl calls kubectl from PATH; it must be this one, not whatever else is installed.
export PATH="$bin:$PATH"

kwokctl() {
  command kwokctl --name "$cluster" --config "$BERTH_ROOT/testbed/kubernetes/kwokctl.yaml" "$@" </dev/null >&2
}
kube() { command kubectl --kubeconfig "$kubeconfig" "$@"; }

if [ "${1:-}" = "stop" ]; then
  if [ -x "$bin/kwokctl" ] && [ -d "$KWOK_WORKDIR/clusters/$cluster" ]; then
    log "deleting the kwok cluster $cluster"
    kwokctl delete cluster --kubeconfig "$contexts"
  else
    log "no kwok cluster $cluster to delete"
  fi
  exit 0
fi
[ $# -eq 0 ] || die "usage: kubernetes.sh [stop]"

mkdir -p "$bin"
missing() { for b in "$@"; do [ -x "$bin/$b" ] || return 0; done; return 1; }
need_go() { command -v go >/dev/null || die "Go is needed to build the Kubernetes control plane; install Go 1.26 or newer"; }

# The control plane's binaries, and the kubelet and kube-proxy of the real node (testbed/kubelet.sh); only the
# missing ones are built, so a cache from before the real node gains just those two.
k8s_commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
to_build=()
for command in "${k8s_commands[@]}"; do [ -x "$bin/$command" ] || to_build+=("k8s.io/kubernetes/cmd/$command"); done
if [ ${#to_build[@]} -gt 0 ]; then
  need_go
  module="$BERTH_ROOT/testbed/kubernetes/k8s"
  grep -Eq "(^|\s)k8s.io/kubernetes $KUBERNETES_VERSION(\s|\$)" "$module/go.mod" \
    || die "$module/go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION"
  IFS=. read -r major minor _ <<<"${KUBERNETES_VERSION#v}"
  # kwokctl reads each binary's --version to choose its flags; without these stamps they all say v0.0.0.
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  done
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"
  log "building ${to_build[*]##*/} $KUBERNETES_VERSION from Go modules (cold: ~8 min on 2 cores; cached afterwards)"
  started=$SECONDS
  rm -rf "$bin/k8s.tmp"
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$bin/k8s.tmp/" "${to_build[@]}")
  mv "$bin/k8s.tmp/"* "$bin/"
  rmdir "$bin/k8s.tmp"
  log "built the Kubernetes binaries in $((SECONDS - started)) s"
else
  log "Kubernetes $KUBERNETES_VERSION binaries cached in $bin"
fi

if missing etcd; then
  need_go
  module="$BERTH_ROOT/testbed/kubernetes/etcd"
  grep -Eq "(^|\s)go.etcd.io/etcd/server/v3 $ETCD_VERSION(\s|\$)" "$module/go.mod" \
    || die "$module/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  log "building etcd $ETCD_VERSION from Go modules (cold: ~1 min on 2 cores; cached afterwards)"
  started=$SECONDS
  (cd "$module" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
  log "built etcd in $((SECONDS - started)) s"
fi

if missing kwok kwokctl; then
  need_go
  log "building kwok and kwokctl $KWOK_VERSION from Go modules (cold: ~2 min on 2 cores; cached afterwards)"
  started=$SECONDS
  rm -rf "$bin/kwok.tmp"
  GOBIN="$bin/kwok.tmp" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  mv "$bin/kwok.tmp/"* "$bin/"
  rmdir "$bin/kwok.tmp"
  log "built kwok and kwokctl in $((SECONDS - started)) s"
fi

healthy() {
  [ -f "$kubeconfig" ] && [ "$(kube --request-timeout=5s get --raw /healthz 2>/dev/null)" = "ok" ]
}

# A cluster made from another kwokctl.yaml is made again: kwokctl reads it only at creation.
config_hash="$(sha256sum "$BERTH_ROOT/testbed/kubernetes/kwokctl.yaml" | cut -c1-16)"
config_stamp="$KWOK_WORKDIR/clusters/$cluster/berth-config-hash"
if healthy && [ "$(cat "$config_stamp" 2>/dev/null)" = "$config_hash" ]; then
  log "kwok cluster $cluster answers ($kubeconfig)"
else
  if [ -d "$KWOK_WORKDIR/clusters/$cluster" ]; then
    log "deleting the stale (or differently configured) kwok cluster $cluster"
    kwokctl delete cluster --kubeconfig "$contexts" --force
  fi
  log "creating the kwok cluster $cluster (logs: $KWOK_WORKDIR/clusters/$cluster/logs)"
  kwokctl create cluster --runtime binary --kube-admission --kube-authorization \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --etcd-binary "$bin/etcd" \
    --kwok-controller-binary "$bin/kwok" \
    --kubeconfig "$contexts" --wait 2m
  for _ in $(seq 1 60); do healthy && break; sleep 1; done
  healthy || {
    tail -n 20 "$KWOK_WORKDIR/clusters/$cluster/logs/"*.log >&2 || true
    die "the kwok cluster $cluster did not answer /healthz"
  }
  echo "$config_hash" >"$config_stamp"
fi

# Pods cannot be created in a namespace until the controller manager has made its default service account.
for _ in $(seq 1 60); do kube get serviceaccount default >/dev/null 2>&1 && break; sleep 1; done
kube get serviceaccount default >/dev/null || die "the controller manager made no default service account"

# Server-side apply, then the nodes' status again through its subresource: the API keeps a Node's status on
# create but ignores it on update, and kwok keeps whatever capacity and allocatable it finds.
manifest="$BERTH_ROOT/testbed/kubernetes/cluster.yaml"
log "applying $manifest"
kube apply --server-side --force-conflicts --field-manager=berth-testbed -f "$manifest" >&2
kube apply --server-side --force-conflicts --field-manager=berth-testbed --subresource=status -l type=kwok \
  -f "$manifest" >&2

# The volumes are Retain: a deleted claim leaves its volume Released. Clearing claimRef makes it Available again;
# a real node's volume (berth-local, a directory here) is emptied first, as a recycler would, so the next claim
# starts from nothing (a control plane's store from an earlier run included).
released="$(kube get pv -o jsonpath='{range .items[*]}{.metadata.name} {.spec.storageClassName} {.status.phase} {.spec.hostPath.path}{"\n"}{end}' \
  | awk '($2 == "berth-rwx" || $2 == "berth-local") && $3 == "Released" { print $1, $2, $4 }')"
while read -r pv class dir; do
  [ -n "$pv" ] || continue
  log "making the released volume $pv available again"
  if [ "$class" = berth-local ] && [ -d "$dir" ]; then find "$dir" -mindepth 1 -delete; fi
  kube patch pv "$pv" --type=json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >&2
done <<<"$released"

kube wait --for=condition=Ready node -l type=kwok --timeout=60s >&2
gpus="$(kube get nodes -l type=kwok -o jsonpath='{range .items[*]}{.metadata.name}={.status.allocatable.nvidia\.com/gpu} {end}')"
log "fake GPU nodes: $gpus"
[ -n "$gpus" ] && [[ "$gpus" != *"= "* ]] || die "a fake node has no allocatable nvidia.com/gpu"

echo "BERTH_KUBECONFIG=$kubeconfig"
echo "BERTH_KUBE_BIN=$bin"
