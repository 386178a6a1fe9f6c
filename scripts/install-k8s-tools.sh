#!/usr/bin/env bash
# Installs what tests/deploy/test_kubernetes.py needs to render and validate deploy/kubernetes/
# without a cluster and without anything from outside Debian's archive and the npm registry:
#
#   build/k8s-tools/bin/kubectl    Debian 12's kubectl (package kubernetes-client, 1.20), whose
#                                  built-in kustomize renders the base. Unpacked from the .deb
#                                  (apt-get download: checked against the signed archive), not
#                                  installed, so it never replaces a newer kubectl on the machine.
#   build/k8s-tools/npm/node_modules/kubernetes-types
#                                  the Kubernetes 1.30 API object types (npm, pinned with its
#                                  sha512 in tests/deploy/package-lock.json; npm ci checks it).
#                                  tests/deploy/k8s_schema.py turns them into strict JSON Schemas.
#   build/k8s-tools/npm/node_modules/kubernetes-models
#                                  model classes whose validate() runs ajv validators generated
#                                  from the official Kubernetes OpenAPI spec (4.5.1: Kubernetes
#                                  1.33.0; 4.x is CommonJS for Node.js 14+, 5.x needs Node.js 22),
#                                  with its dependencies, all pinned in the same lock file.
#                                  tests/deploy/validate_models.js runs them.
#   python3-yaml, python3-jsonschema, npm (Debian packages, when missing; npm brings Debian's
#                                  nodejs, 18 on Debian 12)
#
# Idempotent: a second run with everything in place runs no apt or npm command.
#
#   scripts/install-k8s-tools.sh          install what is missing
#   scripts/install-k8s-tools.sh --check  exit 1 (saying what) when something is missing
set -euo pipefail
cd "$(dirname "$0")/.."

# The exact Debian package; a point release of Debian may replace it, then the newest 1.20 is
# taken with a warning (the pin says which one this was tested with).
KUBECTL_DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
TOOLS=build/k8s-tools
KUBECTL=$TOOLS/bin/kubectl
NPM_DIR=$TOOLS/npm
TYPES=$NPM_DIR/node_modules/kubernetes-types/package.json
MODELS=$NPM_DIR/node_modules/kubernetes-models/package.json
NODE_MIN=14 # the "engines" of kubernetes-models 4.5.1 and its dependencies

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# The npm inputs are current when the installed package and lock files are the committed ones.
npm_current() {
  [[ -f $TYPES && -f $MODELS ]] &&
    cmp -s tests/deploy/package.json "$NPM_DIR/package.json" &&
    cmp -s tests/deploy/package-lock.json "$NPM_DIR/package-lock.json"
}
pkg_version() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -1; }
# node's major version, or 0 when there is no node.
node_major() {
  local v
  v=$(node --version 2>/dev/null) || { echo 0; return; }
  v=${v#v}
  echo "${v%%.*}"
}

missing=()
for p in python3-yaml python3-jsonschema; do have_pkg "$p" || missing+=("$p"); done
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [[ ${1:-} == --check ]]; then
  bad=0
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-k8s-tools: missing packages: ${missing[*]}" >&2
    bad=1
  fi
  [[ -x $KUBECTL ]] || { echo "install-k8s-tools: missing $KUBECTL" >&2; bad=1; }
  npm_current || { echo "install-k8s-tools: missing or stale $NPM_DIR" >&2; bad=1; }
  if command -v npm >/dev/null 2>&1 && [[ $(node_major) -lt $NODE_MIN ]]; then
    echo "install-k8s-tools: node $(node --version 2>/dev/null || echo missing):" \
      "kubernetes-models needs Node.js $NODE_MIN or newer" >&2
    bad=1
  fi
  exit $bad
fi

SUDO=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_lists_fresh() {
  [[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]
}

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-k8s-tools: installing ${missing[*]}"
  apt_lists_fresh || $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x $KUBECTL ]]; then
  apt_lists_fresh || $SUDO apt-get update -q
  version=$KUBECTL_DEB_VERSION
  if ! apt-cache show "kubernetes-client=$version" >/dev/null 2>&1; then
    version=$(apt-cache policy kubernetes-client | awk '/Candidate:/ {print $2}')
    case $version in
      *really1.20.*|1.20.*)
        echo "install-k8s-tools: warning: kubernetes-client $KUBECTL_DEB_VERSION is gone;" \
          "using $version" >&2 ;;
      *)
        echo "install-k8s-tools: kubernetes-client 1.20 not in the archive (candidate:" \
          "'${version:-none}'); update KUBECTL_DEB_VERSION" >&2
        exit 1 ;;
    esac
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download checks the file against the archive's signed index; it writes to the
  # current directory, which apt's sandbox user must be able to enter.
  chmod 0755 "$tmp"
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
  (cd "$tmp" && apt-get download -q "kubernetes-client=$version")
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$tmp/root"
  mkdir -p "$TOOLS/bin"
  install -m 0755 "$tmp/root/usr/bin/kubectl" "$KUBECTL"
  echo "install-k8s-tools: $KUBECTL: $("$KUBECTL" version --client --short 2>/dev/null || true)"
fi

if [[ $(node_major) -lt $NODE_MIN ]]; then
  echo "install-k8s-tools: node $(node --version 2>/dev/null || echo missing): kubernetes-models" \
    "needs Node.js $NODE_MIN or newer" >&2
  exit 1
fi

if ! npm_current; then
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  cp tests/deploy/package.json tests/deploy/package-lock.json "$NPM_DIR/"
  # npm ci installs exactly the lock file and checks every package's sha512 integrity.
  (cd "$NPM_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "install-k8s-tools: kubernetes-types $(pkg_version "$TYPES")," \
    "kubernetes-models $(pkg_version "$MODELS")"
fi
