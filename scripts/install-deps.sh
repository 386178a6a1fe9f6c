#!/usr/bin/env bash
# Installs the Debian packages codegate needs to build, run and test, when they are missing.
# Idempotent: a machine that has everything runs no apt command at all. One `apt-get install`
# for the whole list (libulfius-dev needs libcurl4-gnutls-dev: installing both in one
# transaction keeps apt from swapping curl flavours and removing ulfius).
#
#   scripts/install-deps.sh            build + run + test packages
#   scripts/install-deps.sh --docker   also Debian's docker.io, debootstrap, docker-compose (1.29:
#                                      deploy/compose.yaml) and the openssl CLI (deploy/gen-tls.sh)
#   scripts/install-deps.sh --test     also what the test suites need (headless Chromium, clang,
#                                      the openssl CLI for the TLS tests, scripts/install-k8s-tools.sh)
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libwebsockets-dev libwebsockets-evlib-uv libulfius-dev libcurl4-gnutls-dev libcjson-dev
  libuv1-dev libcmocka-dev libarchive-dev libmicrohttpd-dev libyder-dev liborcania-dev libssl-dev
  libhiredis-dev redis-server
  python3 python3-websocket nodejs g++ curl procps
  python3-dev
)
# The test suites also drive the playground in a real (headless) browser and run the
# libFuzzer targets (HTTP request path, session frames; clang).
if [[ "${1:-}" == "--test" || "${2:-}" == "--test" ]]; then
  PKGS+=(chromium chromium-driver python3-selenium clang openssl)
  # The Kubernetes manifests' suite: Debian's kubectl and the pinned API schemas (its own script;
  # the suite runs it again when something is missing).
  "$(dirname "$0")/install-k8s-tools.sh" ||
    echo "install-deps: install-k8s-tools.sh failed; tests/deploy/test_kubernetes.py retries" >&2
fi
if [[ "${1:-}" == "--docker" || "${2:-}" == "--docker" ]]; then
  PKGS+=(docker.io debootstrap docker-compose openssl)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs may come from another source under the same name; node on PATH is what matters.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs/}")
fi
read -r -a missing <<<"${missing[*]:-}"
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Update the package lists when they are absent or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
