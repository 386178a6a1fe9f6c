"""Printing the benchmark's results (tests/bench/bench.py): the tables, the ratios, and the
performance issue's targets next to the measured values, each met or missed by how much."""

MIB = 1024


def verdict(value, target, higher_is_better, unit=""):
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "met"
    miss = (target - value) if higher_is_better else (value - target)
    rel = miss / target * 100 if target else 0
    return "MISSED by %s%s (%.1f%%)" % ("%.3f" % miss if abs(miss) < 0.1 else fmt(miss), unit, rel)


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float):
        return "%.2f" % x if abs(x) < 10 else "%.1f" % x
    return str(x)


def table(headers, rows):
    """Prints rows under headers: numbers right-aligned, text left-aligned."""
    w = [max([len(str(h))] + [len(fmt(r[i])) for r in rows]) for i, h in enumerate(headers)]
    num = [all(isinstance(r[i], (int, float)) or r[i] is None or r[i] == "-" for r in rows)
           for i in range(len(headers))]
    print("  " + "  ".join(str(h).rjust(w[i]) if num[i] else str(h).ljust(w[i])
                           for i, h in enumerate(headers)).rstrip())
    print("  " + "  ".join("-" * x for x in w))
    for r in rows:
        print("  " + "  ".join(fmt(v).rjust(w[i]) if num[i] else fmt(v).ljust(w[i])
                               for i, v in enumerate(r)).rstrip())


def errors_of(l):
    return l["bad200"] + l["s503"] + l["other"] + l["timeouts"] + l["socket_errors"]


def targets(R):
    """The issue's targets, on the Docker runtime when it ran (the targets are set for it)."""
    rt = "docker" if "gateway docker" in R else "local"
    G = R.get("gateway " + rt)
    fl = R["floor"]
    rows = []
    if not G:
        return rt, rows
    seq = G["sequential"]["python"]
    py_bare = (seq.get("paired_bare") or fl["python3 -c print(1)"])["p50"]
    gp = seq["p50"]
    rows.append(["python p50 / bare python3 p50 (paired)", "<= 1.3", round(gp / py_bare, 2),
                 verdict(gp / py_bare, 1.3, False, "x")])
    pi = G.get("paired_in_image")
    if pi:
        # The same interpreter as the gateway runs (the host's python3 may start slower or faster),
        # measured in interleaved blocks inside the executor's container.
        x = pi["gateway"]["p50"] / pi["in_image"]["p50"]
        rows.append(["python p50 / python3 start in its container", "<= 1.3", round(x, 2),
                     verdict(x, 1.3, False, "x")])
    if "docker run" in R and rt == "docker":
        x = R["docker run"]["p50"] / gp
        rows.append(["docker run p50 / gateway p50", ">= 15", round(x, 1), verdict(x, 15, True, "x")])
    loads = [l for l in G["load"] if l and "rps" in l]
    l8 = next((l for l in loads if l["clients"] == 8), None)
    if l8:
        rows.append(["8 clients: req/s (0 errors)", ">= 120, 0", "%.1f, %d" % (l8["ok_rps"], errors_of(l8)),
                     verdict(l8["ok_rps"], 120, True, " req/s") if errors_of(l8) == 0
                     else "MISSED: %d errors" % errors_of(l8)])
    l16 = next((l for l in loads if l["clients"] == 16), None)
    if l16 and loads:
        peak = max(l["ok_rps"] for l in loads)
        keep = l16["ok_rps"] / peak if peak else 0
        rows.append(["16 clients: req/s vs peak (no collapse)", ">= 90%, 0 err",
                     "%.0f%%, %d" % (keep * 100, errors_of(l16)),
                     verdict(keep * 100, 90, True, " pts") if errors_of(l16) == 0
                     else "MISSED: %d errors" % errors_of(l16)])
    ov = G.get("overload")
    if ov and "rps" in ov:
        shed_ok = ov["s503"] > 0 and ov["retry_after"] == ov["s503"] and ov["timeouts"] == 0 \
            and ov["socket_errors"] == 0 and ov["other"] == 0
        rows.append(["%d clients: 503+Retry-After, no timeouts" % ov["clients"], "shed, 0 timeouts",
                     "503: %d (Retry-After %d), timeouts %d" % (ov["s503"], ov["retry_after"], ov["timeouts"]),
                     "met" if shed_ok else "MISSED"])
    cpp = G["sequential"]["cpp"]["p50"]
    rows.append(["C++ same source again, p50 ms", "<= 30", cpp, verdict(cpp, 30, False, " ms")])
    bc = (G.get("compile") or {}).get("bits_compile_ms")
    gb = fl.get("g++ -O2 <bits/stdc++.h>")
    if bc and gb:
        x = bc["p50"] / gb["p50"] * 100
        rows.append(["<bits/stdc++.h> compile / plain g++", "<= 35%", "%.0f%%" % x, verdict(x, 35, False, " pts")])
    gi = G["memory_idle"]["gateway_kb"]
    rows.append(["gateway idle RSS MiB", "<= 30", round(gi / MIB, 1), verdict(gi / MIB, 30, False, " MiB")])
    ei = max((v["rss_kb"] or 0) for v in G["memory_idle"]["executors"].values()) if G["memory_idle"]["executors"] else None
    if ei:
        rows.append(["executor idle RSS MiB (largest)", "<= 8", round(ei / MIB, 1), verdict(ei / MIB, 8, False, " MiB")])
    st = next((s for s in G.get("strace", []) if s["follow_children"] and s["target"] == "executor"), None)
    if st:
        rows.append(["process starts per request (python)", "<= 1 (the program)",
                     "%.2f execve, %.2f fork" % (st["process_starts_per_request"], st["forks_per_request"]),
                     verdict(st["process_starts_per_request"], 1, False, "")])
    return rt, rows


