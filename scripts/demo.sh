#!/usr/bin/env bash
# The main job: deploy the quickstart endpoint on the local Docker engine and send it a job.
#   1. bring up the test bed (installing what is missing) and build Berth (dist/);
#   2. build the two images FROM the local Node base image: the control plane's and the quickstart's worker;
#   3. `pulumi preview --diff` and `pulumi up` of examples/quickstart with the real CLI (local file backend): it
#      installs the control plane (with a simulated GPU inventory: this machine has no GPUs), a template, a
#      network volume and an endpoint;
#   4. send the endpoint a job as a RunPod client does and print the result;
#   5. `pulumi destroy`, which removes all of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
testbed_env="$(bash testbed/up.sh --demo)"  # a plain assignment, so a failed set-up stops this script
eval "$testbed_env"
npm run --silent build

work="$(mktemp -d)"
deployed=""
cleanup() {
  # A run that failed half-way still removes what it deployed.
  [ -n "$deployed" ] && (cd "$work/program" && pulumi destroy --yes --non-interactive >/dev/null 2>&1 || true)
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "the quickstart program, with Berth installed in it as a user's program would have it"
cp -r examples/quickstart "$work/program"
mkdir "$work/program/node_modules"
for entry in "$repo"/node_modules/* "$repo"/node_modules/.bin; do ln -s "$entry" "$work/program/node_modules/"; done
ln -s "$repo" "$work/program/node_modules/berth"

step "images FROM $BERTH_NODE_IMAGE: the control plane's, and the quickstart's worker"
control_plane_image="$(bash scripts/build-control-plane-image.sh)"
echo "$control_plane_image"
mkdir "$work/image"
npx esbuild "$work/program/worker/handler.ts" --bundle --platform=node --target=node20 --log-level=warning \
  --outfile="$work/image/worker.js"
cp examples/quickstart/worker/Dockerfile "$work/image/"
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BERTH_NODE_IMAGE" -t berth-quickstart/worker:latest "$work/image" >/dev/null
echo "berth-quickstart/worker:latest"

step "pulumi preview --diff, then pulumi up"
mkdir "$work/state"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_HOME="$work/home" PULUMI_CONFIG_PASSPHRASE="berth-demo"
cd "$work/program"
pulumi stack init quickstart --non-interactive
pulumi config set controlPlaneImage "$control_plane_image"
pulumi config set port "$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
pulumi config set simulatedGpus "NVIDIA GeForce RTX 4090=2"
pulumi config set --secret apiKey "demo-$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')"
pulumi preview --diff --non-interactive
deployed=yes
pulumi up --yes --skip-preview --non-interactive
endpoint_id="$(pulumi stack output endpointId)"
client_base_url="$(pulumi stack output clientBaseUrl)"

step "a job: POST $client_base_url/$endpoint_id/runsync (a frozen standby worker takes it)"
node -e '
  const [base, id, key] = process.argv.slice(1);
  fetch(`${base}/${id}/runsync?wait=60000`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ input: { name: "Berth" } }),
  })
    .then((res) => res.json())
    .then((body) => {
      console.log(JSON.stringify(body, null, 2));
      if (body.status !== "COMPLETED") process.exit(1);
    });
' "$client_base_url" "$endpoint_id" "$(pulumi config get apiKey)"

step "pulumi destroy"
pulumi destroy --yes --non-interactive
deployed=""
step "done: the quickstart environment was deployed, served a job and was removed"
