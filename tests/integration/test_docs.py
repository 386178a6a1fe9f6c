#!/usr/bin/python3
"""Docs suite: every curl example in README.md and docs/*.md is run against a real gateway, and
the answer shown under it must have the real answer's shape.

    tests/integration/test_docs.py BUILD_DIR [gateway args...]

A curl example is a ```sh block that runs curl; the documented answer is the ```json (or
```text) block right after it. Every curl example must show its answer. Shapes are compared
recursively: the same keys, the same JSON types (numbers, strings, booleans, null, objects,
arrays; every element of a real array against the first documented one). A ```text answer
lists lines that must appear in the real output (e.g. the `# TYPE` lines of /metrics). Values
are not compared: times and versions differ between machines. The gateway gets a private
redis-server (as `make run` does), so the asynchronous API's examples run too. Last line:
`N passed, N failed`.
"""
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Gateway, Runner, check  # noqa: E402
from test_async import Redis  # noqa: E402

BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)


def examples(path):
    """[(name, shell text, answer kind, answer text)] of one Markdown file."""
    with open(path) as f:
        text = f.read()
    blocks = [(m.start(), m.end(), m.group(1), m.group(2)) for m in BLOCK.finditer(text)]
    out = []
    for i, (start, end, lang, body) in enumerate(blocks):
        if lang != "sh" or not re.search(r"^\s*curl ", body, re.M):
            continue
        line = text.count("\n", 0, start) + 1
        name = "%s:%d" % (os.path.relpath(path, ROOT), line)
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt is None or text[end:nxt[0]].strip() or nxt[2] not in ("json", "text"):
            out.append((name, body, None, None))
        else:
            out.append((name, body, nxt[2], nxt[3]))
    return out


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def same_shape(doc, real, where="$"):
    """Raises AssertionError naming the first place where the shapes differ."""
    if kind(doc) != kind(real):
        raise AssertionError("%s: documented %s, real %s (%r)" % (where, kind(doc), kind(real), real))
    if isinstance(doc, dict):
        if set(doc) != set(real):
            raise AssertionError("%s: documented keys %s, real keys %s; missing in docs: %s, not real: %s"
                                 % (where, sorted(doc), sorted(real), sorted(set(real) - set(doc)),
                                    sorted(set(doc) - set(real))))
        for k in doc:
            same_shape(doc[k], real[k], "%s.%s" % (where, k))
    elif isinstance(doc, list) and doc:
        if not real:
            raise AssertionError("%s: documented a non-empty array, real is empty" % where)
        for i, item in enumerate(real):
            same_shape(doc[0], item, "%s[%d]" % (where, i))


def run_example(g, shell):
    shell = shell.replace("localhost:5000", "127.0.0.1:%d" % g.port)
    r = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "the example failed (exit %d): %s" % (r.returncode, r.stderr))
    return r.stdout


def make_test(g, name, shell, akind, answer):
    def test():
        check(akind is not None, "%s: a curl example without its answer (a ```json or ```text "
                                 "block right after it)" % name)
        out = run_example(g, shell)
        if akind == "json":
            same_shape(json.loads(answer), json.loads(out))
        else:
            for line in answer.strip().splitlines():
                check(line in out.splitlines(), "%s: documented line %r not in the real output" % (name, line))
    test.__name__ = "example " + name
    return test


def test_found_examples(found):
    def test():
        names = [n for n, *_ in found]
        check(len(found) >= 6, "only %d curl examples found: %s" % (len(found), names))
        check(any("api/code/execute" in s for _, s, _, _ in found), "the execute example is checked")
    test.__name__ = "test_found_examples"
    return test


def test_shape_checker_catches_drift():
    # The comparison must fail on the README's old mistakes: a bare array for /api/languages,
    # and an answer with a field the service does not send.
    real = {"success": True, "data": [{"language": "python", "ready": True}]}
    for wrong in ([{"language": "python", "ready": True}],
                  {"success": True, "data": [{"language": "python", "ready": True, "extra": 1}]},
                  {"success": True, "data": [{"language": "python", "ready": "yes"}]}):
        try:
            same_shape(wrong, real)
        except AssertionError:
            continue
        raise AssertionError("not caught: %r" % (wrong,))
    same_shape(real, real)


def test_architecture_index_is_true():
    """docs/ARCHITECTURE.md's behaviour -> file:function index: every file exists and every
    function named for it is defined there, so the one hop lands."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    text = open(os.path.join(root, "docs", "ARCHITECTURE.md")).read()
    index = text[text.index("## Behaviour"):]
    bad, seen = [], 0
    for cell in re.findall(r"`([\w/.]+\.[ch])(?::(\w+))?`((?:, `\w+`)*)", index):
        path, fn, more = cell
        full = os.path.join(root, path)
        if not os.path.exists(full):
            bad.append("%s: no such file" % path)
            continue
        src = open(full).read()
        for f in ([fn] if fn else []) + re.findall(r"`(\w+)`", more):
            seen += 1
            if not re.search(r"^[\w][\w \*]*\b%s\(" % re.escape(f), src, re.M):
                bad.append("%s: no function %s" % (path, f))
    check(seen > 20, "the index names functions (%d found)" % seen)
    check(not bad, "ARCHITECTURE.md points nowhere: " + "; ".join(bad))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    found = []
    for path in [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        found.extend(examples(path))
    r = Runner("docs (%s)" % " ".join(extra))
    r.run(test_shape_checker_catches_drift)
    r.run(test_architecture_index_is_true)
    r.run(test_found_examples(found))
    # The async examples need a Redis: a private one, as `make run` starts (README: DELETE's
    # example relies on one async worker, busy with the program before it).
    redis = Redis("docs").start()
    g = Gateway(build, extra + ["--redis-url", redis.url, "--async-workers", "1"], name="http-docs")
    try:
        g.start()
        for name, shell, akind, answer in found:
            r.run(make_test(g, name, shell, akind, answer), timeout=120)
    finally:
        g.stop()
        redis.cleanup()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