MIB_BYTES = 1048576
BIG_BYTES = 1000000  # the "python 1 MB out" program's output (bench.py BIG_OUTPUT)


def ratio_row(rows, num, what, rt, measured, reference, goal, higher=False, unit=" ms"):
    """A row of the issue-15 table: measured / reference against goal (a ratio)."""
    if measured is None or not reference:
        rows.append([num, what, rt, fmt(measured), fmt(reference), "-", ("%s %.2f" % (">=" if higher else "<=", goal)), "n/a"])
        return
    x = measured / reference
    rows.append([num, what, rt, "%.1f%s" % (measured, unit), "%.1f%s" % (reference, unit), "%.2f" % x,
                 "%s %.2f" % (">=" if higher else "<=", goal), verdict(round(x, 3), goal, higher, "x")])


def targets15(R):
    """Every target of issue 15, per runtime, each with its reference measured in this run."""
    rows = []
    rts = [rt for rt in ("local", "docker") if R.get("gateway " + rt)]
    fl = R["floor"]
    for name, x in (R.get("pause_floor") or {}).items():  # 0. what any start pays after a pause
        rows.append([0, "reference: bare %s after the pause / back-to-back" % name, "host",
                     "%.2f ms" % x["pause"]["p50"], "%.2f ms" % x["b2b"]["p50"],
                     "%.2f" % (x["pause"]["p50"] / x["b2b"]["p50"]), "-", "(the machine's own)"])
    for rt in rts:  # 0. after an idle pause
        G = R["gateway " + rt]
        for lang in ("python", "javascript", "cpp"):
            p = (G.get("pause") or {}).get(lang)
            b = (G.get("pause_b2b") or {}).get(lang) or G["sequential"].get(lang)
            ratio_row(rows, 0, "%s after %d ms pause / back-to-back" % (lang, R["meta"].get("pause_ms", 50)), rt,
                      p and p["p50"], b and b["p50"], 1.1)
    for rt in rts:  # 1. Python below a bare start; throughput against the ceiling
        G = R["gateway " + rt]
        seq = G["sequential"]["python"]
        ratio_row(rows, 1, "python print(1) / bare python3 (paired)", rt, seq["p50"],
                  (seq.get("paired_bare") or fl["python3 -c print(1)"])["p50"], 0.5)
        l8 = next((l for l in G.get("load") or [] if l and l.get("clients") == 8 and "rps" in l), None)
        ceil = R.get("ceiling")
        if l8 and ceil:
            ratio_row(rows, 1, "8 clients ok req/s / bare-start ceiling (%d loops)" % ceil["loops"], rt,
                      l8["ok_rps"], ceil["per_s"], 2.0, higher=True, unit="/s")
            if errors_of(l8):
                rows[-1][-1] = "MISSED: %d errors" % errors_of(l8)
        else:
            rows.append([1, "8 clients ok req/s / bare-start ceiling", rt, "-", "-", "-", ">= 2.00", "n/a (no wrk)"])
    dvl = R.get("docker_vs_local")
    if dvl:  # 2. Docker costs what local costs: both gateways up, alternating blocks
        for lang, name in (("python", "python"), ("cpp", "C++ repeat")):
            x = dvl.get(lang)
            for mode, what in (("b2b", "back-to-back"), ("pause", "after the pause")):
                ratio_row(rows, 2, "%s docker / local, %s (both up, alternating)" % (name, what), "both",
                          x and x["docker"][mode]["p50"], x and x["local"][mode]["p50"], 1.15)
    elif "local" in rts and "docker" in rts:  # 2. (older results: from the two gateway runs)
        L, D = R["gateway local"], R["gateway docker"]
        for lang, name in (("python", "python"), ("cpp", "C++ repeat")):
            ratio_row(rows, 2, "%s docker / local, back-to-back" % name, "both",
                      D["sequential"][lang]["p50"], L["sequential"][lang]["p50"], 1.15)
            dp, lp = (D.get("pause") or {}).get(lang), (L.get("pause") or {}).get(lang)
            ratio_row(rows, 2, "%s docker / local, after the pause" % name, "both",
                      dp and dp["p50"], lp and lp["p50"], 1.15)
    else:
        rows.append([2, "docker / local p50 (python, C++ repeat)", "-", "-", "-", "-", "<= 1.15",
                     "n/a (one runtime ran)"])
    for rt in rts:  # 3. JavaScript at the speed of its Node
        G = R["gateway " + rt]
        js = G["sequential"]["javascript"]
        ref, how, mine = (js.get("paired_bare") or {}).get("p50"), "paired", js["p50"]
        pj = G.get("paired_in_image_js")
        img = fl.get("node -e console.log(1), in the image")
        if rt == "docker" and pj:  # the same Node in its container, interleaved with requests
            ref, how, mine = pj["in_image"]["p50"], "in its container, interleaved", pj["gateway"]["p50"]
        elif rt == "docker" and img:
            ref, how = img["p50"], "in its image"
        ratio_row(rows, 3, "javascript / bare node (%s)" % how, rt, mine, ref, 1.3)
    for rt in rts:  # 4. C++ first compile
        c = R["gateway " + rt].get("cpp_fresh") or {}
        ratio_row(rows, 4, "C++ new program / plain g++ -O2 + run (paired, %d/%d ok)" % (c.get("ok", 0), c.get("n", 0)),
                  rt, (c.get("gateway") or {}).get("p50"), (c.get("bare_gxx") or {}).get("p50"), 0.7)
    for rt in rts:  # 5. output and memory
        G = R["gateway " + rt]
        oc = G.get("output_cost") or {}
        if oc.get("big"):
            extra = (oc["big"]["p50"] - oc["print1"]["p50"]) * MIB_BYTES / oc["bytes"]
            rows.append([5, "1 MiB of output adds (p50 1 MB - p50 print(1), interleaved%s)"
                         % (", %d not ok" % oc["bad"] if oc["bad"] else ""), rt, "%.1f ms" % extra,
                         "%.1f ms" % oc["print1"]["p50"], "-", "<= 10 ms",
                         verdict(round(extra, 2), 10, False, " ms") if not oc["bad"] else "MISSED: errors"])
        big, small = G["sequential"].get("python 1 MB out"), G["sequential"]["python"]
        if big and not oc.get("big"):
            extra = (big["p50"] - small["p50"]) * MIB_BYTES / BIG_BYTES
            rows.append([5, "1 MiB of output adds (p50 1 MB out - p50 print(1))", rt, "%.1f ms" % extra,
                         "%.1f ms" % small["p50"], "-", "<= 10 ms", verdict(round(extra, 2), 10, False, " ms")])
        pk = G.get("memory_peak_16")
        if pk and pk.get("gateway_kb"):
            mib = pk["gateway_kb"] / MIB
            rows.append([5, "gateway RSS peak at 16 clients", rt, "%.1f MiB" % mib, "-", "-", "<= 40 MiB",
                         verdict(round(mib, 2), 40, False, " MiB")])
    for rt in rts:  # 6. a class at once, on the defaults
        c = R["gateway " + rt].get("classroom")
        if not c:
            continue
        z = c.get("sizing") or {}
        size = "%sx%s slots" % (z.get("executors", "?"), z.get("slots", "?"))
        for key, what in (("sleepers", "30 x (sleep 2 s + input)"), ("cpu_bound", "30 x 0.5 s CPU")):
            b = c[key]
            rows.append([6, "%s at once, %s: ok, p50/p99 s" % (what, size), rt,
                         "%d/%d ok, %.1f/%.1f s" % (b["ok"], b["n"], b["p50"] / 1000, b["p99"] / 1000),
                         "-", "-", "all 200 ok",
                         "met" if b["ok"] == b["n"] else "MISSED: %d not ok (%d 503)" % (b["n"] - b["ok"], b["s503"])])
    return rows


