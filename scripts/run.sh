#!/usr/bin/env bash
# `make run`: starts the gateway in the foreground on the best runtime available.
# When a Docker daemon answers (or dockerd is installed and can be started as root), the Docker
# runtime is used and the offline base image is made first; else the local runtime.
# Extra gateway flags: make run ARGS="--port 8080"
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${CODEGATE_RUNTIME:-}" || "${CODEGATE_RUNTIME}" != local ]]; then
  if command -v dockerd >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    scripts/install-docker.sh || echo "run: dockerd did not start; local runtime" >&2
  fi
  if docker info >/dev/null 2>&1; then
    scripts/base-image.sh
  fi
fi
exec build/gateway ${ARGS:-}
