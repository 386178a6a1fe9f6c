#!/usr/bin/python3
"""Every language of the table, end to end: the suite asks GET /api/languages and runs the same
programs (tests/integration/lang_programs.py) in each language it lists.

    tests/integration/test_languages.py BUILD_DIR [gateway args...]   (default: --runtime local)

Part of `make test` on the local runtime (scripts/run-tests.sh) and of the Docker suite
(tests/docker/run.sh runs it with --runtime docker). Per language: hello world, stdin echo,
arguments, Unicode output, a compile error (compiled languages, and none for the others),
a runtime error's exit status and stderr, an uncaught exception, a timeout, the memory limit
verdict, the compile cache (compiled languages), judged test cases, Java's entry class, strict
C11, and an interactive session whose prompt arrives before any input is sent. A language the
API lists and lang_programs.py does not know fails (adding a language means adding its programs
there).
Few runs per language (Java starts slowly). The last line is `N passed, N failed`.
"""
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, http  # noqa: E402
from lang_programs import KEYS, PROGRAMS  # noqa: E402

G = None
AS_USER = bool(os.environ.get("CODEGATE_TEST_AS_USER"))  # the unprivileged local runtime
LANGS = {}  # name -> the /api/languages entry


def run(lang, code, timeout=120, **kw):
    body = {"language": lang, "code": code}
    body.update(kw)
    st, doc, _ = G.execute(body, timeout=timeout)
    check(st == 200 and doc and doc.get("success") is True, "%s: HTTP %s" % (lang, st), doc)
    return doc["data"]


def want(d, lang, status, what):
    check(d["status"] == status, "%s %s: status %s, want %s" % (lang, what, d["status"], status), d)


def compiled_ok(d, lang):
    if LANGS[lang]["compiled"]:
        check(d.get("compile") and d["compile"]["status"] == "ok", "%s: compiled" % lang, d)


def test_every_listed_language_has_programs():
    check(LANGS, "no languages listed")
    for name, entry in LANGS.items():
        check(name in PROGRAMS, "%s is listed by /api/languages but lang_programs.py has no "
              "programs for it (docs/LANGUAGES.md)" % name)
        check(set(PROGRAMS[name]) == set(KEYS), "%s: programs %s" % (name, sorted(PROGRAMS[name])))
        check(entry["ready"] and entry["version"], "%s ready with a version" % name, entry)
        check((PROGRAMS[name]["compile_error"] is None) == (not entry["compiled"]),
              "%s: a compile-error program exactly when the language is compiled" % name, entry)


def per_language(fn):
    """A test that runs fn(lang) for every listed language and names the languages that failed."""
    def t():
        errors = []
        for lang in LANGS:
            try:
                fn(lang)
            except AssertionError as e:
                errors.append("%s: %s" % (lang, e))
        check(not errors, "\n".join(errors))
    t.__name__ = fn.__name__
    return t


@per_language
def test_hello_world(lang):
    d = run(lang, PROGRAMS[lang]["hello"])
    want(d, lang, "ok", "hello")
    check(d["stdout"] == "Hello, World!\n" and d["exitCode"] == 0 and d["stderr"] == "",
          "%s hello" % lang, d)
    check(d["language"] == lang and d["version"] == LANGS[lang]["version"], "%s version" % lang, d)
    compiled_ok(d, lang)


@per_language
def test_stdin_echo_and_unicode(lang):
    text = "line one\n  two  \nü€😀\n\nlast without newline"
    d = run(lang, PROGRAMS[lang]["echo"], stdin=text)
    want(d, lang, "ok", "echo")
    check(d["stdout"] == text, "%s echo: %r" % (lang, d["stdout"]), d)
    d = run(lang, PROGRAMS[lang]["unicode"])
    want(d, lang, "ok", "unicode")
    check(d["stdout"] == "ü€😀\n", "%s unicode: %r" % (lang, d["stdout"]), d)


@per_language
def test_arguments(lang):
    args = ["one", "two words", "ü"]
    d = run(lang, PROGRAMS[lang]["args"], args=args)
    want(d, lang, "ok", "args")
    check(d["stdout"] == "one\ntwo words\nü\n", "%s args: %r" % (lang, d["stdout"]), d)


@per_language
def test_compile_error(lang):
    code = PROGRAMS[lang]["compile_error"]
    if code is None:
        return  # interpreted: checked by test_every_listed_language_has_programs
    d = run(lang, code)
    want(d, lang, "compile_error", "compile error")
    check(d["compile"]["status"] == "compile_error" and d["compile"]["stderr"].strip(),
          "%s: the compiler's message" % lang, d)
    check(d["exitCode"] is None and d["stdout"] == "", "%s: nothing ran" % lang, d)


