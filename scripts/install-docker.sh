#!/bin/bash
# install-docker.sh - make sure a Docker daemon answers on this machine.
#
# Installs Debian's docker.io when dockerd is missing, and starts dockerd in the background when
# no daemon answers (there is no systemd here). The daemon logs to /var/log/dockerd.log. Waits up
# to 60 s for `docker info` to answer. Idempotent: run it as often as you like.
#
# Needs root for the install and for starting dockerd. Exit status 0 when a daemon answers.
set -euo pipefail

LOG=/var/log/dockerd.log
WAIT_S=60

say() { echo "install-docker: $*"; }
die() { echo "install-docker: error: $*" >&2; exit 1; }

# Prefer Debian's CLI: it matches the daemon's version. Any docker CLI works against the API.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

answers() { timeout 10 "$DOCKER" info >/dev/null 2>&1; }

if command -v "$DOCKER" >/dev/null 2>&1 && answers; then
    say "docker daemon already answers"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "dockerd is missing and installing it needs root"
    say "installing docker.io from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || say "apt-get update failed; trying the install with the lists we have"
    apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed"
    [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "dockerd is not running and starting it needs root"
    say "starting dockerd (log: $LOG)"
    # A stale pid file from a daemon that died makes dockerd refuse to start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    # A session of its own: a terminal closing or a job runner killing this script's process
    # group (what stopped the daemon twice in one afternoon here) must not take dockerd with it.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
    disown || true
else
    say "dockerd is running but does not answer yet; waiting"
fi

for _ in $(seq 1 "$WAIT_S"); do
    if answers; then
        say "docker daemon answers ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null))"
        exit 0
    fi
    sleep 1
done
echo "install-docker: last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
die "docker daemon did not answer within ${WAIT_S} s"
