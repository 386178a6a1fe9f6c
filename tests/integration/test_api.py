#!/usr/bin/python3
"""Integration suite: the real gateway with real executors, driven over HTTP.

    tests/integration/test_api.py BUILD_DIR [gateway args...]

Starts BUILD_DIR/gateway (by default on the local runtime; the Docker suite runs this same file
with --runtime docker), runs every check, stops it with SIGTERM and checks it exits 0.
With CODEGATE_TEST_URL set (harness attach mode; tests/compose/ does it) it runs against that
gateway instead; the checks that need a gateway process of its own are excluded by name, with
the reason printed. The last line is `N passed, N failed`.
"""
import concurrent.futures
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import raw_http, Gateway, Runner, check, http  # noqa: E402

G = None


def run(lang, code, **kw):
    body = {"language": lang, "code": code}
    body.update(kw)
    st, doc, _ = G.execute(body)
    check(st == 200, "HTTP %s" % st, doc)
    check(doc["success"] is True, "success false", doc)
    return doc["data"]


# ---- endpoints ----

def test_healthz_readyz_languages():
    st, doc, h = http("GET", G.url + "/healthz", headers={"Origin": "http://localhost:3000"})
    check(st == 200 and doc["status"] == "ok", "healthz", doc)
    check(h["Access-Control-Allow-Origin"] == "http://localhost:3000", "CORS header missing on healthz")
    st, doc, _ = http("GET", G.url + "/readyz")
    check(st == 200 and doc["status"] == "ready", "readyz", doc)
    st, doc, _ = http("GET", G.url + "/api/languages")
    check(st == 200, "languages", doc)
    langs = {e["language"]: e for e in doc["data"]}
    # Every language of the table, unless the deployment under test offers fewer (Compose and
    # Kubernetes run python, javascript and cpp executors: CODEGATE_TEST_LANGUAGES says so).
    want = set(filter(None, os.environ.get("CODEGATE_TEST_LANGUAGES",
                                           "python,javascript,cpp,c,java").split(",")))
    check(set(langs) == want, "language set: want %s" % sorted(want), doc)
    check(all(langs[n]["compiled"] for n in ("cpp", "c", "java") if n in langs)
          and not langs["python"]["compiled"], "compiled", doc)
    for e in langs.values():
        check(e["ready"] is True and e["version"], "not ready / no version", doc)
    aliases = {"python": "py", "javascript": "node", "cpp": "c++", "c": "gcc", "java": "jdk"}
    check(all(aliases[n] in langs[n]["aliases"] for n in langs), "aliases", doc)


def test_hello_three_languages():
    d = run("python", "print('hello from python')")
    check(d["output"] == "hello from python\n" and d["status"] == "ok" and d["error"] is False
          and d["exitCode"] == 0 and d["signal"] is None and d["language"] == "python", "py", d)
    check(d["version"].startswith("3."), "python version", d)
    check(isinstance(d["executionTime"], int) and d["durationMs"] >= 0 and d["memoryKb"] > 0, "numbers", d)
    d = run("JS", "console.log('hello from node')")
    check(d["stdout"] == "hello from node\n" and d["language"] == "javascript", "js", d)
    d = run("c++", '#include <iostream>\nint main(){std::cout<<"hello from c++"<<std::endl;}')
    check(d["stdout"] == "hello from c++\n" and d["status"] == "ok", "cpp", d)
    check(d["compile"]["exitCode"] == 0 and d["compile"]["durationMs"] > 0, "compile info", d)


def test_stdin_and_prompt():
    d = run("python", "a=int(input());b=int(input());print(a+b)", input="2\n40\n")
    check(d["stdout"] == "42\n", "sum", d)
    d = run("python", "name = input('Name: ')\nprint(f'Hello, {name}!')", input="Alice")
    check(d["output"] == "Name: Hello, Alice!\n", "prompt", d)
    d = run("javascript", "let s='';process.stdin.on('data',c=>s+=c);"
            "process.stdin.on('end',()=>console.log(s.trim().split(/\\s+/).map(Number).reduce((a,b)=>a+b)))",
            stdin="1 2 3")
    check(d["stdout"] == "6\n", "js stdin alias", d)
    d = run("cpp", "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a*b<<'\\n';}",
            input="6 7")
    check(d["stdout"] == "42\n", "cpp stdin without newline", d)


