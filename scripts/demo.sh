#!/usr/bin/env bash
# The main job: deploy the quickstart endpoint on the local Docker engine and send it a job.
#   1. bring up the test bed (installing what is missing) and build Berth (dist/);
#   2. build the quickstart's worker image FROM the local Node base image;
#   3. start a control plane (Docker runtime, a simulated GPU inventory: this machine has no GPUs);
#   4. `pulumi preview --diff` and `pulumi up` of examples/quickstart with the real CLI (local file backend);
#   5. send a job to the endpoint as a RunPod client does and print the result;
#   6. `pulumi destroy` and stop the control plane.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
testbed_env="$(bash testbed/up.sh)"  # a plain assignment, so a failed set-up stops this script
eval "$testbed_env"
npm run --silent build

work="$(mktemp -d)"
cp_pid=""
cleanup() {
  [ -n "$cp_pid" ] && kill "$cp_pid" 2>/dev/null && wait "$cp_pid" 2>/dev/null
  # Workers outlive their control plane by design; the demo's own are removed with it.
  if [ -f "$work/data/control-plane-id" ]; then
    local owner="label=berth.control-plane=$(cat "$work/data/control-plane-id")"
    docker ps -aq --filter "$owner" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "$owner" | xargs -r docker volume rm >/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "the quickstart program, with Berth installed in it as a user's program would have it"
cp -r examples/quickstart "$work/program"
mkdir "$work/program/node_modules"
for entry in "$repo"/node_modules/* "$repo"/node_modules/.bin; do ln -s "$entry" "$work/program/node_modules/"; done
ln -s "$repo" "$work/program/node_modules/berth"

step "the worker image berth-quickstart/worker:latest, FROM $BERTH_NODE_IMAGE"
mkdir "$work/image"
npx esbuild "$work/program/worker/handler.ts" --bundle --platform=node --target=node20 --log-level=warning \
  --outfile="$work/image/worker.js"
cp examples/quickstart/worker/Dockerfile "$work/image/"
DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BERTH_NODE_IMAGE" -t berth-quickstart/worker:latest "$work/image" >/dev/null

step "a control plane on the local Docker engine (simulated GPUs: 2 x NVIDIA GeForce RTX 4090)"
api_key="demo-$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')"
bin/berth server --port 0 --data-dir "$work/data" --api-key "$api_key" \
  --simulated-gpus "NVIDIA GeForce RTX 4090=2" --extra-workers 1 >"$work/cp.log" 2>&1 &
cp_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(node -e '
    for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
      try { const e = JSON.parse(line); if (e.msg === "control plane listening") { console.log(e.url); break; } } catch {}
    }' "$work/cp.log")"
  [ -n "$url" ] && break
  kill -0 "$cp_pid" 2>/dev/null || { cat "$work/cp.log"; echo "the control plane exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/cp.log"; echo "the control plane did not start" >&2; exit 1; }
echo "control plane at $url"

step "pulumi preview --diff, then pulumi up"
mkdir "$work/state"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_HOME="$work/home" PULUMI_CONFIG_PASSPHRASE="berth-demo"
cd "$work/program"
pulumi stack init quickstart --non-interactive
pulumi config set berth:url "$url"
pulumi config set --secret berth:apiKey "$api_key"
pulumi preview --diff --non-interactive
pulumi up --yes --skip-preview --non-interactive
endpoint_id="$(pulumi stack output endpointId)"
client_base_url="$(pulumi stack output clientBaseUrl)"

step "a job: POST $client_base_url/$endpoint_id/runsync (the endpoint starts a worker for it)"
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
' "$client_base_url" "$endpoint_id" "$api_key"

step "pulumi destroy"
pulumi destroy --yes --non-interactive
step "done: the quickstart endpoint was deployed, served a job and was removed"
