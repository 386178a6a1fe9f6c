#!/usr/bin/python3
"""rss.py - the gateway's resident memory under load.

Starts a gateway (local runtime) from BUILD and drives it with wrk (16 keep-alive connections,
tests/bench/post.lua) for SECONDS per program: Python print(1), then 1 MiB of output. Samples the
gateway's VmRSS every second and prints the peak and the last value of each phase.
Usage: /usr/bin/python3 tests/bench/rss.py [BUILD] [SECONDS]
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Gateway  # noqa: E402

PHASES = [
    ("print(1)", "print(1)"),
    ("1 MiB output", "print('x'*1048575)"),
]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "post.lua")
    gw = Gateway(build, ["--runtime", "local"], name="rss")
    gw.start()
    try:
        print("idle VmRSS %d kB" % rss_kb(gw.proc.pid), flush=True)
        for name, code in PHASES:
            env = dict(os.environ, BENCH_BODY=json.dumps({"language": "python", "code": code}))
            wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d%ds" % secs, "--timeout", "30s",
                                    "-s", lua, gw.url + "/api/code/execute"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                   text=True)
            peak = 0
            while wrk.poll() is None:
                peak = max(peak, rss_kb(gw.proc.pid))
                time.sleep(1)
            out = wrk.stdout.read()
            summary = [l for l in out.splitlines() if l.startswith("BENCH_JSON")]
            counts = json.loads(summary[0].split(" ", 1)[1]) if summary else {}
            print("%-14s %ds: peak VmRSS %d kB, after %d kB; ok %s, other %s" % (
                name, secs, peak, rss_kb(gw.proc.pid), counts.get("ok"),
                {k: v for k, v in counts.items() if k in ("bad200", "s503", "other")}),
                flush=True)
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
