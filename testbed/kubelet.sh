#!/usr/bin/env bash
# A real node in the test cluster, beside kwok's fake GPU nodes, so pods really pull their image, start, pass their
# probes and stop: Kubernetes' kubelet and kube-proxy (built by kubernetes.sh from the same release as the control
# plane), Debian's containerd and runc as its container runtime (a containerd of its own, apart from dockerd's), and
# Debian's CNI plugins (bridge + host-local) for a pod network on the bridge berth-cni0. It pulls from the test
# bed's registry over plain HTTP, its pause image included (testbed/node/pause.go, built and pushed here: the
# machine has no registry.k8s.io).
#
# Choices this machine forces, with the reason:
#   - cgroup v1 and kubelet v1.36: `failCgroupV1: false` (its default has been true since 1.35), cgroupfs driver
#     (containerd 1.6 has no RuntimeConfig RPC, so the kubelet falls back to its cgroupDriver setting).
#   - No CAP_SYS_RESOURCE here: containerd clamps the OOM scores the kubelet asks for (restrict_oom_score_adj).
#   - The node's address is 10.89.0.1, added to loopback: a kubelet refuses a loopback node IP, and an address on
#     lo answers pods (through berth-cni0) and the apiserver without reaching any network off this machine.
#   - The kubelet lets anonymous callers in (AlwaysAllow): kwokctl's apiserver has no kubelet client certificate,
#     and pods/log reaches the kubelet as anonymous. It listens on 10.89.0.1 only.
#   - A GPU node without a GPU: our own device plugin (kubernetes/k8s/fake-gpu-plugin, the kubelet's real
#     device-plugin gRPC API) registers 2 fake nvidia.com/gpu devices and answers each allocation with
#     NVIDIA_VISIBLE_DEVICES; the node is labelled nvidia.com/gpu.product=NVIDIA-L4 (a type no kwok node has, so a
#     test picks the real node by GPU type) and berth.dev/node=real, and tainted nvidia.com/gpu=present:NoSchedule
#     as cloud GPU pools are: only pods that tolerate it (Berth's workers) land there.
#   - No CoreDNS (no Debian package): our own cluster DNS (kubernetes/k8s/cluster-dns) answers on 10.89.0.1:53 for
#     <service>.<namespace>.svc.cluster.local from the API server, so a worker pod reaches a control plane in the
#     cluster by its Service's name; it refuses every other name (never forwarded) and logs it for the egress guard.
# Needs kubernetes.sh (whose kwokctl.yaml leaves this node to its kubelet) and registry.sh first.
# Reused while its five processes run and the node is Ready. Prints BERTH_REAL_NODE=<node name> and
# BERTH_CLUSTER_DNS=<address:port> and BERTH_CLUSTER_DNS_LOG=<its log>.
# `kubelet.sh stop` stops the node's processes and its pods' containers, and deletes the node.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_NAME="berth-node"
NODE_IP="10.89.0.1"
GPU_PRODUCT="NVIDIA-L4"
GPU_COUNT=2
POD_CIDR="10.88.0.0/16"
BRIDGE="berth-cni0"

bin="$BERTH_CACHE/kubernetes-$KUBERNETES_VERSION/bin"
kubeconfig="$BERTH_CACHE/kwok/clusters/berth/kubeconfig.yaml"
pki="$BERTH_CACHE/kwok/clusters/berth/pki"
dir="$BERTH_CACHE/node"
run="/run/berth-node"
socket="$run/containerd.sock"
registry="${BERTH_REGISTRY_ADDR:-127.0.0.1:5000}"
pause_image="$registry/berth/pause:1"

kube() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
print_env() { printf 'BERTH_REAL_NODE=%s\nBERTH_CLUSTER_DNS=%s\nBERTH_CLUSTER_DNS_LOG=%s\n' "$NODE_NAME" "$NODE_IP:53" "$dir/cluster-dns.log"; }
running() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }
ready() {
  [ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = "True" ]
}

stop_processes() {
  local name pid
  for name in cluster-dns fake-gpu-plugin kube-proxy kubelet; do
    running "$name" && kill "$(cat "$run/$name.pid")"
  done
  # The pods' containers and sandboxes go with the node: a kubelet started later finds none of its old pods.
  if running containerd; then
    "$bin/crictl" --runtime-endpoint "unix://$socket" rmp --all --force >/dev/null 2>&1 || true
    kill "$(cat "$run/containerd.pid")"
  fi
  for name in cluster-dns fake-gpu-plugin kube-proxy kubelet containerd; do
    [ -f "$run/$name.pid" ] || continue
    pid="$(cat "$run/$name.pid")"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run/$name.pid"
  done
}

