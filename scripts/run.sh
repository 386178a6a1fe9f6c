#!/usr/bin/env bash
# `make run`: starts the gateway in the foreground on the best runtime available.
# When a Docker daemon answers (or dockerd is installed and can be started as root), the Docker
# runtime is used and the offline base image is made first; else the local runtime.
# Extra gateway flags: make run ARGS="--port 8080"
#
# The asynchronous API (POST /api/submissions, docs/ASYNC.md) needs a Redis. Unless one is
# configured (CODEGATE_REDIS_URL, or --redis-url in ARGS), this script starts a private
# redis-server for the gateway's instance and stops it after the gateway has exited:
#   socket  /run/codegate-<instance>/redis.sock        (root; else $XDG_RUNTIME_DIR/codegate-<instance>/,
#                                                       else /tmp/codegate-<uid>-<instance>/), mode 0700
#   data    /var/lib/codegate/<instance>/              (root; else ${XDG_STATE_HOME:-~/.local/state}/codegate/<instance>/)
#           appendonlydir/: appendonly yes, appendfsync always - a submission the gateway has
#           answered 202 for is on disk before the answer, so it survives kill -9 of Redis too.
# No TCP port is opened (port 0); Redis runs in a session of its own, so a Ctrl-C reaches only
# this script, which stops the gateway first and Redis after it. CODEGATE_REDIS_DATA_DIR overrides
# the data directory.
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

read -r -a args <<<"${ARGS:-}"
if [[ -n "${CODEGATE_REDIS_URL:-}" || " ${args[*]:-} " =~ \ --redis-url[\ =] ]]; then
  exec build/gateway "${args[@]}"
fi
# (The help text is read whole: grep -q closing the pipe early would fail the pipeline.)
if [[ $(build/gateway --help 2>&1) != *--redis-url* ]]; then
  exec build/gateway "${args[@]}"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "run: redis-server is not installed (scripts/install-deps.sh installs it):" \
       "starting without the asynchronous API" >&2
  exec build/gateway "${args[@]}"
fi

# The instance names the gateway's directories; take it as the gateway will.
instance=${CODEGATE_INSTANCE:-default}
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --instance) instance=${args[i + 1]:-default} ;;
    --instance=*) instance=${args[i]#--instance=} ;;
  esac
done
if [[ ! $instance =~ ^[A-Za-z0-9_-]{1,32}$ ]]; then
  echo "run: bad instance name '$instance'" >&2
  exit 2
fi

if [[ $(id -u) -eq 0 ]]; then
  rundir=/run/codegate-$instance
  datadir=/var/lib/codegate/$instance
elif [[ -n "${XDG_RUNTIME_DIR:-}" ]]; then
  rundir=$XDG_RUNTIME_DIR/codegate-$instance
  datadir=${XDG_STATE_HOME:-$HOME/.local/state}/codegate/$instance
else
  rundir=/tmp/codegate-$(id -u)-$instance
  datadir=${XDG_STATE_HOME:-$HOME/.local/state}/codegate/$instance
fi
datadir=${CODEGATE_REDIS_DATA_DIR:-$datadir}
sock=$rundir/redis.sock
mkdir -p "$rundir" "$datadir"
chmod 0711 "$rundir"
chmod 0700 "$datadir"

if redis-cli -s "$sock" ping >/dev/null 2>&1; then
  echo "run: a Redis already answers on $sock (is instance '$instance' running?)" >&2
  exit 1
fi
rm -f "$sock"

setsid redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
  --dir "$datadir" --appendonly yes --appendfsync always --save "" \
  --daemonize no --logfile "$datadir/redis.log" --pidfile "" &
redis_pid=$!

stop_redis() {
  # SIGTERM: Redis flushes the append-only file and exits.
  if kill -0 "$redis_pid" 2>/dev/null; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -f "$sock"
  rmdir "$rundir" 2>/dev/null || true
}

# Stopped before the gateway runs: Redis (in its own session) must not be left behind.
trap 'stop_redis; exit 143' TERM INT HUP
for _ in $(seq 100); do
  redis-cli -s "$sock" ping >/dev/null 2>&1 && break
  if ! kill -0 "$redis_pid" 2>/dev/null; then
    echo "run: redis-server did not start; its log: $datadir/redis.log" >&2
    tail -20 "$datadir/redis.log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
if ! redis-cli -s "$sock" ping >/dev/null 2>&1; then
  echo "run: redis-server does not answer on $sock" >&2
  stop_redis
  exit 1
fi
echo "run: private Redis on unix://$sock (data in $datadir, appendfsync always)" >&2

# The gateway runs as a child so that Redis can be stopped after it; SIGTERM and SIGINT are
# passed on to the gateway, which drains and exits, then Redis is stopped.
build/gateway "${args[@]}" --redis-url "unix://$sock" &
gw_pid=$!
trap 'kill -TERM "$gw_pid" 2>/dev/null || true' TERM INT HUP
rc=0
while true; do
  wait "$gw_pid" && rc=0 || rc=$?
  # wait returns early (status > 128) when a trapped signal arrives: wait again until it exits.
  kill -0 "$gw_pid" 2>/dev/null || break
done
trap - TERM INT HUP
stop_redis
exit "$rc"
