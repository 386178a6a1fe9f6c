#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_<name>.c with clang (fuzzer + ASan + UBSan) and
# runs each for SECONDS (default 60). scripts/run-tests.sh runs the HTTP request path's (http)
# and the frame parser's (wsframe) targets for 60 s each, and some others for 30 s; run the
# rest by name.
#
#   scripts/fuzz.sh [SECONDS] [name...]      e.g. scripts/fuzz.sh 300 protocol
#
# Seeds come from tests/fuzz/seeds/<name>/, a dictionary from tests/fuzz/<name>.dict when it
# exists. The growing corpus lives in build/fuzz/corpus/<name>/; a crash leaves its input in
# build/fuzz/artifacts/ and makes the script fail. Re-run one input with
#   build/fuzz/fuzz_<name> build/fuzz/artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  for f in tests/fuzz/fuzz_*.c; do n=${f##*/fuzz_}; names+=("${n%.c}"); done
fi

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null; then
  echo "fuzz.sh: $CC not found (apt-get install clang)" >&2
  exit 2
fi
out=build/fuzz
mkdir -p "$out/artifacts"
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Iserver
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# shellcheck disable=SC2207
cjson_cflags=($(pkg-config --cflags libcjson)) cjson_libs=($(pkg-config --libs libcjson libcrypto))

status=0
for n in "${names[@]}"; do
  src=tests/fuzz/fuzz_$n.c
  [[ -f $src ]] || { echo "fuzz.sh: no $src" >&2; exit 2; }
  extra=()
  [[ $n == request ]] && extra=(server/request.c server/judge.c)
  [[ $n == wsframe ]] && extra=(server/wsframe.c)
  [[ $n == http ]] && extra=(server/gate.c server/request.c)
  [[ $n == runreq ]] && extra=(-Iexecutors executors/runreq.c)
  [[ $n == jsonbig ]] && extra=(-DJSONBIG_MIN=4) # short inputs take the fast path
  echo "== building fuzz_$n"
  "$CC" "${cflags[@]}" "${cjson_cflags[@]}" common/*.c "${extra[@]}" "$src" \
      -o "$out/fuzz_$n" "${cjson_libs[@]}"
  corpus=$out/corpus/$n
  mkdir -p "$corpus"
  seeds=()
  [[ -d tests/fuzz/seeds/$n ]] && seeds=(tests/fuzz/seeds/"$n")
  dict=()
  [[ -f tests/fuzz/$n.dict ]] && dict=(-dict=tests/fuzz/"$n".dict)
  echo "== running fuzz_$n for ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$out/fuzz_$n" "$corpus" "${seeds[@]}" "${dict[@]}" -max_total_time="$secs" \
      -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$n-" 2> "$out/fuzz_$n.log"; then
    echo "fuzz_$n FAILED: see $out/fuzz_$n.log and $out/artifacts/" >&2
    tail -40 "$out/fuzz_$n.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$out/fuzz_$n.log" || true
  fi
done
exit $status
