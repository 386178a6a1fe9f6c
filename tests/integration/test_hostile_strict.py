#!/usr/bin/python3
"""Strict hostile-program suite: the acceptance suite of the open per-run-sandbox work.

    tests/integration/test_hostile_strict.py BUILD_DIR [gateway args...]

Part of `make test`: scripts/run-tests.sh runs it on the local runtime, tests/docker/test_docker.py
on the Docker runtime. `tests/integration/test_hostile.py` is the older, smaller suite (kept: it
also runs against executors without root).

Starts BUILD_DIR/gateway (by default with --runtime local; the same file runs on Docker with
--runtime docker) and sends it programs in Python, JavaScript and C++ that fork-bomb, hog memory,
flood output, fill disks, spin, leave children and daemons behind, close their stdio, plant
symlinks, leave files in shared places and System V / POSIX IPC objects, signal or ptrace the
executor, read its environment and token, and try the network.

Every test does the same three things:
  1. the hostile run: asserts its answer (status, output, a bounded time);
  2. the service is healthy: the gateway process is alive, no executor was restarted (metric
     codegate_executor_restarts_total), /readyz answers 200, and a normal request in the same
     language (the probe, below) succeeds within normal latency (2 x the baseline measured at
     start + 1 s);
  3. nothing of the hostile run is visible to the next run: the probe, a program in the same
     language (on Docker it runs in the same container), reports what it can see: files whose
     name carries the run's marker or that belong to any slot uid (its own included: the next
     run often gets the hostile run's slot) in /tmp, /var/tmp, /dev/shm, /dev/mqueue; processes
     of any slot uid (but itself) or with the marker in their command line; System V IPC
     objects (by key and by uid) and, in C++, POSIX shm / mqueue objects by
     name; whether the hostile run's work dir still exists; its own environment (exactly PATH,
     HOME, TMPDIR, LANG and the language's own variables) and a hash of /etc/passwd. From the
     outside the suite also checks that the executor's work root holds nothing but its compile
     cache, that no host process or file carries the marker (local runtime), and that the host's
     /etc/passwd, /etc/shadow and /etc/group are unchanged.

Each hostile program gets its marker (e.g. cgh1a2b3c4d) and a System V key as argv[1], argv[2],
so that whatever it leaves behind (processes inherit their command line) can be found. The probe
gets the marker reversed, so that it never finds itself. A leftover is blamed on the test that
left it; the suite then removes it (only things its own programs made, in shared places and work
roots) so that one failure does not cascade into the following tests.

Nothing is skipped: a check that fails reports everything it observed. The last line is
`N passed, N failed`.

Layout (tests/README.md): the cases are data - tests/hostile/cases.index lists them in order, one
JSON line each (language, request, expected status and output, named checks), and their programs
are files in tests/hostile/cases/. This file is the one runner that applies them. Cases that need
orchestration a line cannot say live in hostile_bespoke.py, named checks in hostile_checks.py,
and the probe, the host-side scans, Case and its aftermath in hostile_lib.py.

    CODEGATE_HOSTILE_CASES=py_fork_bomb,js_busy_loop tests/integration/test_hostile_strict.py build
runs only those cases (after the set-up and its baseline check), for working on one case.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_bespoke  # noqa: E402
import hostile_lib as H  # noqa: E402
from harness import Gateway, Runner, check  # noqa: E402
from hostile_checks import ARGS, CHECKS  # noqa: E402

INDEX = os.path.join(H.HOSTILE_DIR, "cases.index")
SPEC_KEYS = {"name", "lang", "file", "args", "args_from", "timeout_ms", "memory_mb", "stdin", "tests",
             "bound", "status", "status_as_user", "stdout", "stdout_as_user", "stdout_re", "stderr",
             "stderr_contains", "signal", "exit_code", "min_duration_ms", "checks", "sleep_after",
             "bespoke"}


def load_index(path=INDEX):
    """The cases, in order; a malformed line, an unknown key, check or bespoke function, or a
    missing program stops the suite before the gateway starts."""
    cases, names = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                spec = json.loads(line)
            except ValueError as e:
                raise SystemExit("%s:%d: %s" % (path, n, e))
            where = "%s:%d (%s)" % (path, n, spec.get("name"))
            unknown = set(spec) - SPEC_KEYS
            if unknown or "name" not in spec or spec["name"] in names:
                raise SystemExit("%s: unknown keys %s, no name or a repeated name" % (where, sorted(unknown)))
            names.add(spec["name"])
            if "bespoke" in spec:
                if not callable(getattr(hostile_bespoke, spec["bespoke"], None)):
                    raise SystemExit("%s: no function hostile_bespoke.%s" % (where, spec["bespoke"]))
            else:
                if spec.get("lang") not in H.LANGS or ("status" not in spec and not spec.get("checks")):
                    raise SystemExit("%s: a data case needs lang and status (or checks)" % where)
                for c in spec.get("checks", []):
                    if c not in CHECKS:
                        raise SystemExit("%s: no check %s in hostile_checks.py" % (where, c))
                if "args_from" in spec and spec["args_from"] not in ARGS:
                    raise SystemExit("%s: no args_from %s" % (where, spec["args_from"]))
            if "lang" in spec and ("bespoke" not in spec or spec["bespoke"] == "network"):
                H.case_program(spec)  # the program file exists
            cases.append(spec)
    return cases


def as_user_or(spec, key):
    """The expectation for this run: <key>_as_user when the gateway runs unprivileged and the spec
    names one, else <key>."""
    if H.G.as_user and key + "_as_user" in spec:
        return spec[key + "_as_user"]
    return spec.get(key)


def apply_spec(c, d, spec):
    """The checks a spec states as fields, then its named checks."""
    status = as_user_or(spec, "status")
    if status is not None:
        c.status(d, status)
    if d is None:
        return
    stdout = as_user_or(spec, "stdout")
    if stdout is not None:
        c.want(d.get("stdout") == stdout, "stdout must be %r" % stdout, d)
    if "stdout_re" in spec:
        c.want(re.fullmatch(spec["stdout_re"], d.get("stdout") or "") is not None,
               "stdout must match %r" % spec["stdout_re"], d)
    if "stderr" in spec:
        c.want(d.get("stderr") == spec["stderr"], "stderr must be %r" % spec["stderr"], d)
    if "stderr_contains" in spec:
        c.want(spec["stderr_contains"] in (d.get("stderr") or ""),
               "stderr must contain %r" % spec["stderr_contains"], d)
    if "signal" in spec:
        c.want(d.get("signal") == spec["signal"], "killed by %s" % spec["signal"], d)
    if "exit_code" in spec:
        c.want(d.get("exitCode") == spec["exit_code"], "exit code %s" % spec["exit_code"], d)
    if "min_duration_ms" in spec:
        c.want((d.get("durationMs") or 0) >= spec["min_duration_ms"],
               "the run lasted at least %d ms (until the program exited)" % spec["min_duration_ms"], d)
    for name in spec.get("checks", []):
        CHECKS[name](c, d, spec)


def data_case(spec):
    """One case of the index: the hostile run, its expectations, then the aftermath."""
    c = H.Case(spec["lang"])
    kw = {k: spec[k] for k in ("timeout_ms", "memory_mb", "tests", "bound") if k in spec}
    if "stdin" in spec:
        kw["stdin"] = H.BIG_INPUT if spec["stdin"] == "@BIG_INPUT" else spec["stdin"]
    args = ARGS[spec["args_from"]]() if "args_from" in spec else spec.get("args", [])
    d = c.run(H.case_program(spec), args, **kw)
    apply_spec(c, d, spec)
    if spec.get("sleep_after"):
        time.sleep(spec["sleep_after"])
    c.finish()


def test_function(spec):
    """A test named test_<name> for the Runner (its report line names the case)."""
    if "bespoke" in spec:
        fn = getattr(hostile_bespoke, spec["bespoke"])
        t = lambda: fn(spec)  # noqa: E731
    else:
        t = lambda: data_case(spec)  # noqa: E731
    t.__name__ = "test_" + spec["name"]
    return t


def arg_value(args, flag, env, default):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return os.environ.get(env, default)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    cases = load_index()
    only = [x for x in os.environ.get("CODEGATE_HOSTILE_CASES", "").split(",") if x]
    if only:
        unknown = set(only) - {s["name"] for s in cases}
        if unknown:
            raise SystemExit("CODEGATE_HOSTILE_CASES names unknown cases: %s" % sorted(unknown))
        cases = [s for s in cases if s["name"] in only or s["name"] == "normal_requests_after_start"]
    tests = [test_function(s) for s in cases]
    r = Runner("hostile (%s)" % " ".join(extra))
    # 4 slots per executor, not the machine's sizing: the bespoke checks fill every slot at once.
    G = H.G = Gateway(build, ["--slots", "4"] + extra, name="hostile").start(ready_timeout=1800)
    try:
        listening = [l for l in G.log_lines() if l.get("event") == "listening"]
        H.RUNTIME = (listening[-1].get("runtime") if listening else None) or \
            arg_value(extra, "--runtime", "CODEGATE_RUNTIME", "local")
        H.EXECUTORS = int(arg_value(extra, "--executors", "CODEGATE_EXECUTORS", "1"))
        if H.RUNTIME == "local":
            default = "/run/codegate-%s" % G.instance
            if G.as_user:
                import pwd
                default = "/tmp/codegate-%d-%s" % (pwd.getpwnam(G.as_user).pw_uid, G.instance)
            H.STATE_DIR = arg_value(extra, "--state-dir", "CODEGATE_STATE_DIR", default)
        # The gateway claims a range of slot uids of its own and says which ("slot uids A..B
        # (instance I)"; each executor also logs its own part of it, "slot uids a..b (flag)").
        ranges = [re.search(r"slot uids (\d+)\.\.(\d+) \(instance ", l.get("msg", ""))
                  for l in G.log_lines()]
        ranges = [m for m in ranges if m]
        check(ranges, "the gateway did not log its slot uid range")
        H.UID_RANGE = (int(ranges[-1].group(1)), int(ranges[-1].group(2)) + 1)
        if G.as_user:
            H.UID_RANGE = (1000, 1001)  # unprivileged: programs are uid 1000 in their own user ns
            # Without a memory cgroup, runs of glibc programs get one malloc arena so that their
            # address-space limit holds (README "memory per run", docs/SECURITY.md).
            for lang in ("python", "cpp", "c"):
                H.EXPECTED_ENV[lang] = H.EXPECTED_ENV[lang] | {"MALLOC_ARENA_MAX"}
        print("    runtime %s, instance %s, slot uids %d..%d; %d cases from tests/hostile/cases.index"
              % (H.RUNTIME, G.instance, H.UID_RANGE[0], H.UID_RANGE[1] - 1, len(cases)), flush=True)
        r.run(H.setup, timeout=300)
        if r.failed:
            return r.finish()
        r.run_all(G, tests, timeout=120)
    finally:
        if G.proc and G.proc.poll() is None:
            G.stop()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
