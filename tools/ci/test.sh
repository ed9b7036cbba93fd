#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing (Debian packages, npm dependencies), makes sure a
# PostgreSQL and a NATS server are reachable (starting local ones when not), checks formatting, then lints,
# builds and tests every Nx project — unit tests, the native engine's C++ tests (also in an ASan/UBSan build) and
# the platform integration tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false FORCE_COLOR=0
# CI proves a fresh build: no task result is replayed from a cache left on the machine.
if [ "${CI:-}" = "true" ]; then export NX_SKIP_NX_CACHE=true; fi

bash tools/ci/ensure-system-packages.sh

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` honours the lockfile's pinned versions; unlike `npm ci` it tolerates optional
  # platform packages (sass-embedded-<os>-<cpu>) that the registry does not carry for other platforms.
  echo "== installing npm dependencies (npm install from the lockfile)"
  npm install --no-audit --no-fund
fi

started=$(date +%s)
bash tools/ci/format-check.sh
node tools/ci/with-test-services.mjs -- \
  npx nx run-many -t lint typecheck build test test-asan --outputStyle=stream --parallel=2
echo "== all lint, build and test targets passed in $(( $(date +%s) - started )) s"
