#!/usr/bin/env bash
# The real `runpod` Python package (client and worker SDK) from PyPI, in a virtual environment cached in
# $BERTH_CACHE/python-runpod-<version>, and a base image with it for workers in pods (below); the real `openai`
# client in $BERTH_CACHE/python-openai-<version>. Prints BERTH_PYTHON=<the environment's python>,
# BERTH_OPENAI_PYTHON=<the openai environment's python> and BERTH_RUNPOD_PYTHON_IMAGE=<the image>.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A PyPI package at one version in a venv of its own, cached in $BERTH_CACHE/python-<package>-<version>: reused
# while its python imports that very version, else made anew. Prints the venv's directory.
cached_venv() {
  local package="$1" version="$2"
  local dir="$BERTH_CACHE/python-$package-$version"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import $package, sys; sys.exit($package.__version__ != '$version')" 2>/dev/null; then
    log "$package $version cached in $dir"
  else
    command -v python3 >/dev/null || apt_install python3 python3-venv
    log "installing $package==$version from PyPI into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$package==$version" >&2
  fi
  echo "$dir"
}

venv="$(cached_venv runpod "$RUNPOD_PYTHON_VERSION")"
echo "BERTH_PYTHON=$venv/bin/python"
# The real `openai` client beside it: the OpenAI-compatible route's tests run it as a user's app would
# (test/fixtures/python-clients/openai_client.py).
echo "BERTH_OPENAI_PYTHON=$(cached_venv openai "$OPENAI_PYTHON_VERSION")/bin/python"

# runpod-python's base image, for workers on the real node (testbed/kubelet.sh): Debian's python3 (debootstrap
# --include, its own cached tarball) and the same runpod package in /opt/runpod, installed by the pip above into a
# venv of the host's Debian python3 (same release, so the same Python): no image build needs the network. Test
# worker images add a handler to it (test/helpers/worker-image.ts).
rootfs_tar="$BERTH_CACHE/rootfs-$BASE_IMAGE_SUITE-runpod-$RUNPOD_PYTHON_VERSION.tar"
if has_image "$RUNPOD_PYTHON_IMAGE"; then
  log "$RUNPOD_PYTHON_IMAGE present"
else
  if [ ! -s "$rootfs_tar" ]; then
    log "debootstrap --variant=minbase --include=python3 $BASE_IMAGE_SUITE, then runpod==$RUNPOD_PYTHON_VERSION in it (cold: ~3 min)"
    rootfs="$(debootstrap_rootfs python3,ca-certificates "$BERTH_CACHE/debootstrap-python.log")"
    trap 'rm -rf "$rootfs"' EXIT
    # Debian's own python3 on both sides (not whatever python3 PATH finds first, e.g. a pyenv shim).
    [ -x /usr/bin/python3 ] || apt_install python3 python3-venv
    image_python="$(basename "$(readlink -f "$rootfs/usr/bin/python3")")"
    [ "$image_python" = "$(basename "$(readlink -f /usr/bin/python3)")" ] \
      || die "the image's python3 is $image_python, not this Debian's: the host's pip cannot install for it"
    # The venv's python links to /usr/bin/python3, which is the same file inside the image.
    /usr/bin/python3 -m venv --without-pip "$rootfs/opt/runpod"
    "$venv/bin/pip" --python "$rootfs/opt/runpod/bin/python" install --quiet --disable-pip-version-check \
      "runpod==$RUNPOD_PYTHON_VERSION" >&2
    tar -C "$rootfs" -c . >"$rootfs_tar.tmp"
    mv "$rootfs_tar.tmp" "$rootfs_tar"
  fi
  log "importing $RUNPOD_PYTHON_IMAGE from $rootfs_tar"
  docker import --change 'ENV PATH=/opt/runpod/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$rootfs_tar" "$RUNPOD_PYTHON_IMAGE" >/dev/null
fi
echo "BERTH_RUNPOD_PYTHON_IMAGE=$RUNPOD_PYTHON_IMAGE"
