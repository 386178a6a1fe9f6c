#!/usr/bin/env python3
"""Compiler and interpreter options ("options": [...]) and the C++ compile's precompiled header,
through the real API: options change what a program does (-std=c++20, -Werror, -O0/-O2,
Python -W), the compile cache tells option sets apart, hostile or malformed options get a clear
400 naming the allowed values (execute, tests, sessions), and the precompiled header never
changes what a program means (a name that clashes with the standard library, a macro defined
before the includes, diagnostics of a failing compile).

Usage: test_options.py BUILD_DIR [gateway args...]   (default: --runtime local)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, http  # noqa: E402
from test_async import Redis  # noqa: E402
from test_session import Session  # noqa: E402

G = None
TAG = "%d%d" % (os.getpid(), int(time.time()))


def run(body, status=200):
    st, doc, _ = G.execute(body, timeout=180)
    check(st == status, "HTTP %s, expected %s" % (st, status), doc)
    return doc["data"] if status == 200 else doc


def cpp(code, options=None, **kw):
    body = {"language": "cpp", "code": code}
    if options is not None:
        body["options"] = options
    body.update(kw)
    return run(body)


CPP20 = ('#include <iostream>\n// %s\nconsteval int sq(int x) { return x * x; }\n'
         'int main() { std::cout << sq(7) << "\\n"; }\n')


def test_std_cpp20_feature_needs_the_option():
    d = cpp(CPP20 % ("a" + TAG))
    check(d["status"] == "compile_error", "consteval is C++20: refused by the default -std=c++17", d)
    check("consteval" in d["compile"]["stderr"] or "sq" in d["compile"]["stderr"], "diagnostics name it", d)
    d = cpp(CPP20 % ("a" + TAG), ["-std=c++20"])
    check(d["status"] == "ok" and d["stdout"] == "49\n", "compiles and runs with -std=c++20", d)


def test_werror_turns_a_warning_into_a_compile_error():
    src = '#include <cstdio>\n// %s\nint main() { int unused = 3; std::puts("ran"); }\n' % TAG
    d = cpp(src)
    check(d["status"] == "ok" and d["stdout"] == "ran\n", "a warning alone does not stop it", d)
    d = cpp(src, ["-Wall"])
    check(d["status"] == "ok" and "unused" in d["compile"]["stderr"], "-Wall shows the warning", d)
    d = cpp(src, ["-Wall", "-Werror"])
    check(d["status"] == "compile_error" and "unused" in d["compile"]["stderr"], "-Werror: an error", d)


def test_optimisation_levels_and_the_cache_tells_them_apart():
    src = ('#include <iostream>\n#include <vector>\n#include <algorithm>\n// %s\n'
           'int main() { std::vector<int> v{3, 1, 2}; std::sort(v.begin(), v.end());'
           ' for (int x : v) std::cout << x; std::cout << "\\n"; }\n') % TAG
    seen = {}
    for opts in (["-O0"], ["-O2"], ["-O3", "-g"], []):
        d = cpp(src, opts)
        check(d["status"] == "ok" and d["stdout"] == "123\n", "runs with %s" % opts, d)
        check(d["compile"]["cached"] is False, "first compile of %s is no cache hit" % opts, d)
        seen[tuple(opts)] = d
    for opts in (["-O0"], ["-O3", "-g"]):
        d = cpp(src, opts)
        check(d["compile"]["cached"] is True and d["stdout"] == "123\n", "%s again: from the cache" % opts, d)
    # The same options in another order are another command: compiled, not wrong.
    d = cpp(src, ["-g", "-O3"])
    check(d["status"] == "ok" and d["stdout"] == "123\n", "other order runs", d)


def test_options_with_test_cases():
    d = run({"language": "cpp", "code": CPP20 % ("t" + TAG), "options": ["-std=c++20", "-O1"],
             "tests": [{"expectedOutput": "49"}, {"expectedOutput": "50"}]})
    check(d["status"] == "wrong_answer" or any(not t["passed"] for t in d["tests"]), "judged", d)
    check(d["tests"][0]["passed"] is True and d["tests"][1]["passed"] is False, "first passes, second not", d)


def test_python_warning_options():
    code = ('import warnings\nwarnings.warn("old stuff %s", DeprecationWarning)\nprint("after")\n' % TAG)
    d = run({"language": "python", "code": code})
    check(d["status"] == "ok" and d["stdout"] == "after\n" and "DeprecationWarning" in d["stderr"], "default: a warning", d)
    d = run({"language": "python", "code": code, "options": ["-Werror"]})
    check(d["status"] == "runtime_error" and "after" not in d["stdout"] and "DeprecationWarning" in d["stderr"],
          "-Werror: the warning is an exception", d)
    d = run({"language": "python", "code": code, "options": ["-Wignore"]})
    check(d["status"] == "ok" and d["stdout"] == "after\n" and "Deprecation" not in d["stderr"], "-Wignore: silent", d)
    # The program still sees its own directory first on sys.path and no option in argv.
    d = run({"language": "python", "code": "import sys\nprint(sys.argv[1:], sys.warnoptions)",
             "options": ["-Werror"], "args": ["x"]})
    check(d["stdout"] == "['x'] ['error']\n", "argv untouched, the option reached Python", d)


def test_javascript_deprecation_options():
    code = "process.emitWarning('old stuff %s', 'DeprecationWarning');\nsetTimeout(() => console.log('later'), 10);\n" % TAG
    d = run({"language": "javascript", "code": code})
    check(d["status"] == "ok" and d["stdout"] == "later\n" and "DeprecationWarning" in d["stderr"], "default: a warning", d)
    d = run({"language": "javascript", "code": code, "options": ["--throw-deprecation"]})
    check(d["status"] == "runtime_error" and "later" not in d["stdout"], "--throw-deprecation: an exception", d)
    d = run({"language": "javascript", "code": code, "options": ["--no-deprecation"]})
    check(d["status"] == "ok" and "Deprecation" not in d["stderr"], "--no-deprecation: silent", d)


HOSTILE = [
    (["-o", "/etc/x"], "options[0]"), (["-B/tmp"], "options[0]"), (["-wrapper", "/bin/sh"], "options[0]"),
    (["@/etc/passwd"], "options[0]"), (["-fplugin=/tmp/x.so"], "options[0]"), (["-specs=/tmp/x"], "options[0]"),
    (["-I/"], "options[0]"), (["-L/"], "options[0]"), (["-O2", "-include/etc/passwd"], "options[1]"),
    (["-fsanitize=address"], "options[0]"), (["-O2 -o /tmp/x"], "options[0]"), (["-std=c++20 "], "options[0]"),
    (["-Wall", "-Wall"], "options[1]"), (["-O0", "-O2"], "options[1]"), (["-std=c++17", "-std=c++20"], "options[1]"),
    ([""], "options[0]"), (["x" * 5000], "options[0]"),
]


def test_hostile_options_refused():
    for opts, field in HOSTILE:
        st, doc, _ = G.execute({"language": "cpp", "code": "int main(){}", "options": opts})
        check(st == 400, "%r: HTTP %s" % (opts[:2], st), doc)
        e = doc["error"]
        check(e["code"] == "invalid_request" and e["details"]["field"] == field, "%r: field" % (opts[:2],), doc)
        check("-std=c++20" in e["message"] and "-O0" in e["message"], "%r: the message lists the allowed values" % (opts[:2],), doc)
        check("-Wall" in e["details"]["allowed"] and "-o" not in e["details"]["allowed"], "details.allowed", doc)
    # Malformed: not a list, not strings, too many.
    for opts, field, reason in (("-O2", "options", "type"), ([1], "options[0]", "type"), ([None], "options[0]", "type"),
                                ([["-O2"]], "options[0]", "type"), ({"o": 1}, "options", "type"),
                                (["-g"] * 17, "options", "range")):
        st, doc, _ = G.execute({"language": "cpp", "code": "int main(){}", "options": opts})
        check(st == 400 and doc["error"]["code"] == "invalid_request", "%r refused" % (opts,), doc)
        check(doc["error"]["details"]["field"] == field and doc["error"]["details"]["reason"] == reason,
              "%r: field %s reason %s" % (opts, field, reason), doc)
    # Another language's option, and a language that takes none.
    st, doc, _ = G.execute({"language": "python", "code": "print(1)", "options": ["-O2"]})
    check(st == 400 and "-Werror" in doc["error"]["message"], "python lists its own", doc)
    st, doc, _ = G.execute({"language": "javascript", "code": "1", "options": ["--allow-natives-syntax"]})
    check(st == 400 and "--throw-deprecation" in doc["error"]["message"]
          and "--allow-natives-syntax" not in doc["error"]["details"]["allowed"], "js lists its own", doc)
    st, doc, _ = G.execute({"language": "javascript", "code": "1", "options": ["--require", "/etc/x.js"]})
    check(st == 400 and doc["error"]["details"]["field"] == "options[0]", "js: no --require", doc)
    # Nothing ran: a later good request still works.
    d = cpp('#include <iostream>\nint main(){ std::cout << "ok\\n"; }', ["-O0"])
    check(d["stdout"] == "ok\n", "still serving", d)


def test_session_start_with_options():
    s = Session(G)
    s.start("cpp", CPP20 % ("s" + TAG), options=["-std=c++20"])
    s.exit(limit=120)
    check(s.out.replace("\r", "") == "49\n", "the session's program got the option: %r" % s.out)
    s.close()
    s = Session(G)
    s.start("cpp", "int main(){}", options=["-o", "/tmp/x"])
    f = s.until(lambda f: f["type"] == "error", "error")
    check(f["code"] == "invalid_request" and "-o" in f["message"] and "-std=c++20" in f["message"], "refused", f)
    s.start("python", "print('fine')", options=["-Werror"])
    s.exit(limit=60)
    check(s.out == "fine\n", "usable after the refusal: %r" % s.out)
    s.close()


def test_async_submission_with_options():
    st, doc, _ = http("POST", G.url + "/api/submissions",
                      {"language": "cpp", "code": CPP20 % ("q" + TAG), "options": ["-std=c++20", "-O0"]})
    check(st == 202, "queued", doc)
    sid = doc["data"]["id"]
    deadline = time.time() + 120
    while time.time() < deadline:
        st, doc, _ = http("GET", G.url + "/api/submissions/%s?wait=10" % sid, timeout=30)
        if st == 200 and doc["data"]["status"] in ("done", "failed", "cancelled"):
            break
    check(doc["data"]["status"] == "done" and doc["data"]["result"]["stdout"] == "49\n",
          "the worker ran it with the options", doc)
    st, doc, _ = http("POST", G.url + "/api/submissions",
                      {"language": "cpp", "code": "int main(){}", "options": ["-fplugin=/tmp/x.so"]})
    check(st == 400 and doc["error"]["details"]["field"] == "options[0]", "refused before queueing", doc)


def test_languages_list_their_options():
    st, doc, _ = http("GET", G.url + "/api/languages")
    check(st == 200, "languages", doc)
    by = {x["language"]: x for x in doc["data"]}
    check(by["cpp"]["options"][:2] == ["-std=c++20", "-std=c++17"] and "-Werror" in by["cpp"]["options"], "cpp", doc)
    check("-Werror" in by["python"]["options"] and "--no-deprecation" in by["javascript"]["options"], "python, js", doc)
    check("-std=c11" in by["c"]["options"] and by["java"]["options"] == ["--enable-preview"], "c, java", doc)


def test_c_options():
    src = '#include <stdio.h>\n// %s\nint main(void) { int unused = 3; puts("ran"); return 0; }\n' % TAG
    d = run({"language": "c", "code": src})
    check(d["status"] == "ok" and d["stdout"] == "ran\n", "a warning alone does not stop it", d)
    d = run({"language": "c", "code": src, "options": ["-std=c99", "-Wall", "-Werror"]})
    check(d["status"] == "compile_error" and "unused" in d["compile"]["stderr"], "-Wall -Werror", d)
    doc = run({"language": "c", "code": src, "options": ["-std=c++20"]}, status=400)
    check("-std=c11" in str(doc), "the 400 names C's allowed values, not C++'s", doc)
    doc = run({"language": "c", "code": src, "options": ["-std=c11", "-std=c17"]}, status=400)
    check(doc["success"] is False, "one -std at most", doc)


JAVA_PREVIEW = ('public class Main {\n  // %s\n  public static void main(String[] a) {\n'
                '    Object o = 42;\n    String s = switch (o) {\n'
                '      case Integer i -> "int " + i;\n      default -> "other";\n    };\n'
                '    System.out.println(s);\n  }\n}\n')


def test_java_enable_preview():
    # Pattern matching in switch is a preview feature of Java 17: javac refuses it unless
    # asked, and the JVM must be told too (the option reaches both).
    d = run({"language": "java", "code": JAVA_PREVIEW % TAG, "timeoutMs": 20000})
    check(d["status"] == "compile_error" and "preview" in d["compile"]["stderr"], "refused by default", d)
    d = run({"language": "java", "code": JAVA_PREVIEW % TAG, "options": ["--enable-preview"],
             "timeoutMs": 20000})
    check(d["status"] == "ok" and d["stdout"] == "int 42\n", "compiles and runs with it", d)
    doc = run({"language": "java", "code": "x", "options": ["-Xmx8g"]}, status=400)
    check("--enable-preview" in str(doc), "the 400 names the allowed value", doc)


# ---- the precompiled header (executors/cxxfast.h) must not change what a program means ----

def test_pch_is_found_by_the_local_executor():
    msgs = [x.get("msg", "") for x in G.log_lines() if "compiles:" in x.get("msg", "")]
    check(any("precompiled header" in m and "codegate-pch.h" in m for m in msgs),
          "the cpp executor uses the precompiled header: %s" % msgs)
    # Showing the header's directory must never cost a box its isolation (a tree under /tmp
    # once made every compiled language's box fail: "mkdir /tmp: File exists").
    if os.geteuid() == 0:
        reduced = [x.get("msg", "") for x in G.log_lines() if "REDUCED ISOLATION" in x.get("msg", "")]
        check(not reduced, "every executor builds its boxes: %s" % reduced)


def test_pch_in_use_on_this_runtime():
    # The one visible trace of the header (cxxfast.h): a program whose includes are all in the
    # set sees the whole set, so one that forgot <numeric> compiles; with a header outside the
    # set (<regex>) it gets no forced include and the same program fails as with plain g++.
    body = ('int main() { std::vector<int> v{1, 2, 3}; std::cout << std::accumulate(v.begin(), v.end(), 0)'
            ' << "\\n"; }\n// %s\n' % TAG)
    d = cpp('#include <iostream>\n#include <vector>\n' + body)
    check(d["status"] == "ok" and d["stdout"] == "6\n", "compiled with the precompiled header", d)
    d = cpp('#include <iostream>\n#include <vector>\n#include <regex>\n' + body)
    check(d["status"] == "compile_error" and "accumulate" in d["compile"]["stderr"], "without it: plain g++", d)


def test_name_clashing_with_the_library_still_compiles():
    # With <algorithm> (in the header) std::count would make `count` ambiguous: the compile with
    # the header fails and the plain one (only <iostream>) succeeds.
    src = ('#include <iostream>\nusing namespace std;\n// %s\nint count = 0;\n'
           'int main() { for (int i = 0; i < 5; i++) count += i; cout << count << "\\n"; }\n') % TAG
    d = cpp(src)
    check(d["status"] == "ok" and d["stdout"] == "10\n", "compiles as a plain g++ would", d)
    d = cpp(src)
    check(d["compile"]["cached"] is True and d["stdout"] == "10\n", "the second time: from the cache", d)


def test_macro_before_includes_is_kept():
    # _GLIBCXX_DEBUG must be seen before the headers: the checked vector then aborts.
    src = ('#define _GLIBCXX_DEBUG 1\n#include <vector>\n#include <iostream>\n// %s\n'
           'int main() { std::vector<int> v(2); std::cout << v[5] << "\\n"; }\n') % TAG
    d = cpp(src)
    check(d["status"] == "runtime_error" and "out-of-bounds" in d["stderr"], "the debug mode checked v[5]", d)


def test_compile_error_diagnostics_are_plain():
    src = '#include <iostream>\n// %s\nint main() { undeclared_thing(); }\n' % TAG
    d = cpp(src)
    err = d["compile"]["stderr"]
    check(d["status"] == "compile_error" and "undeclared_thing" in err, "the error", d)
    check("codegate-pch" not in err and "-include" not in err, "no trace of the header", d)


def test_bits_stdcpp_and_other_headers_compile():
    for src in ('#include <bits/stdc++.h>\nusing namespace std;\nint main(){ vector<int> v{1,2}; cout << v.size() << "\\n"; }',
                '#include <iostream>\n#include <regex>\nint main(){ std::cout << std::regex_match("ab", std::regex("a.")) << "\\n"; }',
                '#include "stdio.h"\nint main(){ puts("2"); }'):
        d = cpp(src + "\n// " + TAG)
        check(d["status"] == "ok" and d["stdout"].strip() in ("2", "1"), "compiles: %s" % src[:40], d)


TESTS = [test_std_cpp20_feature_needs_the_option, test_werror_turns_a_warning_into_a_compile_error,
         test_optimisation_levels_and_the_cache_tells_them_apart, test_options_with_test_cases,
         test_python_warning_options, test_javascript_deprecation_options, test_hostile_options_refused, test_session_start_with_options,
         test_async_submission_with_options, test_languages_list_their_options, test_c_options, test_java_enable_preview,
         test_pch_is_found_by_the_local_executor, test_pch_in_use_on_this_runtime, test_name_clashing_with_the_library_still_compiles,
         test_macro_before_includes_is_kept, test_compile_error_diagnostics_are_plain,
         test_bits_stdcpp_and_other_headers_compile]


def main():
    global G
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("options (%s)" % " ".join(extra))
    # A private Redis for the asynchronous submissions (as `make run` starts one).
    redis = None if os.environ.get("CODEGATE_TEST_URL") else Redis("options").start()
    args = extra + (["--redis-url", redis.url, "--async-workers", "1"] if redis else [])
    G = Gateway(build, args, name="options").start(ready_timeout=1800)
    tests = TESTS
    if G.attached or "local" not in extra:
        r.exclude("test_pch_is_found_by_the_local_executor",
                  "reads the executors' lines in the gateway's log: local runtime only")
        tests = [t for t in TESTS if t is not test_pch_is_found_by_the_local_executor]
    try:
        r.run_all(G, tests, timeout=400)
        if not G.attached:
            def no_sanitizer_reports():
                reports = G.sanitizer_reports()
                check(not reports, "sanitizer reports in the log:\n" + "\n".join(reports[:20]))
            r.run(no_sanitizer_reports)
    finally:
        if G.proc and G.proc.poll() is None:
            G.stop()
        if redis:
            redis.cleanup()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
