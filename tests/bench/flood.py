#!/usr/bin/python3
"""Measures one gateway build under a connection flood (docs/PERFORMANCE.md, "Connection floods").

    tests/bench/flood.py BUILD_DIR LABEL N_IDLE N_SLOW

Starts BUILD_DIR/gateway (local runtime, instance flood-LABEL), opens N_IDLE idle and N_SLOW
slowloris connections, then prints one JSON line: connections held, threads, RSS and virtual
size, /healthz latency (20 asks), and /healthz latency while 4 executes block their handlers
2 s each (10 asks). Raises its own open-files limit to the hard limit.
"""
import json, os, resource, socket, statistics, subprocess, sys, threading, time, urllib.request
build, label, n_idle, n_slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
log = open(os.path.join(build, "flood-%s.log" % label), "wb")
g = subprocess.Popen([build + "/gateway", "--runtime", "local", "--port", str(port), "--instance", "flood-%s" % label],
                     stdout=log, stderr=subprocess.STDOUT)
url = "http://127.0.0.1:%d" % port
for _ in range(100):
    try:
        if urllib.request.urlopen(url + "/readyz", timeout=1).status == 200: break
    except Exception: time.sleep(0.1)
def rss():
    st = open("/proc/%d/status" % g.pid).read()
    return {l.split(":")[0]: l.split()[1] for l in st.splitlines() if l.startswith(("VmRSS", "Threads", "VmSize"))}
base = rss()
socks, refused = [], 0
t0 = time.time()
for i in range(n_idle + n_slow):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=3)
        if i >= n_idle: c.sendall(b"GET /healthz HTTP/1.1\r\nHost: loc")
        socks.append(c)
    except OSError: refused += 1
time.sleep(1.5)
def hz():
    t = time.time()
    try:
        urllib.request.urlopen(url + "/healthz", timeout=10).read(); return (time.time() - t) * 1000
    except Exception as e: return None
lat = [hz() for _ in range(20)]
flood = rss()
# 4 executes that block their handler 2 s each, healthz meanwhile
def slow():
    req = urllib.request.Request(url + "/api/code/execute", data=json.dumps({"language": "python", "code": "import time\ntime.sleep(2)"}).encode(), headers={"Content-Type": "application/json"})
    try: urllib.request.urlopen(req, timeout=30).read()
    except Exception: pass
ths = [threading.Thread(target=slow) for _ in range(4)]
for t in ths: t.start()
time.sleep(0.3)
lat_busy = [hz() for _ in range(10)]
for t in ths: t.join()
ok = [x for x in lat if x is not None]; okb = [x for x in lat_busy if x is not None]
print(json.dumps({"label": label, "held": len(socks), "refused": refused, "base_rss_kb": int(base["VmRSS"]),
                  "flood_rss_kb": int(flood["VmRSS"]), "threads": int(flood["Threads"]), "vmsize_mb": int(flood["VmSize"])//1024,
                  "healthz_ms_median": round(statistics.median(ok), 1) if ok else None,
                  "healthz_ms_max": round(max(ok), 1) if ok else None, "healthz_failed": lat.count(None),
                  "healthz_busy_ms_median": round(statistics.median(okb), 1) if okb else None,
                  "healthz_busy_ms_max": round(max(okb), 1) if okb else None, "busy_failed": lat_busy.count(None)}))
for c in socks: c.close()
g.terminate(); g.wait(30)
