#!/usr/bin/env bash
# HAProxy for the test bed: Debian's package, installed when missing, never started as a service (each test that
# needs a load balancer runs its own, on its own port, with its own configuration). Prints BERTH_HAPROXY=<binary>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="$(command -v haproxy || true)"
if [ -z "$bin" ]; then
  apt_install haproxy
  # The package enables and starts a service on *:80 with its sample configuration; tests need none of it.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
  pkill -x haproxy 2>/dev/null || true
  bin="$(command -v haproxy || true)"
  [ -n "$bin" ] || die "Debian's haproxy package installed no haproxy binary"
fi
version="$("$bin" -v)"
log "${version%%$'\n'*}"
echo "BERTH_HAPROXY=$bin"