def report(R):
    fl = R["floor"]
    print("\n== Floor: processes started directly on the host (ms)")
    rows = [[k, v["p50"], v["p95"], v["p99"], v["n"]] for k, v in fl.items()]
    if "docker run" in R:
        v = R["docker run"]
        rows.append(["docker run --rm (python print(1))", v["p50"], v["p95"], v["p99"], v["n"]])
    table(["what", "p50", "p95", "p99", "n"], rows)
    for rt in ("local", "docker"):
        G = R.get("gateway " + rt)
        if not G:
            continue
        print("\n== Gateway, %s runtime (ready after %.1f s, stopped in %.1f s)" % (rt, G["start_s"], G["stop_s"]))
        print("  sequential, one keep-alive client (ms; 'run' = the program's own wall time in the answer)")
        rows = []
        for lang, v in G["sequential"].items():
            rows.append([lang, v["p50"], v["p95"], v["p99"], v["run_p50_ms"],
                         round(v["p50"] - (v["run_p50_ms"] or 0), 1), v["n"],
                         v["bad200"] + v["other"], v["s503"], v["first"]["latency_ms"]])
        table(["language", "p50", "p95", "p99", "run p50", "overhead", "n", "errors", "503", "first"], rows)
        if G.get("pause"):
            pb = G.get("pause_b2b") or {}
            print("  after a %d ms idle pause before each request (blocks interleaved with back-to-back"
                  " ones): " % R["meta"].get("pause_ms", 50) + ", ".join(
                      "%s p50 %.1f (p95 %.1f; back-to-back p50 %s)"
                      % (lang, v["p50"], v["p95"], fmt((pb.get(lang) or {}).get("p50")))
                      for lang, v in G["pause"].items()))
        cf = G.get("cpp_fresh")
        if cf:
            print("  C++ new small program (fresh source, %d/%d ok): request p50 %s ms, compile p50 %s ms;"
                  " plain g++ -O2 + run p50 %s ms" % (cf["ok"], cf["n"], fmt((cf.get("gateway") or {}).get("p50")),
                                                    fmt((cf.get("compile_ms") or {}).get("p50")),
                                                    fmt((cf.get("bare_gxx") or {}).get("p50"))))
        c = G.get("compile") or {}
        if c.get("bits_compile_ms"):
            print("  C++ <bits/stdc++.h>, new source: compile p50 %.0f ms, request p50 %.0f ms; same source again: p50 %.1f ms"
                  % (c["bits_compile_ms"]["p50"], c["bits_latency_ms"]["p50"],
                     (c.get("bits_repeat_latency_ms") or {}).get("p50") or -1))
        print("  load: Python print(1), wrk, keep-alive clients (latency ms)")
        rows = []
        for l in G["load"] + [G.get("overload")]:
            if not l:
                continue
            if "rps" not in l:
                rows.append([l["clients"], "error"] + ["-"] * 10)
                continue
            sv = l.get("server") or {}
            rows.append([l["clients"], l["rps"], l["ok_rps"], l["p50"], l["p90"], l["p99"], l["max"],
                         sv.get("queue_wait_mean_ms"), sv.get("run_duration_mean_ms"),
                         l["bad200"] + l["other"], l["s503"], l["timeouts"], l["socket_errors"]])
        table(["clients", "req/s", "ok/s", "p50", "p90", "p99", "max", "queue", "run", "non-200*", "503",
               "timeouts", "sock err"], rows)
        print("  (queue, run: the gateway's mean queue wait and program run time from /metrics; * non-200 other than")
        print("   503, plus 200s whose program did not end ok; the last row is the overload burst, clients ignore Retry-After)")
        cpu = next((l["cpu_s"] for l in G["load"] if l and l.get("cpu_s")), None)
        if cpu and cpu.get("requests"):
            n = cpu["requests"]
            print("  CPU per request at 8 clients (perf record -a, %d requests; ms of CPU per request):" % n)
            print("    " + ", ".join("%s %.1f" % (k, v * 1000 / n) for k, v in cpu.items()
                                     if k != "requests" and v > 0))
        print("  memory (RSS MiB; container = the container's cgroup memory)")
        mi, mp, ma = G["memory_idle"], G["memory_load_peak"] or {}, G["memory_after"]
        rows = [["gateway", round(mi["gateway_kb"] / MIB, 1), round(mp.get("gateway_kb", 0) / MIB, 1),
                 round(ma["gateway_kb"] / MIB, 1), "%s/%s/%s" % (mi["gateway_threads"], mp.get("gateway_threads"), ma["gateway_threads"])]]
        for name, v in sorted(mi["executors"].items()):
            pk = (mp.get("executors") or {}).get(name, {})
            af = ma["executors"].get(name, {})
            rows.append(["executor " + name, round((v["rss_kb"] or 0) / MIB, 1), round((pk.get("rss_kb") or 0) / MIB, 1),
                         round((af.get("rss_kb") or 0) / MIB, 1), "-"])
            if v.get("container_kb") is not None:
                rows.append(["  container " + name, round(v["container_kb"] / MIB, 1),
                             round((pk.get("container_kb") or 0) / MIB, 1), round((af.get("container_kb") or 0) / MIB, 1), "-"])
        table(["process", "idle", "load peak", "after", "threads i/p/a"], rows)
        for s in G.get("strace", []):
            print("  strace -c%s on %s, %d python requests: %.0f syscalls/request, execve %.2f, fork/clone %.2f per request"
                  % (" -f" if s["follow_children"] else "", s["target"], s["requests"], s["syscalls_per_request"],
                     s["process_starts_per_request"], s["forks_per_request"]))
            print("    most frequent per request: " + ", ".join(
                "%s %.1f" % (t["syscall"], t["per_request"])
                for t in sorted(s["top_calls"], key=lambda t: -t["per_request"])[:10]))
    if R.get("async local"):
        from async_bench import print_report
        print_report(R["async local"])
    print("\n== Ratios")
    py_bare = fl["python3 -c print(1)"]["p50"]
    for rt in ("local", "docker"):
        G = R.get("gateway " + rt)
        if G:
            gp = G["sequential"]["python"]["p50"]
            print("  %-6s gateway python p50 / bare python3 p50 (floor table) = %.1f / %.1f = %.2f"
                  % (rt, gp, py_bare, gp / py_bare))
            pb = G["sequential"]["python"].get("paired_bare")
            if pb:
                print("  %-6s gateway python p50 / bare python3 p50 (paired)      = %.1f / %.1f = %.2f"
                      % (rt, gp, pb["p50"], gp / pb["p50"]))
            pi = G.get("paired_in_image")
            if pi:
                print("  %-6s gateway python p50 / python3 in its container (blocks) = %.1f / %.1f = %.2f"
                      % (rt, pi["gateway"]["p50"], pi["in_image"]["p50"],
                         pi["gateway"]["p50"] / pi["in_image"]["p50"]))
            if "docker run" in R:
                print("  %-6s docker run p50 / gateway python p50   = %.1f / %.1f = %.1f"
                      % (rt, R["docker run"]["p50"], gp, R["docker run"]["p50"] / gp))
    rt, rows = targets(R)
    print("\n== Earlier targets (issue 6; measured on the %s runtime)" % rt)
    table(["target", "goal", "measured", "verdict"], rows)
    R["targets"] = {"runtime": rt, "rows": rows}
    c = R.get("ceiling")
    if c:
        print("\n  bare-start ceiling: %d parallel loops of python3 -c 'print(1)' for %.1f s: %d starts, %.1f/s"
              % (c["loops"], c["seconds"], c["starts"], c["per_s"]))
    for rt_ in ("local", "docker"):
        G = R.get("gateway " + rt_)
        if G and G.get("sizing"):
            z = G["sizing"]
            print("  %s gateway sizing: %.2f CPUs, %d MiB -> %d executor(s) x %d slots, queue %d, wait %d ms" % (
                rt_, z["cpuMilli"] / 1000, z["memoryMb"], z["executors"], z["slots"], z["queueMax"], z["queueWaitMs"]))
    rows = targets15(R)
    print("\n== Targets of issue 15 (each ratio against a reference measured in this run)")
    table(["#", "target", "runtime", "measured", "reference", "ratio", "goal", "verdict"], rows)
    R["targets15"] = [dict(zip(("n", "target", "runtime", "measured", "reference", "ratio", "goal", "verdict"), r))
                      for r in rows]
    goals = [r for r in rows if r[-1] != "(the machine's own)"]  # not the reference rows
    met = sum(1 for r in goals if r[-1] == "met")
    print("  %d of %d rows met" % (met, len(goals)))
    print("\n  machine: %s, %d cores, load average at start %s, end %s" %
          (R["meta"]["kernel"], R["meta"]["cores"], R["meta"]["loadavg_start"], R["meta"].get("loadavg_end")))
    if float(R["meta"]["loadavg_start"][0]) > 1.0:
        print("  NOTE: the machine was busy before the benchmark started (load average %s): other processes\n"
              "  competed for the cores, so absolute latencies are high and throughput low; the paired ratio\n"
              "  (bare start and request interleaved) is the robust number. See 'other processes' in the CPU row."
              % R["meta"]["loadavg_start"][0])


