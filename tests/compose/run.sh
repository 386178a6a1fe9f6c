#!/usr/bin/env bash
# The Compose suite: deploy/compose.yaml brought up with Debian's docker-compose against the
# real daemon (tests/compose/test_compose.py builds the images itself).
#   tests/compose/run.sh
# Without a daemon or without docker-compose: a failure in CI (CI=true), a plainly reported skip
# elsewhere.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
missing=""
timeout 10 docker info >/dev/null 2>&1 || missing="no Docker daemon answers"
command -v docker-compose >/dev/null 2>&1 || missing="${missing:+$missing; }docker-compose is not installed"
if [[ -n "$missing" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "compose suite: $missing, and CI=true: this is a failure"
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "compose suite: SKIPPED: $missing"
  echo "(scripts/install-deps.sh --docker installs docker.io and docker-compose;"
  echo " scripts/install-docker.sh starts the daemon)"
  exit 0
fi
exec /usr/bin/python3 tests/compose/test_compose.py
