#!/usr/bin/env bash
# `make bench`: the side-by-side benchmark (docs/PERFORMANCE.md). Not part of `make test`.
#
#   scripts/bench.sh [--quick] [--runtimes local|docker|local,docker] [--no-profile]
#
# Needs the built binaries (make bench builds them first). Installs Debian's wrk (the load
# generator) and hyperfine (process-start timings) when they are missing and apt can get them;
# without wrk the load rows are skipped, without hyperfine the floor is timed by the script itself.
# Uses the Docker runtime and `docker run` only when a daemon answers (after making sure the
# offline base image exists); otherwise the local runtime alone. The async queue's row starts its
# own redis-server (skipped, and said so, when redis-server is missing). Prints the tables and writes
# build/bench/results.json. Bounded: the whole run is stopped after BENCH_TIMEOUT_S (default
# 1800 s: building the executor images from a clean clone takes a few minutes; a warm run takes
# about 4 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if [[ ${#missing[@]} -gt 0 && $(id -u) -eq 0 ]]; then
  echo "bench: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
    || echo "bench: could not install ${missing[*]}; continuing without" >&2
fi

if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
  scripts/base-image.sh || echo "bench: no base image; the docker runtime will fail and be skipped" >&2
else
  echo "bench: no Docker daemon answers: local runtime only"
fi

[[ -x build/gateway && -x build/executor && -x build/launcher ]] || {
  echo "bench: build/gateway, build/executor or build/launcher missing: run make bench" >&2
  exit 1
}
exec timeout --kill-after=30 "${BENCH_TIMEOUT_S:-1800}" /usr/bin/python3 tests/bench/bench.py --build build "$@"
