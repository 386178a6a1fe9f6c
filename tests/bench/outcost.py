#!/usr/bin/python3
"""outcost.py - what 1 MiB of program output adds to an answer of POST /api/code/execute.

Starts a gateway (local runtime) from BUILD, runs each program N times one after another and
prints, as differences from `print(1)`: the answer's p50; the time outside the run (the answer
less the program's own durationMs: what the executor, the gateway and the HTTP answer add),
p50 and min; and the CPU the gateway and its executors spent per request (from /proc, so not
disturbed by other load). Also prints the gateway's VmRSS. Programs: 1 MiB on one line, in
16-byte lines, of non-ASCII text, and of control characters (6 bytes each in JSON).
Usage: /usr/bin/python3 tests/bench/outcost.py [BUILD] [N]
       OUTCOST_LOOP="1 MiB one line" ... runs one program until killed (for perf record -p).
"""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Gateway  # noqa: E402

PROGRAMS = [
    ("print(1)", "print(1)"),
    ("1 MiB one line", "print('x'*1048575)"),
    ("1 MiB 16-byte lines", "import sys\nsys.stdout.write(('x'*15+'\\n')*65536)"),
    ("1 MiB non-ASCII", "import sys\nsys.stdout.write('\\u00e9'*524288)"),
    ("1 MiB control chars", "import sys\nsys.stdout.write(''.join(map(chr, range(1, 32))) * 33825)"),
]


def p50(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def cpu_ms(pids):
    """User + system CPU of these processes so far, in ms (clock ticks of /proc/PID/stat)."""
    tot = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            tot += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return tot * 1000.0 / os.sysconf("SC_CLK_TCK")


def ours(gw):
    """The gateway and its executors (not the programs: they run in their own cgroups)."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == gw.proc.pid:
                        with open("/proc/%s/comm" % d) as c:
                            if c.read().strip() == "executor":
                                kids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return [gw.proc.pid] + kids


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    loop = os.environ.get("OUTCOST_LOOP")  # a program's name: run it until killed (for perf)
    gw = Gateway(build, ["--runtime", "local"], name="outcost")
    gw.start()
    try:
        base = None
        if loop:
            print("gateway pid %d" % gw.proc.pid, flush=True)
        for name, code in PROGRAMS:
            if loop and name != loop:
                continue
            if loop:
                n = 1 << 30
            times, over = [], []
            conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
            body = json.dumps({"language": "python", "code": code})
            pids = ours(gw)
            for i in range(n + 3):
                if i == 3:
                    c0 = cpu_ms(pids)
                t0 = time.perf_counter()
                conn.request("POST", "/api/code/execute", body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                payload = r.read()
                dt = (time.perf_counter() - t0) * 1000
                st, doc = r.status, json.loads(payload)
                if st != 200 or doc["data"]["status"] != "ok":
                    raise SystemExit("%s: %s %s" % (name, st, json.dumps(doc)[:300]))
                if i >= 3:
                    times.append(dt)
                    over.append(dt - doc["data"]["durationMs"])
            conn.close()
            c = (cpu_ms(pids) - c0) / n
            m, o, mo = p50(times), p50(over), min(over)
            if base is None:
                base, obase, cbase, mobase = m, o, c, mo
            # "outside the run": the answer's time less the program's own durationMs.
            # cpu: what the gateway and its executors spent per request (load-independent).
            # min: the least a loaded machine added (the p50 carries other processes' load).
            print("%-22s p50 %7.2f ms +%6.2f; outside the run p50 %6.2f ms +%6.2f, min +%6.2f;"
                  " cpu %6.2f ms +%6.2f  (%d bytes of stdout)"
                  % (name, m, m - base, o, o - obase, mo - mobase, c, c - cbase,
                     len(doc["data"]["stdout"].encode())), flush=True)
        print("gateway VmRSS %d kB" % rss_kb(gw.proc.pid))
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
