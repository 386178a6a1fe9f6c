#!/bin/bash
# gen-token.sh - make the executor token (the secret the gateway and the executors share) when
# it is missing. Never overwrites an existing token.
#
#   deploy/gen-token.sh [FILE]      default: deploy/secrets/executor_token
#
# 32 random bytes, hex (64 characters; the executors refuse fewer than 16). Compose mounts the
# file read-only at /run/secrets/executor_token with the file's own owner and mode (no swarm):
# run as root, the file belongs to the gateway's uid 10001 with mode 0400 (the executors read it
# as root with CAP_DAC_OVERRIDE; the slot uids that run programs cannot). Run as another user,
# the file must be readable by uid 10001: mode 0444 inside a 0700 directory that keeps the
# host's other users out.
set -euo pipefail

GATEWAY_UID=10001
FILE=${1:-$(dirname "$0")/secrets/executor_token}
DIR=$(dirname "$FILE")

if [ -s "$FILE" ]; then
    echo "gen-token: $FILE exists; keeping it"
    exit 0
fi
mkdir -p "$DIR"
chmod 0700 "$DIR"
tmp=$(mktemp "$DIR/.token.XXXXXX")
trap 'rm -f "$tmp"' EXIT
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$tmp"
[ "$(wc -c <"$tmp")" -eq 64 ] || { echo "gen-token: error: could not read /dev/urandom" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
    chown "$GATEWAY_UID:$GATEWAY_UID" "$tmp"
    chmod 0400 "$tmp"
else
    chmod 0444 "$tmp"
fi
mv "$tmp" "$FILE"
trap - EXIT
echo "gen-token: wrote $FILE"
