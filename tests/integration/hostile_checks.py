"""Named checks of the strict hostile suite: a case of tests/hostile/cases.index lists them in
"checks", and the runner calls each as check(c, d, spec) after the run, when the run got a result
(d is the answer's data, c the Case collecting problems, spec the index line). Checks that every
case can say - status, stdout/stderr exact or by regex, signal, exit code, duration - are fields
of the spec itself (test_hostile_strict.py: apply_spec); what is here needs a little code.
"""
import json
import re

import hostile_lib as H

CHECKS = {}


def named(fn):
    CHECKS[fn.__name__] = fn
    return fn


@named
def flood(c, d, spec):
    """An output flood: truncated, and what was kept is within the 1 MiB cap."""
    c.want(d.get("truncated") is True, "truncated must be true", d)
    total = len(d["stdout"].encode()) + len(d["stderr"].encode())
    c.want(0 < total <= 1 << 20, "stdout+stderr hold %d bytes (cap 1 MiB)" % total)


@named
def stdout_only_x(c, d, spec):
    c.want(set(d["stdout"]) == {"x"}, "stdout holds only what was written", d)


@named
def timed_out(c, d, spec):
    """Killed at its time limit: timedOut, and durationMs not far past the limit."""
    timeout_ms = spec["timeout_ms"]
    c.want(d.get("timedOut") is True, "timedOut must be true", d)
    c.want(d["durationMs"] <= timeout_ms + 1500, "durationMs %s for a %d ms limit" % (d["durationMs"], timeout_ms), d)


@named
def killed_by_sigxfsz(c, d, spec):
    c.want(d.get("signal") == "SIGXFSZ" and d.get("exitCode") is None, "killed by SIGXFSZ", d)


@named
def stopped_at_file_size_limit(c, d, spec):
    """At RLIMIT_FSIZE the kernel sends SIGXFSZ, and write() fails with EFBIG where the signal is
    ignored: which one ends the run depends on the signal disposition Node sets up, not on the
    sandbox. Both are the file size limit; the status is runtime_error either way (spec), and
    nothing past 64 MiB was written."""
    c.want(d.get("signal") == "SIGXFSZ" or "EFBIG" in d.get("stderr", ""), "stopped at the file size limit", d)
    c.want("not reached" not in d.get("stdout", ""), "wrote more than 64 MiB", d)


@named
def threads_stop_below_process_limit(c, d, spec):
    m = re.match(r"stopped (\d+)\n$", d["stdout"])
    c.want(m and int(m.group(1)) < 64, "thread creation stops below the process limit", d)


@named
def nofile_limit(c, d, spec):
    nums = [int(x) for x in d["stdout"].split()] if re.match(r"\d+ \d+ \d+\n$", d["stdout"]) else None
    c.want(nums is not None and nums[0] <= 256, "RLIMIT_NOFILE 256 (RUNNER_NOFILE) stops open()", d)


@named
def second_test_case_runs_swapped_binary(c, d, spec):
    """Case 1 replaced the compiled ./main by a symlink to /etc/passwd: case 2 fails as a run of
    the user's program (runtime_error), nothing else breaks."""
    t = d.get("tests") or []
    c.want(len(t) == 2 and t[0]["passed"] is True, "case 1 runs normally", d)
    c.want(len(t) == 2 and t[1]["passed"] is False and t[1]["status"] == "runtime_error",
           "case 2 (its binary replaced by the program itself) is a runtime_error of the program", d)


def env_checks(c, lang, d, env):
    want = H.EXPECTED_ENV[lang]
    c.want(set(env) == want, "the environment is exactly %s, got %s" % (sorted(want), sorted(env)), d)
    c.want(not any("EXECUTOR" in k or "TOKEN" in k or "CODEGATE" in k for k in env), "executor variables leak", d)
    c.want(env.get("LANG") == "C.UTF-8" and env.get("PATH") == "/usr/local/bin:/usr/bin:/bin", "LANG / PATH", d)
    c.want(env.get("HOME") and env.get("HOME") == env.get("TMPDIR"), "HOME = TMPDIR = the work dir", d)