@per_language
def test_runtime_error_exit_code(lang):
    d = run(lang, PROGRAMS[lang]["runtime_error"])
    want(d, lang, "runtime_error", "exit 3")
    check(d["exitCode"] == 3 and d["stderr"] == "bad\n" and d["signal"] is None,
          "%s: exit 3 and stderr" % lang, d)
    d = run(lang, PROGRAMS[lang]["exception"])
    want(d, lang, "runtime_error", "uncaught exception")
    check((d["exitCode"] not in (None, 0)) or d["signal"], "%s: failed" % lang, d)


@per_language
def test_timeout(lang):
    t0 = time.time()
    d = run(lang, PROGRAMS[lang]["loop"], timeoutMs=1500)
    want(d, lang, "timeout", "busy loop")
    check(d["timedOut"] is True, "%s: timedOut" % lang, d)
    check(time.time() - t0 < 60, "%s: the answer came" % lang)


@per_language
def test_memory_limit(lang):
    d = run(lang, PROGRAMS[lang]["memory_hog"], memoryMb=64, timeoutMs=10000)
    if lang == "c" and AS_USER:
        # Without a memory cgroup (the unprivileged runtime) C's malloc() returns NULL at the
        # process's limit and the program decides: this one returns 1. No runtime prints a
        # marker for it, so nothing can say memory_limit (docs/LANGUAGES.md, "C").
        want(d, lang, "runtime_error", "memory hog at 64 MiB without a cgroup")
        check(d["exitCode"] == 1, "c: malloc() returned NULL and the program returned 1", d)
        return
    want(d, lang, "memory_limit", "memory hog at 64 MiB")


def test_compile_cache():
    for lang, entry in LANGS.items():
        if not entry["compiled"]:
            continue
        code = PROGRAMS[lang]["hello"] + ("\n// cache %s %d\n" % (lang, os.getpid()))
        a = run(lang, code)
        b = run(lang, code)
        want(b, lang, "ok", "cached")
        check(a["compile"]["cached"] is False and b["compile"]["cached"] is True,
              "%s: the second compile comes from the cache" % lang, [a["compile"], b["compile"]])
        check(b["stdout"] == "Hello, World!\n", "%s: the cached program runs" % lang, b)
    # and the metrics count them per language
    st, doc, _ = http("GET", G.url + "/metrics")
    text = doc["_raw"].decode() if st == 200 and doc else ""
    for lang, entry in LANGS.items():
        if entry["compiled"]:
            key = 'codegate_compile_cache_total{language="%s",result="hit"} ' % lang
            hits = [float(l[len(key):]) for l in text.splitlines() if l.startswith(key)]
            check(hits and hits[0] >= 1, "%s: the cache hit counted in /metrics: %s" % (lang, hits))


@per_language
def test_judged_test_cases(lang):
    d = run(lang, PROGRAMS[lang]["echo"],
            tests=[{"input": "3\n", "expectedOutput": "3"},
                   {"input": "4\n", "expectedOutput": "5"}])
    want(d, lang, "wrong_answer", "judged")
    check(d["passed"] == 1 and d["failed"] == 1, "%s: one passed, one failed" % lang, d)
    check([t["status"] for t in d["tests"]] == ["ok", "wrong_answer"], "%s: per case" % lang, d)
    # Submit mode: the first failure ends the job, the rest are skipped; one compile for all.
    d = run(lang, PROGRAMS[lang]["echo"], mode="submit",
            tests=[{"input": "a", "expectedOutput": "a"}, {"input": "b", "expectedOutput": "c"},
                   {"input": "d", "expectedOutput": "d"}])
    check([t["status"] for t in d["tests"]] == ["ok", "wrong_answer", "skipped"]
          and d["skipped"] == 1, "%s: submit mode" % lang, d)
    compiled_ok(d, lang)