if [ "${1:-}" = "stop" ]; then
  log "stopping the real node $NODE_NAME"
  stop_processes
  [ -f "$kubeconfig" ] && kube delete node "$NODE_NAME" --ignore-not-found --wait=false >&2 || true
  exit 0
fi
[ $# -eq 0 ] || die "usage: kubelet.sh [stop]"

[ -x "$bin/kubelet" ] && [ -x "$bin/kube-proxy" ] || die "no kubelet or kube-proxy in $bin: run testbed/kubernetes.sh first"
[ -f "$kubeconfig" ] || die "no test cluster at $kubeconfig: run testbed/kubernetes.sh first"

if running containerd && running kubelet && running kube-proxy && running fake-gpu-plugin && running cluster-dns && ready; then
  log "real node $NODE_NAME is Ready"
  print_env
  exit 0
fi
stop_processes
# A Node left by an earlier kubelet still reads Ready with its GPUs until its lease runs out: without it, "Ready"
# below can only mean this kubelet registered and its device plugin reported.
kube delete node "$NODE_NAME" --ignore-not-found >&2

command -v containerd >/dev/null && command -v runc >/dev/null || apt_install containerd runc
[ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
mkdir -p "$dir/cni" "$run"

# crictl, to clear a stopped node's pods and for a person looking at the node; built once from Go modules.
if [ ! -x "$bin/crictl" ]; then
  command -v go >/dev/null || die "Go is needed to build crictl; install Go 1.26 or newer"
  log "building crictl $CRICTL_VERSION from Go modules (cold: ~1 min)"
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
fi

# The pause image, pushed to the registry the node pulls from.
pause_source="$BERTH_ROOT/testbed/node/pause.go"
pause_stamp="$dir/pause-$(sha256sum "$pause_source" | cut -c1-12)"
if [ ! -f "$pause_stamp" ] || ! curl -fsS -o /dev/null "http://$registry/v2/berth/pause/manifests/1"; then
  log "building the pause image $pause_image"
  rm -rf "$dir/pause"
  mkdir -p "$dir/pause"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/pause/pause" "$pause_source"
  tar -C "$dir/pause" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' - "$pause_image" >/dev/null
  docker push -q "$pause_image" >/dev/null
  touch "$pause_stamp"
fi

# The fake GPUs' device plugin and the cluster DNS, built from the module that builds the kubelet (it has the same
# API packages); each binary's name carries the hash of its source.
built_from_module() {
  local name="$1" binary
  binary="$dir/$name-$(sha256sum "$BERTH_ROOT/testbed/kubernetes/k8s/$name/main.go" | cut -c1-12)"
  if [ ! -x "$binary" ]; then
    command -v go >/dev/null || die "Go is needed to build $name; install Go 1.26 or newer"
    log "building $name"
    (cd "$BERTH_ROOT/testbed/kubernetes/k8s" && go build -trimpath -ldflags "-s -w" -o "$binary.tmp" "./$name")
    mv "$binary.tmp" "$binary"
  fi
  echo "$binary"
}
plugin="$(built_from_module fake-gpu-plugin)"
cluster_dns="$(built_from_module cluster-dns)"

ip addr show dev lo | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/32" dev lo

cat >"$dir/containerd.toml" <<CONFIG
version = 2
root = "$dir/containerd"
state = "$run/containerd"
[grpc]
  address = "$socket"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # This machine withholds CAP_SYS_RESOURCE, so no process may lower its OOM score below containerd's own (0), and
  # the kubelet asks -998 for a pod's sandbox: clamp to containerd's, as rootless containerd does.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$registry"]
    endpoint = ["http://$registry"]
CONFIG

# No masquerade: a pod reaches this machine's addresses and other pods, and nothing beyond (the egress guard
# rejects what tries, as it does for Docker's bridges).
cat >"$dir/cni/10-berth.conflist" <<CONFIG
{
  "cniVersion": "0.4.0",
  "name": "berth-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CONFIG

# Docker's FORWARD policy is DROP: let pods talk to each other (a Service's address, turned into a pod's, crosses
# the bridge) and get their answers.
iptables -w -N BERTH-NODE 2>/dev/null || iptables -w -F BERTH-NODE
iptables -w -A BERTH-NODE -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
iptables -w -A BERTH-NODE -o "$BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -w -C FORWARD -j BERTH-NODE 2>/dev/null || iptables -w -I FORWARD 1 -j BERTH-NODE

cat >"$dir/kubelet.yaml" <<CONFIG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$socket
failSwapOn: false
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
registerWithTaints:
  - key: nvidia.com/gpu
    value: present
    effect: NoSchedule
podCIDR: $POD_CIDR
# A test machine's disk runs fuller than a server's: evict only when it is really full.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 95
serializeImagePulls: false
CONFIG

cat >"$dir/kube-proxy.yaml" <<CONFIG
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# The kernel's conntrack limits as they are: a test machine's sysctls are not kube-proxy's to raise.
conntrack:
  maxPerCore: 0
CONFIG

start() {
  local name="$1"
  shift
  setsid nohup "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

log "starting containerd for the real node (log: $dir/containerd.log)"
# A containerd killed hard leaves its socket file behind, and a file is not a listener: the kubelet dialled such a
# socket and exited ("connection refused"). Remove it, then wait until the CRI API itself answers.
rm -f "$socket"
start containerd containerd --config "$dir/containerd.toml"
cri_ready() { "$bin/crictl" --runtime-endpoint "unix://$socket" --timeout 2s version >/dev/null 2>&1; }
for _ in $(seq 1 50); do cri_ready && break; running containerd || break; sleep 0.2; done
cri_ready || { tail -n 20 "$dir/containerd.log" >&2; die "containerd's CRI API did not answer at $socket"; }

log "starting the kubelet of $NODE_NAME (log: $dir/kubelet.log)"
start kubelet "$bin/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$kubeconfig" --cert-dir "$dir/kubelet-pki" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
  --node-labels "berth.dev/node=real,nvidia.com/gpu.product=$GPU_PRODUCT,nvidia.com/gpu.count=$GPU_COUNT"
log "starting the cluster DNS on $NODE_IP:53 (log: $dir/cluster-dns.log)"
start cluster-dns "$cluster_dns" --listen "$NODE_IP:53" --kubeconfig "$kubeconfig"
log "starting the fake GPU device plugin (log: $dir/fake-gpu-plugin.log)"
start fake-gpu-plugin "$plugin" --count "$GPU_COUNT"
log "starting kube-proxy (log: $dir/kube-proxy.log)"
start kube-proxy "$bin/kube-proxy" --config "$dir/kube-proxy.yaml"

for _ in $(seq 1 120); do
  ready && break
  running kubelet || { tail -n 30 "$dir/kubelet.log" >&2; die "the kubelet exited"; }
  sleep 1
done
ready || { tail -n 30 "$dir/kubelet.log" >&2; die "node $NODE_NAME did not become Ready within 120 s"; }
running kube-proxy || { tail -n 30 "$dir/kube-proxy.log" >&2; die "kube-proxy exited"; }
running cluster-dns || { tail -n 10 "$dir/cluster-dns.log" >&2; die "the cluster DNS exited (is something else on $NODE_IP:53?)"; }
gpus() { kube get node "$NODE_NAME" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}'; }
for _ in $(seq 1 60); do [ "$(gpus)" = "$GPU_COUNT" ] && break; sleep 1; done
[ "$(gpus)" = "$GPU_COUNT" ] || { tail -n 20 "$dir/fake-gpu-plugin.log" >&2; die "the node has $(gpus) allocatable GPUs, not $GPU_COUNT"; }
# The pod network in the Node, where tests and tools read it; the controller manager allocates none (no
# --allocate-node-cidrs), and the kubelet's podCIDR setting stays local. Set once: the API refuses a change.
if [ -z "$(kube get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}')" ]; then
  kube patch node "$NODE_NAME" -p "{\"spec\":{\"podCIDR\":\"$POD_CIDR\",\"podCIDRs\":[\"$POD_CIDR\"]}}" >&2
fi
log "real node $NODE_NAME is Ready with $GPU_COUNT fake $GPU_PRODUCT GPUs"
print_env
