#!/usr/bin/env bash
# The whole test suite: brings up the test bed (installing what is missing), type-checks, then runs every
# test/**/*.test.ts with node's built-in runner under the egress guard.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
testbed_env="$(bash testbed/up.sh)"  # a plain assignment, so a failed set-up stops this script
eval "$testbed_env"

echo "[test] type-checking, then building what the package exports (dist/)" >&2
npx tsc -p tsconfig.json --noEmit
npm run --silent build

mapfile -t files < <(find test -name '*.test.ts' | sort)
# Under the egress guard: any attempt of the suite, its workers or its containers to reach an address off this
# machine is refused at once and fails the run (testbed/egress-guard.sh).
exec bash testbed/egress-guard.sh run -- node --import tsx --test "${files[@]}"
