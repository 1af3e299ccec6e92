#!/usr/bin/env bash
# The main job, for now: bring up the test bed (installing what is missing) and run the smoke program
# through it: a Pulumi program with a dynamic resource through preview, up and destroy on the real CLI,
# then a container built FROM the local Node base image. Later issues make this deploy the quickstart
# endpoint and send it a job.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
testbed_env="$(bash testbed/up.sh)"  # a plain assignment, so a failed set-up stops this script
eval "$testbed_env"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "Pulumi $(pulumi version): the smoke program on a local file backend"
cp -r test/fixtures/pulumi-smoke "$work/program"
ln -s "$repo/node_modules" "$work/program/node_modules"
mkdir "$work/state"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_HOME="$work/home" PULUMI_CONFIG_PASSPHRASE="berth-demo"
cd "$work/program"
pulumi stack init demo --non-interactive
pulumi config set path "$work/marker.txt"
pulumi config set content "written by a Pulumi dynamic resource at $(date -u +%H:%M:%S)"
pulumi preview --diff --non-interactive
pulumi up --yes --skip-preview --non-interactive
echo "the resource wrote: $(cat "$work/marker.txt")"
pulumi destroy --yes --non-interactive

step "Docker $(docker version --format '{{.Server.Version}}'): a container FROM $BERTH_NODE_IMAGE"
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BERTH_NODE_IMAGE" -t berth-demo/hello:latest \
  "$repo/test/fixtures/hello-image" >/dev/null
docker run --rm -e GREETING="hello from a Berth test-bed container" berth-demo/hello:latest 2>/dev/null

step "the test bed works"
