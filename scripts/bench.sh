#!/usr/bin/env bash
# `make bench`: the side-by-side benchmark (see docs/PERFORMANCE.md). Not part of `make test`.
# Uses Debian's wrk for the load; runs on the local runtime, and on Docker when a daemon answers.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  scripts/install-deps.sh >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || echo "bench: no wrk; load tests skipped"
fi
if timeout 10 docker info >/dev/null 2>&1; then scripts/base-image.sh; fi
exec /usr/bin/python3 tests/bench/bench.py build
