#!/usr/bin/env bash
# Runs every test suite and ends with one line the CI reads: `N passed, N failed`.
#
#   scripts/run-tests.sh            unit (build/, build/san/ and build/tsan/), the session frame fuzzer
#                                   (60 s), integration (all three builds), lifecycle, Docker suite
#                                   (required when CI=true), Compose suite (likewise)
#   scripts/run-tests.sh unit       unit tests only
# Each suite's own output stays visible; totals count test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
what=${1:-all}
total_pass=0 total_fail=0
failed_suites=()

count_cmocka() { # file -> adds to totals
  local p f
  p=$(grep -ho '^\[  PASSED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
  f=$(grep -ho '^\[  FAILED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}
count_plain() { # file -> adds the last `N passed, N failed`
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [[ -z "$line" ]]; then total_fail=$((total_fail + 1)); return; fi
  total_pass=$((total_pass + $(echo "$line" | awk '{print $1}')))
  total_fail=$((total_fail + $(echo "$line" | awk '{print $3}')))
}

run_suite() { # name kind(cmocka|plain) timeout cmd...
  local name=$1 kind=$2 to=$3; shift 3
  local log; log=$(mktemp)
  echo "=== $name"
  timeout --signal=TERM --kill-after=30 "$to" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if [[ $kind == cmocka ]]; then count_cmocka "$log"; else count_plain "$log"; fi
  if [[ $rc -ne 0 ]]; then
    failed_suites+=("$name (exit $rc)")
    # A crash or timeout that the counts did not see still fails the run.
    if ! grep -qE '^\[  FAILED  \]|^[0-9]+ passed, [1-9]' "$log"; then total_fail=$((total_fail + 1)); fi
  fi
  rm -f "$log"
}

unit() {
  local dir=$1
  for t in "$dir"/tests/test_*; do
    [[ -x $t ]] || continue
    run_suite "unit $(basename "$t") ($dir)" cmocka 300 "$t"
  done
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# ThreadSanitizer: any report fails the process (exit 66), so a race fails its suite.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}

# A libFuzzer target run for a bounded time counts as one test case (clang: install-deps --test).
fuzz_cmd() { # name seconds -> a command line for run_suite (timeout cannot run a function)
  echo "if scripts/fuzz.sh $2 $1; then echo '1 passed, 0 failed'; else echo '0 passed, 1 failed'; exit 1; fi"
}

# The unprivileged local runtime's suites start the gateway as this user (made once, before any
# suite records the host's files).
if [[ $what == all && $(id -u) -eq 0 ]] && ! id codegate-test >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin codegate-test
fi

unit build
unit build/san
unit build/tsan
if [[ $what == all ]]; then
  run_suite "fuzz http request path (60 s)" plain 600 bash -c "$(fuzz_cmd http 60)"
  run_suite "fuzz session and pool frames (60 s)" plain 600 bash -c "$(fuzz_cmd wsframe 60)"
  run_suite "fuzz runner-launcher request (30 s)" plain 600 bash -c "$(fuzz_cmd runreq 30)"
  run_suite "fuzz executor protocol (30 s)" plain 600 bash -c "$(fuzz_cmd protocol 30)"
  run_suite "fuzz long JSON strings, parity with cJSON (30 s)" plain 600 bash -c "$(fuzz_cmd jsonbig 30)"
  run_suite "executor protocol (build)" plain 600 $PY tests/integration/test_executor.py build
  run_suite "executor service (build)" plain 600 $PY tests/integration/test_executor_service.py build
  run_suite "integration local (build)" plain 900 $PY tests/integration/test_api.py build --runtime local
  run_suite "lifecycle local (build)" plain 900 $PY tests/integration/test_lifecycle.py build --runtime local
  run_suite "sessions local (build)" plain 900 $PY tests/integration/test_session.py build --runtime local
  run_suite "files local (build)" plain 900 $PY tests/integration/test_files.py build --runtime local
  # Every language of the table end to end (hello, stdin, errors, limits, cache, judging, session).
  run_suite "languages local (build)" plain 900 $PY tests/integration/test_languages.py build --runtime local
  [[ -f tests/integration/test_hostile.py ]] &&
    run_suite "hostile local (build)" plain 1200 $PY tests/integration/test_hostile.py build --runtime local
  run_suite "front door local (build)" plain 900 $PY tests/integration/test_frontdoor.py build --runtime local
  run_suite "docs examples local (build)" plain 600 $PY tests/integration/test_docs.py build --runtime local
  # The OpenAPI document against the OpenAPI 3.1 meta-schema, and every endpoint's answers against it.
  run_suite "openapi local (build)" plain 900 $PY tests/integration/test_openapi.py build --runtime local
  # Asynchronous submissions: real redis-servers (started by the suite) and gateways, kill -9s.
  run_suite "async local (build)" plain 1800 $PY tests/integration/test_async.py build --runtime local
  run_suite "hostile strict local (build)" plain 1200 $PY tests/integration/test_hostile_strict.py build --runtime local
  run_suite "limits local (build)" plain 900 $PY tests/integration/test_limits.py build --runtime local
  # The pinned Node.js: its installer (integrity, idempotence) and what the local runtime runs.
  run_suite "pinned node local (build)" plain 1200 $PY tests/integration/test_node.py build --runtime local
  run_suite "options local (build)" plain 900 $PY tests/integration/test_options.py build --runtime local
  run_suite "classroom local (build)" plain 900 $PY tests/integration/test_classroom.py build --runtime local
  run_suite "python zygote local (build)" plain 900 $PY tests/integration/test_zygote.py build --runtime local
  run_suite "kubernetes manifests" plain 600 $PY tests/deploy/test_kubernetes.py
  run_suite "external runtime (build)" plain 900 $PY tests/integration/test_external.py build
  # Without root: the same boxes built in user namespaces (issue #10.10).
  run_suite "hostile local unprivileged (build)" plain 1200 env CODEGATE_TEST_AS_USER=codegate-test \
    $PY tests/integration/test_hostile.py build --runtime local
  run_suite "hostile strict local unprivileged (build)" plain 1200 env CODEGATE_TEST_AS_USER=codegate-test \
    $PY tests/integration/test_hostile_strict.py build --runtime local
  run_suite "languages local unprivileged (build)" plain 900 env CODEGATE_TEST_AS_USER=codegate-test \
    $PY tests/integration/test_languages.py build --runtime local
  [[ -f tests/browser/test_playground.py ]] &&
    run_suite "browser playground (build)" plain 600 $PY tests/browser/test_playground.py build
  run_suite "integration local (ASan+UBSan)" plain 1200 $PY tests/integration/test_api.py build/san --runtime local
  run_suite "sessions local (ASan+UBSan)" plain 900 $PY tests/integration/test_session.py build/san --runtime local
  run_suite "files local (ASan+UBSan)" plain 900 $PY tests/integration/test_files.py build/san --runtime local
  run_suite "languages local (ASan+UBSan)" plain 900 $PY tests/integration/test_languages.py build/san --runtime local
  run_suite "front door local (ASan+UBSan)" plain 1200 $PY tests/integration/test_frontdoor.py build/san --runtime local
  run_suite "external runtime (ASan+UBSan)" plain 1200 $PY tests/integration/test_external.py build/san
  run_suite "options local (ASan+UBSan)" plain 1200 $PY tests/integration/test_options.py build/san --runtime local
  run_suite "python zygote local (ASan+UBSan)" plain 1200 $PY tests/integration/test_zygote.py build/san --runtime local
  run_suite "async local (ASan+UBSan)" plain 1800 $PY tests/integration/test_async.py build/san --runtime local
  run_suite "integration local (TSan)" plain 1500 $PY tests/integration/test_api.py build/tsan --runtime local
  run_suite "sessions local (TSan)" plain 1200 $PY tests/integration/test_session.py build/tsan --runtime local
  run_suite "external runtime (TSan)" plain 1500 $PY tests/integration/test_external.py build/tsan
  run_suite "async local (TSan)" plain 2400 $PY tests/integration/test_async.py build/tsan --runtime local
  if [[ -x tests/docker/run.sh ]]; then
    run_suite "docker" plain 3000 tests/docker/run.sh build
    timeout 10 docker info >/dev/null 2>&1 &&
      run_suite "pinned node docker (build)" plain 1800 $PY tests/integration/test_node.py build --runtime docker
  fi
  [[ -x tests/compose/run.sh ]] && run_suite "compose" plain 3600 tests/compose/run.sh
fi

echo
if [[ ${#failed_suites[@]} -gt 0 ]]; then
  echo "failed suites:"; printf '  %s\n' "${failed_suites[@]}"
fi
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 && ${#failed_suites[@]} -eq 0 ]]