def test_eof_behaviour():
    t0 = time.time()
    d = run("python", "print(input())\nprint(input())", input="only one line")
    check(d["status"] == "runtime_error" and "EOFError" in d["stderr"], "python EOF", d)
    check(d["stdout"] == "only one line\n", "first line printed", d)
    check(time.time() - t0 < 4, "EOF must not hang")
    d = run("cpp", "#include <iostream>\nint main(){int x; if(!(std::cin>>x)) {std::cout<<\"eof\\n\"; return 0;} }")
    check(d["stdout"] == "eof\n", "cpp EOF", d)
    d = run("javascript", "const fs=require('fs');const s=fs.readFileSync(0,'utf8');console.log(JSON.stringify(s))")
    check(d["stdout"] == '""\n', "js empty stdin", d)


def test_big_input():
    big = ("x" * 1023 + "\n") * 5 * 1024  # 5 MiB
    d = run("python", "import sys\nprint(len(sys.stdin.read()))", input=big)
    check(d["stdout"] == "%d\n" % len(big), "read all", d)
    t0 = time.time()
    d = run("python", "print('ignored the input')", input=big)
    check(d["status"] == "ok" and d["stdout"] == "ignored the input\n", "never reads", d)
    check(time.time() - t0 < 5, "no deadlock when stdin is not read")