@named
def py_environ_scan(c, d, spec):
    if d["status"] != "ok":
        return
    r = json.loads(d["stdout"])
    env_checks(c, "python", d, r["env"])
    c.want(set(x.split("=")[0] for x in r["self"] if x) == H.EXPECTED_ENV["python"], "/proc/self/environ", d)
    for name in ("parent", "init"):
        # ENOENT: invisible (hidepid), EACCES: unreadable - either way not readable.
        c.want(r["readable"][name] in (2, 13), "/proc/<%s>/environ must be unreadable: %r"
               % (name, r["readable"][name]))
    c.want(not r["leaks"], "readable environments carry executor variables: pids %s" % r["leaks"])


@named
def env_json(c, d, spec):
    if d["status"] == "ok":
        env_checks(c, spec["lang"], d, json.loads(d["stdout"]))


@named
def env_lines(c, d, spec):
    if d["status"] == "ok":
        env_checks(c, spec["lang"], d, dict(l.split("=", 1) for l in d["stdout"].splitlines() if "=" in l))


@named
def py_signals(c, d, spec):
    if d["status"] != "ok":
        return
    r = json.loads(d["stdout"])
    visible, ppid = r.pop("visible"), r.pop("ppid")
    if H.G.as_user:
        # Unprivileged: the launcher is the same kernel uid, so kill() reports delivery; the
        # kernel drops SIGKILL/SIGSTOP to a namespace's init from inside it, and the launcher
        # takes stop requests only from outside the namespace. What must hold besides: the run
        # ended normally (above) and the next one is unaffected (the aftermath).
        c.want(all(v == "delivered" for v in r.values()), "every signal to the launcher / init: delivered (and dropped)", d)
    else:
        c.want(all(v == 1 for v in r.values()), "every signal to the launcher / init: EPERM", d)
    c.want(ppid == 1, "the launcher is the run's pid 1 (its own pid namespace)", d)
    c.want(len(visible) == 1, "the run sees only its own process in /proc: %s" % visible, d)


@named
def js_signals(c, d, spec):
    if d["status"] != "ok":
        return
    r = json.loads(d["stdout"])
    if H.G.as_user:  # see py_signals
        c.want(r.get("parent") == "delivered" and r.get("init") == "delivered",
               "signals to the launcher and init: delivered (and dropped)", d)
    else:
        c.want(r.get("parent") == "EPERM" and r.get("init") == "EPERM", "EPERM for the launcher and init", d)


@named
def nothing_allowed(c, d, spec):
    c.want(d["stdout"].strip() != "" and "ALLOWED" not in d["stdout"],
           "no ptrace, no /proc access to the executor or the launcher", d)


@named
def py_executor_access(c, d, spec):
    if d["status"] != "ok":
        return
    r = json.loads(d["stdout"])
    for p, v in r.items():
        if p.startswith("ws_"):
            c.want(" 101 " not in v + " ", "%s: the executor's WebSocket must refuse: %s" % (p, v))
        else:
            c.want(not v.startswith(("connected", "read", "listed")), "%s: %s" % (p, v))


@named
def js_executor_access(c, d, spec):
    if d["status"] != "ok":
        return
    r = json.loads(d["stdout"])
    for p, v in r.items():
        c.want(v != "connected" and " 101 " not in v + " ", "%s: %s" % (p, v))


@named
def at_most_16_ptys(c, d, spec):
    m = re.search(r"opened (\d+)", d["stdout"])
    c.want(m and int(m.group(1)) <= 16, "a run opened %s terminals" % (m and m.group(1)), d)


# Arguments that depend on the gateway under test (after the marker and the key): "args_from".
ARGS = {
    "executor_paths": lambda: H.executor_paths(),
    "host_paths": lambda: [H.HERE, "/home", "/root", "/run", "/srv", "/opt/codegate", H.STATE_DIR or "/run/codegate"],
}


@named
def workers_stop_below_process_limit(c, d, spec):
    """Worker threads are threads: creating them stops (a throw or an error event) before the
    run's process limit (64), and the program still ends on its own."""
    m = re.match(r"workers (\d+) errors (\d+)\n$", d["stdout"])
    c.want(m and int(m.group(1)) < 64 and int(m.group(2)) >= 1,
           "worker creation stops below the process limit", d)