def test_java_entry_class_from_the_source():
    # The class with main() is found whatever its name; none is a compile error that says so;
    # the program's arguments are its own (even one that looks like the helper's).
    check("java" in LANGS, "java is listed")
    d = run("java", "class Helper { static int twice(int x) { return 2 * x; } }\n"
                    "public class Solution {\n    public static void main(String[] a) {\n"
                    "        System.out.println(Helper.twice(21) + \" \" + String.join(\",\", a));"
                    "\n    }\n}\n", args=["--compile", "--run"])
    want(d, "java", "ok", "public class Solution in Main.java")
    check(d["stdout"] == "42 --compile,--run\n", "java: main of Solution ran", d)
    d = run("java", "public class NoMain { static void helper() {} }\n")
    want(d, "java", "compile_error", "no main()")
    check("no class has a method public static void main" in d["compile"]["stderr"],
          "java: the compile error says why", d)
    d = run("java", "public class Boom {\n    public static void main(String[] a) {\n"
                    "        throw new IllegalStateException(\"boom\");\n    }\n}\n")
    want(d, "java", "runtime_error", "uncaught")
    check(d["exitCode"] == 1 and d["stderr"].startswith(
        "Exception in thread \"main\" java.lang.IllegalStateException: boom\n\tat Boom.main(")
        and "codegate" not in d["stderr"] and "reflect" not in d["stderr"],
        "java: the program's own stack trace, exit 1", d)


def test_c_is_strict_c11():
    # POSIX names are not declared unless the program asks (so its own `index` compiles), and a
    # call to an undeclared function is a compile error, not a crash at run time.
    check("c" in LANGS, "c is listed")
    d = run("c", '#include <stdio.h>\n#include <string.h>\nint index = 3;\n'
                 'int main(void) { printf("%d\\n", index); return 0; }\n')
    want(d, "c", "ok", "a global named index")
    check(d["stdout"] == "3\n", "c: index", d)
    d = run("c", '#include <stdio.h>\n#include <string.h>\n'
                 'int main(void) { char *s = strdup("x"); puts(s); return 0; }\n')
    want(d, "c", "compile_error", "strdup without a feature macro")
    check("implicit declaration of function" in d["compile"]["stderr"], "c: says why", d)
    d = run("c", '#define _POSIX_C_SOURCE 200809L\n#include <stdio.h>\n#include <string.h>\n'
                 'int main(void) { char *s = strdup("posix"); puts(s); return 0; }\n')
    want(d, "c", "ok", "strdup with _POSIX_C_SOURCE")
    check(d["stdout"] == "posix\n", "c: strdup", d)


def session_prompt(lang):
    import websocket  # Debian's python3-websocket
    ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % G.port, timeout=60)
    out, frames = "", []

    def until(pred, what, limit=60):
        nonlocal out
        deadline = time.time() + limit
        while time.time() < deadline:
            op, fr = ws.recv_data_frame(True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            if op != websocket.ABNF.OPCODE_TEXT:
                continue
            f = json.loads(fr.data.decode("utf-8"))
            frames.append(f)
            if f["type"] == "stdout":
                out += f["data"]
            if pred(f):
                return f
        raise AssertionError("%s: never saw %s; frames %s"
                             % (lang, what, json.dumps(frames)[:1500]))

    try:
        ws.send(json.dumps({"type": "start", "language": lang, "code": PROGRAMS[lang]["prompt"]}))
        until(lambda f: f["type"] == "started", "started")
        until(lambda f: "Name? " in out, "the prompt")
        check(out == "Name? ", "%s: only the prompt before any input: %r" % (lang, out))
        ws.send(json.dumps({"type": "stdin", "data": "Ada\n"}))
        ex = until(lambda f: f["type"] == "exit", "exit")
        check(out == "Name? Hello, Ada!\n", "%s session output %r" % (lang, out))
        check(ex["status"] == "ok" and ex["exitCode"] == 0, "%s session exit" % lang, ex)
    finally:
        try:
            ws.close()
        except Exception:
            pass


test_session_prompt_before_input = per_language(session_prompt)
test_session_prompt_before_input.__name__ = "test_session_prompt_before_input"


def main():
    global G, LANGS
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("languages (%s)" % " ".join(extra))
    G = Gateway(build, extra, name="lang").start()
    st, doc, _ = http("GET", G.url + "/api/languages")
    if st == 200 and doc and doc.get("success"):
        LANGS = {e["language"]: e for e in doc["data"]}
    print("languages: %s" % ", ".join("%s %s" % (k, v["version"]) for k, v in LANGS.items()),
          flush=True)
    r.run_all(G, [test_every_listed_language_has_programs, test_hello_world,
                  test_stdin_echo_and_unicode, test_arguments, test_compile_error,
                  test_runtime_error_exit_code, test_timeout, test_memory_limit, test_compile_cache,
                  test_judged_test_cases, test_java_entry_class_from_the_source,
                  test_c_is_strict_c11,
                  test_session_prompt_before_input], timeout=600)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
