#!/usr/bin/env bash
# The egress guard: nothing the test suite runs may reach an address off this machine. Tests, workers and
# containers talk only to loopback, the machine's own addresses and the test bed's container networks; any other
# connection attempt fails at once and makes the run fail, naming the process (or its source) and the address.
#
#   egress-guard.sh run -- CMD ARGS...   install the guard, run CMD under it, check, remove; exits 1 if CMD failed
#                                        or anything tried to leave (scripts/test.sh runs the suite this way)
#   egress-guard.sh check [--report F] [--dns-log F]
#                                        exit 1, printing each attempt, if anything tried to leave (--dns-log: a
#                                        cluster DNS log to read whole, instead of the node's since the last run)
#
# Three layers, because none sees everything:
#   1. connect-guard.so, LD_PRELOADed into every process CMD starts: connect/sendto/sendmsg to an address outside
#      BERTH_EGRESS_ALLOW fail with ECONNREFUSED, and a line names the pid, executable, command line and address
#      (in $BERTH_EGRESS_REPORT). Go binaries (pulumi, kubectl, dockerd) bypass libc, so:
#   2. iptables and ip6tables rules, by the sender's cgroup (v2 path, which the kernel tracks per socket even on a
#      cgroup v1 host) and by bridge: CMD's processes (cgroup berth-egress/suite), the test bed's services
#      (dockerd, containerd, the Kubernetes control plane and real node: berth-egress/bed), containers on the host
#      network (Docker puts each in /docker/<id>), containers on Docker's bridges and pods on the real node's bridge
#      (berth-cni0). A new connection to a non-local address outside the bed's networks is logged (prefix
#      "berth-egress SOURCE:") and rejected: TCP with a reset, anything else with an ICMP error, so the caller fails
#      at once instead of waiting for a time-out.
#   3. the real node's cluster DNS (testbed/kubernetes/k8s/cluster-dns): it answers a pod only for the cluster's
#      Services and refuses any other name without forwarding it, logging "outside the cluster: NAME"; each such
#      line written during the run fails it too. A name under .berth-egress-probe.invalid is its canary: logged
#      apart ("probe, outside the cluster"), not counted.
# berth-egress/probe is a canary group with the same rules whose attempts do not fail the run: the guard's own
# test (test/testbed/egress-guard.test.ts) proves the iptables layer with it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Where an attempt came from; each has its own chain and log prefix. Attempts of all but the probe fail the run.
COUNTED_SOURCES=(suite bed container bridge)
SOURCES=("${COUNTED_SOURCES[@]}" probe)
CHAIN_PREFIX="BERTH-EGRESS"
REPORT_DEFAULT="$BERTH_CACHE/egress-guard/report.log"
CLUSTER_DNS_LOG="${BERTH_CLUSTER_DNS_LOG:-$BERTH_CACHE/node/cluster-dns.log}"
# How far the cluster DNS's log went when the run began: check reads what came after.
CLUSTER_DNS_MARK="$BERTH_CACHE/egress-guard/cluster-dns.mark"

cgroup2_root() {
  local root
  root="$(findmnt -n -t cgroup2 -o TARGET | head -n 1)"
  if [ -z "$root" ]; then
    root=/sys/fs/cgroup/unified
    mkdir -p "$root"
    mount -t cgroup2 none "$root" || die "cannot mount cgroup2 at $root (the guard matches senders by cgroup)"
  fi
  echo "$root"
}

# The machine's own addresses (as single hosts) and the subnets of Docker's bridges: traffic to them stays here.
allowed_networks() {
  ip -o addr show | awk '{ split($4, a, "/"); print a[1] ($3 == "inet6" ? "/128" : "/32") }'
  bridge_networks 4
  bridge_networks 6
}

# The subnets of Docker's bridges and the real node's pod bridge (testbed/kubelet.sh), of one IP family (4 or 6).
bridge_networks() {
  ip -o "-$1" route show | awk '$2 == "dev" && ($3 == "docker0" || $3 ~ /^br-/ || $3 == "berth-cni0") && $1 ~ /\// { print $1 }'
}

shim() {
  local source="$BERTH_ROOT/testbed/egress-guard/connect-guard.c"
  local dir="$BERTH_CACHE/egress-guard-$(sha256sum "$source" | cut -c1-12)"
  if [ ! -f "$dir/connect-guard.so" ]; then
    command -v gcc >/dev/null || apt_install gcc libc6-dev
    mkdir -p "$dir"
    gcc -O2 -Wall -Werror -shared -fPIC -o "$dir/connect-guard.so.tmp" "$source" -ldl
    mv "$dir/connect-guard.so.tmp" "$dir/connect-guard.so"
  fi
  echo "$dir/connect-guard.so"
}

