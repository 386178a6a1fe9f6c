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
#                                      the openssl CLI for the TLS tests, scripts/install-k8s-tools.sh,
#                                      scripts/install-openapi-schema.sh)
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libwebsockets-dev libwebsockets-evlib-uv libulfius-dev libcurl4-gnutls-dev libcjson-dev
  libuv1-dev libcmocka-dev libarchive-dev libmicrohttpd-dev libyder-dev liborcania-dev libssl-dev
  libhiredis-dev redis-server
  python3 python3-websocket nodejs g++ curl procps
  openjdk-17-jdk-headless
  mold  # C++ compiles link with it when installed (executors/cxxfast.h)
  python3-dev
)
# Python's data and plot libraries: the one list is the PY_PACKAGES line of
# docker/Dockerfile.python (the executor image installs the same).
read -r -a PY_PACKAGES <<<"$(sed -n 's/^ARG PY_PACKAGES="\(.*\)"$/\1/p' \
  "$(dirname "$0")/../docker/Dockerfile.python")"
PKGS+=("${PY_PACKAGES[@]}")
# Matplotlib's font list, built once where the executor copies it from into each run's cache
# dir (LANG_MPL_CACHE_DIR in include/lang.h); a first import would otherwise take seconds.
mpl_font_cache() {
  local dir=/usr/local/share/codegate/matplotlib
  ls "$dir"/fontlist-*.json >/dev/null 2>&1 && return 0
  /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || return 0
  ${SUDO:-} mkdir -p "$dir"
  ${SUDO:-} env MPLCONFIGDIR="$dir" /usr/bin/python3 -c 'import matplotlib.font_manager'
  ${SUDO:-} chmod -R a+rX /usr/local/share/codegate
}
# The test suites also drive the playground in a real (headless) browser and run the
# libFuzzer targets (HTTP request path, session frames; clang).
if [[ "${1:-}" == "--test" || "${2:-}" == "--test" ]]; then
  PKGS+=(chromium chromium-driver python3-selenium clang openssl)
  # The Kubernetes manifests' suite: Debian's kubectl and the pinned API schemas (its own script;
  # the suite runs it again when something is missing).
  "$(dirname "$0")/install-k8s-tools.sh" ||
    echo "install-deps: install-k8s-tools.sh failed; tests/deploy/test_kubernetes.py retries" >&2
  # The OpenAPI suite: the pinned OpenAPI 3.1 meta-schema (the suite retries when missing).
  "$(dirname "$0")/install-openapi-schema.sh" ||
    echo "install-deps: install-openapi-schema.sh failed; tests/integration/test_openapi.py retries" >&2
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
# The pinned Node.js of the javascript executors (scripts/node.lock), after the packages (curl).
# Without it (offline, not root) everything else still works; javascript runs then fail (the
# executor cannot start the interpreter, and reports no version for it) until it is installed.
install_node() {
  "$(dirname "$0")/install-node.sh" ||
    echo "install-deps: the pinned Node.js is not installed (above): no javascript until it is" >&2
}
if [[ ${#missing[@]} -gt 0 ]]; then
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
fi
# After the packages, whether any were missing or not.
mpl_font_cache
install_node
