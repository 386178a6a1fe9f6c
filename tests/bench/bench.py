#!/usr/bin/python3
"""The benchmark behind `make bench`: one run, one machine, every number side by side.

    tests/bench/bench.py BUILD_DIR

Measures the floor (bare interpreter starts and a g++ compile+run on the host), the naive
alternative (`docker run --rm` per request, when Docker answers), and the gateway on each
runtime available: sequential latency per language, throughput and latency at 1..16 clients
(wrk, keep-alive), resident memory of the gateway and executors idle and under load, the
compile cache, and the ratios the performance issue sets as targets. Prints a table and writes
build/bench/results.json. A benchmark, not a test: it reports, it does not assert.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from harness import Gateway  # noqa: E402

HELLO = {
    "python": "print(1)",
    "javascript": "console.log(1)",
    "cpp": '#include <cstdio>\nint main(){puts("1");}',
}
RESULTS = {}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def summary(xs):
    return {"n": len(xs), "p50": round(pct(xs, 0.50), 2), "p95": round(pct(xs, 0.95), 2),
            "p99": round(pct(xs, 0.99), 2), "mean": round(statistics.mean(xs), 2)}


def time_cmd(argv, n, env=None):
    out = []
    for i in range(n + 3):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        if i >= 3:
            out.append((time.perf_counter() - t0) * 1000)
    return summary(out)


def floor():
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    r = {"python3": time_cmd(["/usr/bin/python3", "-c", "print(1)"], 50, env),
         "node": time_cmd(["node", "-e", "console.log(1)"], 30, env)}
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "h.cpp"), "w") as f:
        f.write(HELLO["cpp"])
    r["g++ compile+run"] = time_cmd(["sh", "-c", "cd %s && g++ -std=c++17 -O2 -pipe -o h h.cpp && ./h" % d], 10, env)
    with open(os.path.join(d, "b.cpp"), "w") as f:
        f.write("#include <bits/stdc++.h>\nint main(){std::cout<<1<<std::endl;}")
    r["g++ bits/stdc++.h"] = time_cmd(["sh", "-c", "cd %s && g++ -std=c++17 -O2 -pipe -o b b.cpp" % d], 5, env)
    shutil.rmtree(d)
    RESULTS["floor"] = r


def docker_ok():
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def docker_run():
    imgs = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "codegate-python"],
                          capture_output=True, text=True).stdout.split()
    imgs = [i for i in imgs if not i.endswith(":manual")]
    if not imgs:
        return
    RESULTS["docker run --rm"] = time_cmd(["docker", "run", "--rm", "--network", "none", imgs[0],
                                           "python3", "-c", "print(1)"], 10)
    RESULTS["docker run --rm"]["image"] = imgs[0]


def post(conn, lang, code):
    body = json.dumps({"language": lang, "code": code})
    conn.request("POST", "/api/code/execute", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    d = r.read()
    return r.status, d


def sequential(g, lang, n):
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=60)
    xs, errors = [], 0
    for i in range(n + 5):
        t0 = time.perf_counter()
        st, _ = post(conn, lang, HELLO[lang])
        if st != 200:
            errors += 1
        if i >= 5:
            xs.append((time.perf_counter() - t0) * 1000)
    s = summary(xs)
    s["errors"] = errors
    return s


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def memory(g, runtime):
    out = {"gateway_kb": rss_kb(g.proc.pid)}
    if runtime == "local":
        out["executors_kb"] = [rss_kb(p) for p in g.children()]
    else:
        names = subprocess.run(["docker", "ps", "--filter", "label=codegate.instance=" + g.instance,
                                "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
        out["containers"] = {}
        for n in names:
            top = subprocess.run(["docker", "top", n, "-eo", "pid,comm"], capture_output=True, text=True).stdout
            for line in top.splitlines()[1:]:
                pid, comm = line.split(None, 1)
                if comm.strip() == "executor":
                    out["containers"][n] = rss_kb(int(pid))
    return out


WRK_LUA = """wrk.method = "POST"
wrk.body = '{"language":"python","code":"print(1)"}'
wrk.headers["Content-Type"] = "application/json"
local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
"""


def load(g, clients, seconds):
    if not shutil.which("wrk"):
        return None
    lua = os.path.join(g.build, "bench", "post.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    r = subprocess.run(["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", "%ds" % seconds,
                        "--latency", "-s", lua, g.url + "/api/code/execute"],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = {"clients": clients}
    for line in r.stdout.splitlines():
        w = line.split()
        if line.startswith("Requests/sec:"):
            out["rps"] = float(w[1])
        elif len(w) == 2 and w[0] in ("50%", "90%", "99%"):
            v = w[1]
            ms = float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
            out["p" + w[0][:-1]] = round(ms, 1)
        elif "Non-2xx" in line:
            out["non2xx"] = int(w[-1])
        elif "requests in" in line:
            out["requests"] = int(w[0])
        elif line.strip().startswith("Socket errors"):
            out["socket_errors"] = line.strip()
    out.setdefault("non2xx", 0)
    return out


def gateway_bench(build, runtime):
    g = Gateway(build, ["--runtime", runtime, "--queue-max", "256", "--log-requests", "false"],
                name="bench-" + runtime)
    g.build = build
    g.start(ready_timeout=1800)
    r = {}
    try:
        time.sleep(1)
        r["memory_idle"] = memory(g, runtime)
        r["sequential"] = {lang: sequential(g, lang, 100 if lang != "cpp" else 40) for lang in HELLO}
        r["load"] = [load(g, c, 8) for c in (1, 2, 4, 8, 16)]
        # memory under load: sample while a load runs
        import threading
        th = threading.Thread(target=lambda: load(g, 8, 5))
        th.start()
        time.sleep(3)
        r["memory_load"] = memory(g, runtime)
        th.join()
    finally:
        g.stop()
    return r


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    os.makedirs(os.path.join(build, "bench"), exist_ok=True)
    floor()
    runtimes = ["local"]
    if docker_ok():
        runtimes.append("docker")
    for rt in runtimes:
        RESULTS["gateway " + rt] = gateway_bench(build, rt)
    if "docker" in runtimes:
        docker_run()
    with open(os.path.join(build, "bench", "results.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)
    report()


def report():
    fl = RESULTS["floor"]
    print("\n== floor (host, bare processes), ms")
    for k, v in fl.items():
        print("  %-22s p50 %7.1f  p95 %7.1f" % (k, v["p50"], v["p95"]))
    if "docker run --rm" in RESULTS:
        v = RESULTS["docker run --rm"]
        print("  %-22s p50 %7.1f  p95 %7.1f" % ("docker run --rm", v["p50"], v["p95"]))
    for rt in ("local", "docker"):
        r = RESULTS.get("gateway " + rt)
        if not r:
            continue
        print("\n== gateway, %s runtime" % rt)
        for lang, v in r["sequential"].items():
            print("  sequential %-10s p50 %7.1f  p95 %7.1f  p99 %7.1f ms  errors %d"
                  % (lang, v["p50"], v["p95"], v["p99"], v["errors"]))
        for l in r["load"]:
            if l:
                print("  python %2d clients: %7.1f req/s  p50 %6.1f  p90 %6.1f  p99 %6.1f ms  non-2xx %d"
                      % (l["clients"], l.get("rps", 0), l.get("p50", 0), l.get("p90", 0), l.get("p99", 0), l["non2xx"]))
        print("  memory idle: %s" % json.dumps(r["memory_idle"]))
        print("  memory load: %s" % json.dumps(r["memory_load"]))
    print("\n== targets (issue: Performance)")
    py = fl["python3"]["p50"]
    for rt in ("local", "docker"):
        r = RESULTS.get("gateway " + rt)
        if not r:
            continue
        gp = r["sequential"]["python"]["p50"]
        print("  %s: gateway python p50 / bare python3 = %.2f (target <= 1.3)" % (rt, gp / py))
        l8 = [l for l in r["load"] if l and l["clients"] == 8]
        if l8:
            print("  %s: 8 clients %.0f req/s (target >= 120), non-2xx %d" % (rt, l8[0].get("rps", 0), l8[0]["non2xx"]))
        if rt == "docker" and "docker run --rm" in RESULTS:
            print("  docker run p50 / gateway p50 = %.1f (target >= 15)" % (RESULTS["docker run --rm"]["p50"] / gp))
        mi = r["memory_idle"]
        print("  %s: gateway idle RSS %s KiB (target <= 30720)" % (rt, mi.get("gateway_kb")))


if __name__ == "__main__":
    main()