# One source's chain: replies, local addresses and the bridges pass; anything else is logged and rejected.
chain_rules() {
  local tool="$1" source="$2" chain="$CHAIN_PREFIX-$2" reject_other="$3" networks="$4" network
  "$tool" -w -N "$chain"
  "$tool" -w -A "$chain" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  "$tool" -w -A "$chain" -m addrtype --dst-type LOCAL -j RETURN
  for network in $networks; do "$tool" -w -A "$chain" -d "$network" -j RETURN; done
  "$tool" -w -A "$chain" -j LOG --log-prefix "berth-egress $source: " --log-uid
  "$tool" -w -A "$chain" -p tcp -j REJECT --reject-with tcp-reset
  "$tool" -w -A "$chain" -j REJECT --reject-with "$reject_other"
}

install_rules() {
  local tool="$1" reject_other="$2" family="$3" source forward=FORWARD networks
  "$tool" -w -S DOCKER-USER >/dev/null 2>&1 && forward=DOCKER-USER
  networks="$(bridge_networks "$family")"
  for source in "${SOURCES[@]}"; do chain_rules "$tool" "$source" "$reject_other" "$networks"; done
  # The groups are disjoint, so each sender meets exactly one of these jumps.
  "$tool" -w -I OUTPUT 1 -m cgroup --path berth-egress/probe -j "$CHAIN_PREFIX-probe"
  "$tool" -w -I OUTPUT 2 -m cgroup --path berth-egress/suite -j "$CHAIN_PREFIX-suite"
  "$tool" -w -I OUTPUT 3 -m cgroup --path berth-egress/bed -j "$CHAIN_PREFIX-bed"
  "$tool" -w -I OUTPUT 4 -m cgroup --path docker -j "$CHAIN_PREFIX-container"
  "$tool" -w -I "$forward" 1 -i docker0 -j "$CHAIN_PREFIX-bridge"
  "$tool" -w -I "$forward" 2 -i br-+ -j "$CHAIN_PREFIX-bridge"
  # Pods on the real node: what leaves their bridge (frames between two pods on it stay on this machine).
  "$tool" -w -I "$forward" 3 -i berth-cni0 ! -o berth-cni0 -j "$CHAIN_PREFIX-bridge"
}

remove_rules() {
  local tool="$1" table_rule
  # Every rule that jumps to one of our chains, wherever it is, then the chains themselves.
  while read -r table_rule; do
    eval "$tool -w ${table_rule/-A /-D }"
  done < <("$tool" -w -S 2>/dev/null | grep -E "^-A .* -j $CHAIN_PREFIX-" || true)
  local source
  for source in "${SOURCES[@]}"; do
    "$tool" -w -F "$CHAIN_PREFIX-$source" 2>/dev/null || true
    "$tool" -w -X "$CHAIN_PREFIX-$source" 2>/dev/null || true
  done
}

move_to() {
  local group="$1" pid
  shift
  for pid in "$@"; do echo "$pid" >"$group/cgroup.procs" 2>/dev/null || true; done
}

bed_pids() {
  # Matched on the kernel's 15-character process names: kube-controller-manager is "kube-controller".
  pgrep -x 'dockerd|containerd|registry|kube-apiserver|kube-controller|kube-scheduler|etcd|kwok|kwok-controller|kubelet|kube-proxy' || true
  pgrep -f 'containerd-shim' || true
}

down() {
  local root
  root="$(cgroup2_root)"
  remove_rules iptables
  remove_rules ip6tables
  local source
  for source in "${SOURCES[@]}"; do
    local group="$root/berth-egress/$source"
    [ -d "$group" ] || continue
    # shellcheck disable=SC2046
    move_to "$root" $(cat "$group/cgroup.procs")
    rmdir "$group" 2>/dev/null || true
  done
  rmdir "$root/berth-egress" 2>/dev/null || true
}

up() {
  command -v iptables >/dev/null || apt_install iptables
  down
  local root
  root="$(cgroup2_root)"
  local source
  # iptables resolves a cgroup path when the rule is added, so each must exist first; Docker makes /docker at its
  # first container, and uses one that is already there.
  for source in "${SOURCES[@]}"; do mkdir -p "$root/berth-egress/$source"; done
  mkdir -p "$root/docker"
  install_rules iptables icmp-admin-prohibited 4
  install_rules ip6tables icmp6-adm-prohibited 6
  # shellcheck disable=SC2046
  move_to "$root/berth-egress/bed" $(bed_pids)
}

