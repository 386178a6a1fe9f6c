#!/usr/bin/env bash
# Regenerates the configuration table in README.md from the gateway's option table
# (build/gateway --config-markdown). With --check, fails when README.md is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(build/gateway --config-markdown)
new=$(awk -v t="$table" '
  /<!-- config-table:begin -->/ {print; print t; skip=1; next}
  /<!-- config-table:end -->/ {skip=0}
  !skip {print}' README.md)
if [[ "${1:-}" == "--check" ]]; then
  if [[ "$new" != "$(cat README.md)" ]]; then
    echo "README.md configuration table is out of date: run scripts/gen-readme-config.sh" >&2
    exit 1
  fi
  exit 0
fi
printf '%s\n' "$new" > README.md