def test_runtime_error_and_exit_codes():
    d = run("python", "raise ValueError('boom')")
    check(d["status"] == "runtime_error" and d["error"] is True and d["exitCode"] == 1, "py raise", d)
    check("ValueError: boom" in d["stderr"], "traceback", d)
    d = run("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    check(d["exitCode"] == 3 and d["stdout"] == "out\n" and d["stderr"] == "err\n", "exit 3", d)
    d = run("javascript", "process.exit(4)")
    check(d["exitCode"] == 4 and d["status"] == "runtime_error", "js exit", d)
    d = run("cpp", "int main(){return 5;}")
    check(d["exitCode"] == 5, "cpp exit", d)
    d = run("cpp", "#include <cstdlib>\nint main(){abort();}")
    check(d["signal"] == "SIGABRT" and d["exitCode"] is None and d["status"] == "runtime_error", "abort", d)
    d = run("python", "import sys\nprint(sys.argv[1:])", args=["a b", "c"])
    check(d["stdout"] == "['a b', 'c']\n", "args", d)


def test_compile_error():
    d = run("cpp", "int main(){ this is not c++ }")
    check(d["status"] == "compile_error" and d["error"] is True, "status", d)
    check("error" in d["compile"]["stderr"] and d["compile"]["exitCode"] != 0, "diagnostics", d)
    check(d["exitCode"] is None, "no run", d)


def test_timeout():
    t0 = time.time()
    d = run("python", "while True: pass", timeoutMs=1000)
    dt = time.time() - t0
    check(d["status"] == "timeout" and d["timedOut"] is True, "busy loop", d)
    check(dt < 4.5, "answered within the limit plus a margin (%.1fs)" % dt)
    t0 = time.time()
    d = run("javascript", "setTimeout(()=>{}, 60000)", timeoutMs=700)
    check(d["status"] == "timeout" and time.time() - t0 < 4, "sleeping node", d)
    # A background child that keeps stdout open must not keep the request alive.
    t0 = time.time()
    d = run("python", "import os,time\nif os.fork()==0:\n  time.sleep(100)\nprint('parent done')",
            timeoutMs=3000)
    check(d["stdout"] == "parent done\n" and time.time() - t0 < 3.5, "orphan kept output open", d)


def test_output_cap():
    t0 = time.time()
    d = run("python", "while True: print('x' * 1000)", timeoutMs=10000)
    dt = time.time() - t0
    check(d["status"] == "output_limit" and d["truncated"] is True, "flood", {k: d[k] for k in d if k not in ("stdout", "output")})
    check(0 < len(d["stdout"]) <= 1024 * 1024, "kept output size %d" % len(d["stdout"]))
    check(dt < 5, "stopped at the cap, not at the timeout (%.1fs)" % dt)
    d = run("cpp", "#include <cstdio>\nint main(){for(;;) fputs(\"yyyyyyyy\", stderr);}", timeoutMs=10000)
    check(d["status"] == "output_limit" and len(d["stderr"]) <= 1024 * 1024, "stderr flood", {"status": d["status"]})


def test_invalid_utf8_and_nul():
    d = run("python", "import sys\nsys.stdout.buffer.write(b'a\\xff\\x00b\\xe2\\x82')")
    check(d["stdout"] == "a\ufffd\ufffdb\ufffd", "replacement rule: %r" % d["stdout"], d)
    d = run("python", "print('héllo ✓ 😀')")
    check(d["stdout"] == "héllo ✓ 😀\n", "valid UTF-8 unchanged", d)


def test_tests_run_mode():
    code = "a,b=map(int,input().split())\nprint(a+b)"
    tests = [{"input": "1 2", "expectedOutput": "3"},
             {"input": "5 5", "expectedOutput": "11\n"},
             {"stdin": "0 0", "expectedStdout": "0  \n\n"}]
    d = run("python", code, tests=tests)
    check([t["status"] for t in d["tests"]] == ["ok", "wrong_answer", "ok"], "statuses", d)
    check(d["passed"] == 2 and d["failed"] == 1 and d["status"] == "wrong_answer", "counts", d)
    check(d["tests"][1]["stdout"] == "10\n" and d["tests"][1]["expectedOutput"] == "11\n", "detail", d)
    d = run("python", code, tests=tests[2:], compare="exact")
    check(d["tests"][0]["passed"] is False, "exact compare", d)


def test_tests_submit_mode_and_cpp_compiles_once():
    code = "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}"
    tests = [{"input": "1 1", "expectedOutput": "2"}, {"input": "2 2", "expectedOutput": "5"},
             {"input": "3 3", "expectedOutput": "6"}, {"input": "4 4", "expectedOutput": "8"}]
    d = run("cpp", code, tests=tests, mode="submit")
    check([t["status"] for t in d["tests"]] == ["ok", "wrong_answer", "skipped", "skipped"], "submit", d)
    check(d["passed"] == 1 and d["failed"] == 1 and d["skipped"] == 2, "counts", d)
    check("compile" in d and d["compile"]["exitCode"] == 0, "compiled once", d)
    d = run("cpp", code, tests=tests[:1] + tests[2:])
    check(d["passed"] == 3 and d["status"] == "ok", "all pass", d)
    d = run("python", "import time\ntime.sleep(5)", tests=[{"input": "", "timeoutMs": 300}])
    check(d["tests"][0]["status"] == "timeout", "per-test timeout", d)


def test_cpp_compile_cache():
    tag = os.urandom(6).hex()
    code = '#include <iostream>\nint main(){std::string s; std::cin >> s; std::cout << "%s " << s << "\\n";}' % tag
    hits = 'codegate_compile_cache_total{language="cpp",result="hit"}'
    misses = 'codegate_compile_cache_total{language="cpp",result="miss"}'
    h0, m0 = metric(hits), metric(misses)
    d1 = run("cpp", code, input="one")
    check(d1["stdout"] == "%s one\n" % tag and d1["compile"]["durationMs"] > 0, "first compiles", d1)
    check(d1["compile"]["cached"] is False, "the first compile is no cache hit", d1)
    check(metric(misses) == m0 + 1 and metric(hits) == h0, "a compile-cache miss counted")
    t0 = time.time()
    d2 = run("cpp", code, input="two")
    check(d2["stdout"] == "%s two\n" % tag, "cached binary runs with new input", d2)
    check(d2["compile"]["durationMs"] == 0 and d2["compile"]["status"] == "ok", "second skips the compiler", d2)
    check(d2["compile"]["cached"] is True, "the second says it came from the cache", d2)
    check(metric(hits) == h0 + 1 and metric(misses) == m0 + 1, "a compile-cache hit counted")
    print("    cached C++ request answered in %.0f ms (compile took %d ms)" % ((time.time() - t0) * 1000, d1["compile"]["durationMs"]))
    d3 = run("cpp", code.replace(tag, tag + "x"), input="three")
    check(d3["stdout"] == "%sx three\n" % tag and d3["compile"]["durationMs"] > 0, "another source compiles", d3)


def test_error_codes():
    url = G.url + "/api/code/execute"
    st, doc, _ = http("POST", url, raw=b"{not json", headers={"Content-Type": "application/json"})
    check(st == 400 and doc["error"]["code"] == "invalid_json", "invalid_json", doc)
    st, doc, _ = http("POST", url, {"language": "python"})
    check(st == 400 and doc["error"]["code"] == "invalid_request" and "code" in doc["error"]["message"], "missing code", doc)
    st, doc, _ = http("POST", url, {"language": "python", "code": 5})
    check(st == 400 and doc["error"]["code"] == "invalid_request", "wrong type", doc)
    st, doc, _ = http("POST", url, {"language": "python", "code": "1", "timeoutMs": 999999})
    check(st == 400 and "timeoutMs" in doc["error"]["message"], "out of range", doc)
    st, doc, _ = http("POST", url, {"language": "cobol", "code": "x"})
    check(st == 400 and doc["error"]["code"] == "unsupported_language", "unsupported", doc)
    check("python" in json.dumps(doc["error"].get("details")), "details list languages", doc)
    st, doc, _ = http("POST", url, {"language": "python", "code": "#" * (256 * 1024 + 1)})
    check(st == 413 and doc["error"]["code"] == "payload_too_large", "code too large", doc)
    # Answered from the Content-Length alone, before the body is read (the client may not
    # manage to send it all: the connection is closed after the answer).
    st, _, doc, _, _ = raw_http(G.port, b"POST /api/code/execute HTTP/1.1\r\nHost: localhost\r\n"
                                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                % (17 * 1024 * 1024) + b'{"language":"python","code":"')
    check(st == 413 and doc["error"]["code"] == "payload_too_large", "body too large", doc)
    st, doc, _ = http("GET", G.url + "/nope")
    check(st == 404 and doc["error"]["code"] == "not_found", "404 JSON", doc)
    st, doc, h = http("GET", url)
    check(st == 405 and doc["error"]["code"] == "method_not_allowed" and "POST" in h["Allow"], "405", doc)
    # Bound to loopback with the default --cors-origins: pages from loopback origins only.
    st, doc, h = http("OPTIONS", url, headers={"Origin": "http://localhost:8080",
                                               "Access-Control-Request-Method": "POST"})
    check(st == 204 and h["Access-Control-Allow-Origin"] == "http://localhost:8080"
          and "POST" in h["Access-Control-Allow-Methods"], "preflight %s" % st)
    st, doc, h = http("OPTIONS", url, headers={"Origin": "http://class.example",
                                               "Access-Control-Request-Method": "POST"})
    check(st == 204 and "Access-Control-Allow-Origin" not in h, "foreign preflight not allowed")


def test_concurrent_distinct_outputs():
    def one(i):
        lang = ["python", "javascript", "python"][i % 3]
        code = "print(%d * 7)" % i if lang == "python" else "console.log(%d * 7)" % i
        st, doc, _ = G.execute({"language": lang, "code": code})
        return i, st, doc
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(one, range(36)))
    for i, st, doc in results:
        check(st == 200 and doc["data"]["stdout"] == "%d\n" % (i * 7), "request %d" % i, doc)


