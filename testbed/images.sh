#!/usr/bin/env bash
# Base images without a registry. Makes berth/debian:<suite> from a debootstrap minbase root filesystem
# (the tarball is cached in $BERTH_CACHE, so a new Docker engine re-imports it in seconds), then
# berth/node:<node version>-<suite>: that base plus the host's node binary, the local stand-in for
# node:20-bookworm-slim. Each image is skipped when the engine already has it.
# Prints `KEY=value` lines for the images it provides.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rootfs_tar="$BERTH_CACHE/rootfs-$BASE_IMAGE_SUITE-minbase.tar"
if has_image "$BASE_IMAGE"; then
  log "$BASE_IMAGE present"
else
  if [ ! -s "$rootfs_tar" ]; then
    log "debootstrap --variant=minbase $BASE_IMAGE_SUITE (cold: ~90 s)"
    rootfs="$(debootstrap_rootfs "" "$BERTH_CACHE/debootstrap.log")"
    tar -C "$rootfs" -c . >"$rootfs_tar.tmp"
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$rootfs"
  fi
  log "importing $BASE_IMAGE from $rootfs_tar"
  docker import "$rootfs_tar" "$BASE_IMAGE" >/dev/null
fi

if has_image "$NODE_IMAGE"; then
  log "$NODE_IMAGE present"
else
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
  cp "$(readlink -f "$(command -v node)")" "$context/node"
  log "building $NODE_IMAGE from $BASE_IMAGE and the host's node $(node --version)"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$NODE_IMAGE" \
    -f "$BERTH_ROOT/testbed/images/node.Dockerfile" "$context" >"$BERTH_CACHE/node-image-build.log" 2>&1 \
    || { cat "$BERTH_CACHE/node-image-build.log" >&2; die "building $NODE_IMAGE failed"; }
fi

echo "BERTH_BASE_IMAGE=$BASE_IMAGE"
echo "BERTH_NODE_IMAGE=$NODE_IMAGE"