# The lines of the kernel log for one source's last `count` attempts.
kernel_lines() {
  dmesg 2>/dev/null | grep "berth-egress $1: " | tail -n "$2" || true
}

# "container NAME" for a bridge sender's address, when the container still exists.
container_at() {
  local ip="$1" id
  for id in $(docker ps -q 2>/dev/null); do
    if docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id" | grep -qw "$ip"; then
      docker inspect -f '{{.Name}}' "$id" | sed 's,^/,container ,'
      return
    fi
  done
  echo "a container no longer running"
}

check() {
  local report="$1" dns_log="${2:-}" failed=0 source count line
  if [ -s "$report" ]; then
    failed=1
    log "processes of the test run tried to reach addresses off this machine (refused in the process):"
    sed 's/^/  /' "$report" >&2
  fi
  for source in "${COUNTED_SOURCES[@]}"; do
    count=0
    for tool in iptables ip6tables; do
      count=$((count + $("$tool" -w -L "$CHAIN_PREFIX-$source" -v -x -n 2>/dev/null | awk '$3 == "LOG" { n += $1 } END { print n + 0 }')))
    done
    [ "$count" -gt 0 ] || continue
    failed=1
    log "$count connection attempt(s) from the $source left the test bed's networks (refused by iptables):"
    while read -r line; do
      [ -n "$line" ] || continue
      local from=""
      if [ "$source" = bridge ]; then from=" ($(container_at "$(sed -n 's/.* SRC=\([^ ]*\) .*/\1/p' <<<"$line")"))"; fi
      printf '  %s%s\n' "$(sed 's/.*\(SRC=[^ ]*\) \(DST=[^ ]*\).*\(PROTO=[^ ]*\).*\(DPT=[^ ]*\).*/\1 \2 \3 \4/' <<<"$line")" "$from" >&2
    done < <(kernel_lines "$source" "$count")
  done
  local lookups since=0
  if [ -z "$dns_log" ]; then
    dns_log="$CLUSTER_DNS_LOG"
    since="$(cat "$CLUSTER_DNS_MARK" 2>/dev/null || echo 0)"
  fi
  lookups="$(tail -c "+$((since + 1))" "$dns_log" 2>/dev/null | grep "outside the cluster: " | grep -v "probe, outside the cluster: " || true)"
  if [ -n "$lookups" ]; then
    failed=1
    log "pods looked up names outside the cluster (refused by the real node's cluster DNS):"
    sed 's/^/  /' <<<"$lookups" >&2
  fi
  if [ "$failed" != 0 ]; then
    log "error: the egress guard failed the run: see the attempts above"
    return 1
  fi
  log "egress guard: no connection attempt left the test bed's networks"
}

run() {
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || die "usage: egress-guard.sh run -- CMD ARGS..."
  up
  trap down EXIT
  local root preload status=0
  root="$(cgroup2_root)"
  preload="$(shim)"
  mkdir -p "$(dirname "$REPORT_DEFAULT")"
  : >"$REPORT_DEFAULT"
  stat -c %s "$CLUSTER_DNS_LOG" 2>/dev/null >"$CLUSTER_DNS_MARK" || echo 0 >"$CLUSTER_DNS_MARK"
  # A subshell moved into the suite's group before it execs CMD: CMD and everything it starts stay in it.
  (
    echo "$BASHPID" >"$root/berth-egress/suite/cgroup.procs"
    export LD_PRELOAD="$preload" BERTH_EGRESS_REPORT="$REPORT_DEFAULT"
    # The shim also lets through the test cluster's Service addresses (kube-apiserver's default range): kube-proxy
    # turns them into pod addresses after connect(), and the iptables layer checks those.
    export BERTH_EGRESS_ALLOW="$( (allowed_networks; echo "$KUBE_SERVICE_CIDR") | paste -sd, -)" BERTH_EGRESS_CGROUP="$root/berth-egress"
    exec "$@"
  ) || status=$?
  check "$REPORT_DEFAULT" || status=1
  return "$status"
}

case "${1:-}" in
  run) shift && run "$@" ;;
  check)
    shift
    report="$REPORT_DEFAULT" dns_log=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --report) report="$2" ;;
        --dns-log) dns_log="$2" ;;
        *) die "usage: egress-guard.sh check [--report FILE] [--dns-log FILE]" ;;
      esac
      shift 2
    done
    check "$report" "$dns_log"
    ;;
  *) die "usage: egress-guard.sh run -- CMD ARGS... | check [--report FILE] [--dns-log FILE]" ;;
esac
