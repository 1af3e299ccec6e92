#!/usr/bin/env bash
# Docker engine for the test bed. Uses the engine that answers at $DOCKER_HOST or /var/run/docker.sock;
# otherwise installs Debian's docker.io (when dockerd is missing) and starts dockerd in the background,
# then waits until it answers. Prints the DOCKER_HOST to use.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

answers() { timeout 10 docker -H "$1" info >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ]; then
  # An engine the user chose explicitly is never swapped for another one behind their back.
  answers "$DOCKER_HOST" || die "DOCKER_HOST=$DOCKER_HOST does not answer 'docker info'"
  log "using the Docker engine at $DOCKER_HOST"
  echo "$DOCKER_HOST"
  exit 0
fi

host="unix:///var/run/docker.sock"
if command -v docker >/dev/null && answers "$host"; then
  log "using the Docker engine at $host"
  echo "$host"
  exit 0
fi

command -v dockerd >/dev/null || apt_install docker.io
command -v docker >/dev/null || die "docker.io is installed but the docker client is not on PATH"

log "starting dockerd in the background (log: $BERTH_CACHE/dockerd.log)"
mkdir -p "$BERTH_CACHE"
setsid nohup dockerd --host "$host" >"$BERTH_CACHE/dockerd.log" 2>&1 < /dev/null &

for _ in $(seq 1 120); do
  if answers "$host"; then
    log "dockerd answers at $host"
    echo "$host"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 "$BERTH_CACHE/dockerd.log" >&2 || true
die "dockerd did not answer within 60 s"