def test_executor_killed_is_restarted():
    kids = G.children()
    check(kids, "gateway has executor children (local runtime)")
    victim = kids[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.time() + 20
    ok = 0
    while time.time() < deadline and ok < 6:
        st, doc, _ = G.execute({"language": "python", "code": "print(1)"})
        st2, doc2, _ = G.execute({"language": "javascript", "code": "console.log(2)"})
        st3, doc3, _ = G.execute({"language": "cpp", "code": "#include <cstdio>\nint main(){puts(\"3\");}"})
        ok = ok + 1 if (st, st2, st3) == (200, 200, 200) else 0
        time.sleep(0.2)
    check(ok >= 6, "requests keep succeeding after an executor was killed")
    check(victim not in G.children(), "victim replaced")
    ev = [l for l in G.log_lines() if l.get("event") in ("executor_exited", "executor_up")]
    check(any(l.get("event") == "executor_exited" for l in ev), "lifecycle logged")


def metric(name_labels):
    with urllib.request.urlopen(G.url + "/metrics", timeout=10) as r:
        check(r.headers["Content-Type"].startswith("text/plain"), "content type")
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name_labels + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_move():
    key = 'codegate_requests_total{language="python",status="ok"}'
    before = metric(key)
    runs_before = metric('codegate_run_duration_seconds_count{language="python"}')
    run("python", "print(1)")
    check(metric(key) == before + 1, "requests counter moved")
    check(metric('codegate_run_duration_seconds_count{language="python"}') == runs_before + 1, "histogram moved")
    check(metric('codegate_executors_up{language="cpp"}') >= 1, "executors gauge")
    http("POST", G.url + "/api/code/execute", {"language": "cobol", "code": "x"})
    check(metric('codegate_requests_total{language="none",status="unsupported_language"}') >= 1, "errors counted")


def test_static_files():
    with urllib.request.urlopen(G.url + "/", timeout=10) as r:
        page = r.read()
        check(r.headers["Content-Type"].startswith("text/html") and b"<html" in page.lower(), "index")
        etag = r.headers["ETag"]
        check(etag and r.headers["Cache-Control"], "caching headers")
    with urllib.request.urlopen(G.url + "/app.js", timeout=10) as r:
        check(r.headers["Content-Type"].startswith("text/javascript"), "js type")
    req = urllib.request.Request(G.url + "/", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(req, timeout=10)
        check(False, "expected 304")
    except urllib.error.HTTPError as e:
        check(e.code == 304, "304 on a matching ETag, got %s" % e.code)
    for path in ("/../etc/passwd", "/%2e%2e/etc/passwd", "/..%2fetc%2fpasswd", "/.hidden",
                 "/static/../../etc/passwd", "/etc/passwd"):
        st, doc, _ = http("GET", G.url + path)
        check(st == 404 and doc["error"]["code"] == "not_found", "traversal %s -> %s" % (path, st), doc)


def test_request_log_lines():
    lines = [l for l in G.log_lines() if l.get("event") == "request" and l.get("path") == "/api/code/execute"]
    check(len(lines) > 10, "request lines")
    ok = [l for l in lines if l.get("status") == "ok"]
    check(ok and all(k in ok[-1] for k in ("id", "language", "exitCode", "durationMs", "executor")), "fields", ok[-1] if ok else None)


def main():
    global G
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    G = Gateway(build, extra, name="api")
    r = Runner("integration (%s)" % ("attached to " + G.url if G.attached else " ".join(extra)))
    G.start()
    try:
        for t in (test_healthz_readyz_languages, test_hello_three_languages, test_stdin_and_prompt,
                  test_eof_behaviour, test_big_input, test_runtime_error_and_exit_codes,
                  test_compile_error, test_timeout, test_output_cap, test_invalid_utf8_and_nul,
                  test_tests_run_mode, test_tests_submit_mode_and_cpp_compiles_once, test_cpp_compile_cache,
                  test_error_codes, test_concurrent_distinct_outputs, test_metrics_move, test_static_files):
            r.run(t)
        if G.attached:
            r.exclude("test_executor_killed_is_restarted",
                      "kills a child process of the gateway; an attached gateway has none here "
                      "(tests/compose/ kills an executor container instead)")
        elif "docker" in extra:
            r.exclude("test_executor_killed_is_restarted",
                      "kills a child process; tests/docker/ kills a container instead")
        else:
            r.run(test_executor_killed_is_restarted)
        r.run(test_request_log_lines)
    finally:
        rc = G.stop()
    def clean_exit():
        check(rc == 0, "gateway exit status %s after SIGTERM" % rc)
        reports = G.sanitizer_reports()
        check(not reports, "sanitizer reports in the log:\n" + "\n".join(reports[:20]))
    if G.attached:
        r.exclude("clean_exit", "this suite did not start the gateway, so it does not stop it "
                  "(tests/compose/ checks the gateway container's exit status)")
    else:
        r.run(clean_exit)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
