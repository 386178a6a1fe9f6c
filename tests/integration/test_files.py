#!/usr/bin/python3
"""Files suite: files given with a program ("files") and files it leaves in out/, end to end.

    tests/integration/test_files.py BUILD_DIR [gateway args...]

Multi-file Python (imports from its own directory), JavaScript (require) and C++ (every .cpp
compiled, headers included, the compile cache keyed on all files) programs; utf8 and base64
contents; out/ files returned with name, size, MIME type and base64 content in a fixed order; a
matplotlib plot (PNG magic) by savefig and by plt.show(); hostile names and every limit answered
with a 400 that names the file and the rule; symlinks, fifos, sparse and huge files, too many
files and a 1 GB write in out/ left out with a reason; test cases, sessions and asynchronous
submissions with files. The last line is `N passed, N failed`.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, http  # noqa: E402

G = None
BUILD = "build"
EXTRA = ["--runtime", "local"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(language, code, files=None, **kw):
    body = {"language": language, "code": code}
    if files is not None:
        body["files"] = files
    body.update(kw)
    st, doc, _ = G.execute(body)
    check(st == 200, "status %s" % st, doc)
    return doc["data"]


def refused(language, code, files, field_part, rule_part, gw=None, status=400):
    st, doc, _ = (gw or G).execute({"language": language, "code": code, "files": files})
    check(st == status, "expected %s, got %s for %r" % (status, st, files), doc)
    err = doc["error"]
    msg = err["message"]
    check(field_part in err["details"]["field"], "field %r in %r" % (field_part, err), doc)
    check(rule_part in msg, "rule %r in message %r" % (rule_part, msg), doc)
    return err


def f(name, content, encoding=None):
    d = {"name": name, "content": content}
    if encoding:
        d["encoding"] = encoding
    return d


def by_name(files):
    return {x["name"]: x for x in files}


# ---- files in ----

def test_python_imports_given_files():
    d = run("python",
            "import sys, os, util\nfrom pkg import helper\n"
            "print(util.twice(21), helper.NAME)\n"
            "print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))\n"
            "print(open('data/in.bin', 'rb').read().hex())",
            [f("util.py", "def twice(x):\n    return 2 * x\n"),
             f("pkg/__init__.py", ""),
             f("pkg/helper.py", "NAME = 'helper'\n"),
             f("data/in.bin", base64.b64encode(b"\x00\x01\xfe\xff").decode(), "base64")])
    check(d["status"] == "ok", "status", d)
    check(d["stdout"] == "42 helper\nTrue\n0001feff\n", "stdout %r" % d["stdout"], d)
    check("files" not in d and "filesOmitted" not in d, "no out files", d)


def test_javascript_requires_given_files():
    d = run("javascript",
            "const u = require('./lib/util');\nconst fs = require('fs');\n"
            "console.log(u.add(2, 3), fs.readFileSync('notes.txt', 'utf8').trim());",
            [f("lib/util.js", "exports.add = (a, b) => a + b;\n"),
             f("notes.txt", "h\u00e9llo \u2713\n")])
    check(d["status"] == "ok" and d["stdout"] == "5 h\u00e9llo \u2713\n", "stdout %r" % d["stdout"], d)


CPP_MAIN = '#include <cstdio>\n#include "util.h"\nint main(){ std::printf("%d\\n", twice(21)); }\n'


def test_cpp_compiles_every_source():
    util_h = "int twice(int x);\n"
    d = run("cpp", CPP_MAIN, [f("util.h", util_h), f("util.cpp", "int twice(int x){ return 2*x; }\n")])
    check(d["status"] == "ok" and d["stdout"] == "42\n", "stdout %r" % d.get("stdout"), d)
    # Same entry file, another util.cpp: the compile cache must not hand back the first binary.
    d = run("cpp", CPP_MAIN, [f("util.h", util_h), f("util.cpp", "int twice(int x){ return 3*x; }\n")])
    check(d["status"] == "ok" and d["stdout"] == "63\n", "stdout %r" % d.get("stdout"), d)
    # Without util.cpp the link fails: the given sources really are compiled.
    d = run("cpp", CPP_MAIN, [f("util.h", util_h)])
    check(d["status"] == "compile_error", "status %s" % d["status"], d)


def test_tests_with_files():
    d = run("python", "import util\nprint(util.f(int(input())))",
            [f("util.py", "def f(x):\n    return x * x\n")],
            tests=[{"input": "3", "expectedOutput": "9"}, {"input": "4", "expectedOutput": "16"}])
    check(d["status"] == "ok" and all(t["passed"] for t in d["tests"]), "tests", d)


# ---- hostile names and limits ----

HOSTILE = [
    ("../x.py", "'..'"), ("/etc/x", "relative"), ("a/../../x", "'..'"), ("", "empty"),
    (".", "'.'"), ("a//b", "empty components"), ("a/", "empty components"),
    ("x" * 200, "too long"), ("a\u0001b", "ASCII"), ("a\nb", "ASCII"), ("a b", "ASCII"),
    ("caf\u00e9.py", "ASCII"), ("a\u2215b", "ASCII"), ("\u202egnp.py", "ASCII"),
    ("\uff0e\uff0e/x", "ASCII"), ("-o.cpp", "'-'"), ("main.py", "executor uses"),
    ("_codegate_mpl.py", "executor uses"), ("out/x.txt", "out/"), (".codegate-x", "reserved"),
    ("/".join(["d"] * 9), "too deep"),
]


def test_hostile_names_refused():
    for i, (name, rule) in enumerate(HOSTILE):
        refused("python", "print(1)", [f("ok.txt", "x"), f(name, "x")], "files[1].name", rule)


def test_nul_in_name_refused():
    st, doc, _ = G.execute({"language": "python", "code": "print(1)",
                            "files": [f("a\u0000b", "x")]})
    check(st == 400 and doc["error"]["code"] == "invalid_request"
          and "U+0000" in doc["error"]["message"], "NUL", doc)


def test_cpp_reserved_binary_and_duplicates():
    refused("cpp", CPP_MAIN, [f("main", "x")], "files[0].name", "executor uses")
    refused("python", "print(1)", [f("a.py", "x"), f("a.py", "y")], "files[1].name", "clashes")
    refused("python", "print(1)", [f("a", "x"), f("a/b.py", "y")], "files[1].name", "clashes")


def test_bad_content_refused():
    refused("python", "print(1)", [f("a.bin", "not base64!", "base64")], "files[0].content", "base64")
    refused("python", "print(1)", [f("a.bin", "QUJD\nREVG", "base64")], "files[0].content", "base64")
    refused("python", "print(1)", [f("a.txt", "x", "latin1")], "files[0].encoding", "utf8")
    refused("python", "print(1)", [{"name": "a.txt"}], "files[0].content", "required")
    refused("python", "print(1)", [{"content": "x"}], "files[0].name", "required")
    st, doc, _ = G.execute({"language": "python", "code": "print(1)", "files": {"a": "b"}})
    check(st == 400 and doc["error"]["details"]["field"] == "files", "files not an array", doc)


def test_count_and_total_limits():
    many = [f("f%d.txt" % i, "x") for i in range(33)]
    st, doc, _ = G.execute({"language": "python", "code": "print(1)", "files": many})
    check(st == 400 and doc["error"]["details"]["field"] == "files"
          and "at most 32" in doc["error"]["message"], "count", doc)
    big = "A" * (1024 * 1024)
    files = [f("b%d.txt" % i, big) for i in range(5)]  # 5 MiB > 4 MiB
    refused("python", "print(1)", files, "files[4]", "more than 4194304 bytes")


def test_configured_limits():
    g = Gateway(BUILD, EXTRA + ["--files-max", "2", "--file-name-max", "16", "--file-depth-max", "2",
                                "--files-max-kb", "1", "--out-files-max", "3",
                                "--out-file-max-kb", "1", "--out-files-max-kb", "2"],
                name="files-lim").start()
    try:
        st, doc, _ = g.execute({"language": "python", "code": "print(1)",
                                "files": [f("a", "1"), f("b", "2"), f("c", "3")]})
        check(st == 400 and "at most 2" in doc["error"]["message"], "count 2", doc)
        refused("python", "print(1)", [f("a" * 17, "x")], "files[0].name", "too long", gw=g)
        refused("python", "print(1)", [f("a/b/c", "x")], "files[0].name", "too deep", gw=g)
        refused("python", "print(1)", [f("a", "x" * 1025)], "files[0]", "more than 1024", gw=g)
        st, doc, _ = g.execute({"language": "python", "code":
                                "for n, s in [('a', 1000), ('b', 2000), ('c', 1000), ('d', 1000), ('e', 5),"
                                " ('f', 5)]:\n"
                                "    open('out/' + n, 'w').write('x' * s)\n"})
        d = doc["data"]
        names = [x["name"] for x in d["files"]]
        om = {x["name"]: x["reason"] for x in d["filesOmitted"]}
        check(names == ["a", "c", "e"], "returned %r" % names, d)
        check(om == {"b": "too_large", "d": "total_too_large", "f": "too_many"}, "omitted %r" % om, d)
        # stdout counts in the same budget: 1500 bytes printed leave room for 548 of files
        st, doc, _ = g.execute({"language": "python", "code":
                                "print('x' * 1499)\nopen('out/a', 'w').write('y' * 600)\n"
                                "open('out/b', 'w').write('z' * 500)\n"})
        d = doc["data"]
        check([x["name"] for x in d["files"]] == ["b"]
              and d["filesOmitted"] == [{"name": "a", "reason": "total_too_large"}],
              "stdout counted with the files", d)
    finally:
        g.stop()


# ---- files out ----

def test_out_files_returned():
    d = run("python",
            "import os, json\n"
            "open('out/b.txt', 'w').write('hello\\n')\n"
            "open('out/a.csv', 'w').write('x,y\\n1,2\\n')\n"
            "os.makedirs('out/sub/deeper')\n"
            "json.dump({'k': 1}, open('out/sub/r.json', 'w'))\n"
            "open('out/sub/deeper/raw', 'wb').write(bytes(range(256)))\n"
            "open('out/img', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + b'0' * 10)\n"
            "open('out/empty.txt', 'w').close()\n"
            "print('done')")
    check(d["status"] == "ok", "status", d)
    names = [x["name"] for x in d["files"]]
    check(names == ["a.csv", "b.txt", "empty.txt", "img", "sub/deeper/raw", "sub/r.json"],
          "order %r" % names, d)
    fs = by_name(d["files"])
    want = {"a.csv": ("text/csv", b"x,y\n1,2\n"), "b.txt": ("text/plain", b"hello\n"),
            "empty.txt": ("text/plain", b""), "img": ("image/png", PNG_MAGIC + b"0" * 10),
            "sub/deeper/raw": ("application/octet-stream", bytes(range(256))),
            "sub/r.json": ("application/json", b'{"k": 1}')}
    for name, (mime, data) in want.items():
        x = fs[name]
        check(x["mimeType"] == mime, "%s mime %s" % (name, x["mimeType"]), x)
        check(base64.b64decode(x["content"]) == data and x["size"] == len(data), name, x)
    check("filesOmitted" not in d, "nothing omitted", d)


def test_out_files_from_javascript_and_cpp():
    d = run("javascript", "require('fs').writeFileSync('out/r.txt', 'js');")
    check([(x["name"], base64.b64decode(x["content"])) for x in d["files"]] == [("r.txt", b"js")],
          "js", d)
    d = run("cpp", '#include <fstream>\nint main(){ std::ofstream("out/r.svg") << "<svg/>"; }')
    check([(x["name"], x["mimeType"]) for x in d["files"]] == [("r.svg", "image/svg+xml")], "cpp", d)


def test_out_hostile_entries_left_out():
    d = run("python",
            "import os\n"
            "os.symlink('/etc/passwd', 'out/passwd')\n"
            "os.symlink('/etc', 'out/etcdir')\n"
            "os.mkfifo('out/fifo')\n"
            "with open('out/sparse', 'wb') as f:\n"
            "    f.truncate(50 * 1024 * 1024)\n"
            "open('out/ok.txt', 'w').write('ok')\n"
            "open('out/bad\\x01name', 'w').write('x')\n"
            "p = 'out'\n"
            "for i in range(20):\n"
            "    p += '/d'\n"
            "    os.mkdir(p)\n"
            "open(p + '/deep.txt', 'w').write('deep')\n"
            "print('ok')")
    check(d["status"] == "ok", "status", d)
    check([x["name"] for x in d["files"]] == ["ok.txt"], "only ok.txt: %r" % d["files"], d)
    om = {x["name"]: x["reason"] for x in d["filesOmitted"]}
    check(om.get("passwd") == "symlink" and om.get("etcdir") == "symlink", "symlinks %r" % om, d)
    check(om.get("fifo") == "not_regular" and om.get("sparse") == "too_large", "fifo/sparse %r" % om, d)
    check("bad_name" in om.values(), "bad name %r" % om, d)
    check("too_deep" in om.values(), "too deep %r" % om, d)
    check("root:" not in json.dumps(d), "no /etc/passwd content", d)


def test_out_replaced_by_symlink():
    d = run("python", "import os\nos.rmdir('out')\nos.symlink('/etc', 'out')\nprint('x')")
    check("files" not in d and d["filesOmitted"] == [{"name": "out", "reason": "not_a_directory"}],
          "out -> /etc", d)


def test_out_many_files():
    d = run("python", "for i in range(3000):\n    open('out/f%04d' % i, 'w').write('x')\n")
    check(d["status"] == "ok" and len(d["files"]) == 16, "16 files: %d" % len(d["files"]), d)
    check([x["name"] for x in d["files"]] == ["f%04d" % i for i in range(16)], "first 16", d)
    om = d["filesOmitted"]
    check(len(om) == 33 and om[-1]["name"] == "" and om[-1]["reason"] == "%d more" % (3000 - 16 - 32),
          "omitted summary %r" % om[-3:], d)


def test_out_gigabyte_write():
    t0 = time.time()
    d = run("python",
            "import sys\nchunk = b'x' * (1 << 20)\nn = 0\n"
            "try:\n"
            "    with open('out/big.bin', 'wb') as f:\n"
            "        for i in range(1024):\n"
            "            f.write(chunk)\n"
            "            n += 1\n"
            "except OSError as e:\n"
            "    print('stopped', e.errno, file=sys.stderr)\n"
            "print(n)", timeoutMs=30000)
    check("files" not in d and d["filesOmitted"] == [{"name": "big.bin", "reason": "too_large"}],
          "big.bin omitted", d)
    check(int(d["stdout"].strip() or "0") < 1024, "the file-size limit stopped it", d)
    check(time.time() - t0 < 60, "took %.1fs" % (time.time() - t0))


# ---- plots ----

def test_matplotlib_savefig_png():
    d = run("python",
            "import matplotlib.pyplot as plt\n"
            "plt.plot([1, 2, 3], [1, 4, 9])\n"
            "plt.savefig('out/plot.png')\nprint('saved')", timeoutMs=30000)
    check(d["status"] == "ok" and d["stdout"] == "saved\n", "status", d)
    x = by_name(d["files"])["plot.png"]
    data = base64.b64decode(x["content"])
    check(x["mimeType"] == "image/png" and data[:8] == PNG_MAGIC and x["size"] == len(data) > 1000,
          "png", x)
    check("Matplotlib" not in d["stderr"] and "cache" not in d["stderr"], "no warnings: %r" % d["stderr"])


def test_matplotlib_show_saves_figures():
    d = run("python",
            "import matplotlib.pyplot as plt\nimport numpy as np\n"
            "plt.plot(np.arange(10))\nplt.show()\n"
            "plt.figure(); plt.bar(['a', 'b'], [1, 2]); plt.figure(); plt.plot([3, 1])\nplt.show()\n"
            "print('shown')", timeoutMs=30000)
    check(d["status"] == "ok" and d["stdout"] == "shown\n", "status", d)
    names = [x["name"] for x in d["files"]]
    check(names == ["figure-1.png", "figure-2.png", "figure-3.png"], "figures %r" % names, d)
    for x in d["files"]:
        check(base64.b64decode(x["content"])[:8] == PNG_MAGIC, "png magic", x)


def test_pandas_available():
    d = run("python", "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\n"
            "df.to_csv('out/df.csv', index=False)\nprint(int(df.a.sum()))", timeoutMs=30000)
    check(d["stdout"] == "3\n", "pandas", d)
    check(base64.b64decode(by_name(d["files"])["df.csv"]["content"]) == b"a\n1\n2\n", "csv", d)


# ---- sessions and async ----

def test_session_with_files():
    import websocket  # Debian's python3-websocket
    ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % G.port, timeout=30)
    try:
        ws.send(json.dumps({"type": "start", "language": "python",
                            "code": "import util\nopen('out/s.txt', 'w').write(util.V)\nprint(util.V)",
                            "files": [f("util.py", "V = 'from util'\n")]}))
        frames = []
        while True:
            op, fr = ws.recv_data_frame(True)
            if op != websocket.ABNF.OPCODE_TEXT:
                break
            frames.append(json.loads(fr.data.decode()))
        types = [x["type"] for x in frames]
        out = "".join(x.get("data", "") for x in frames if x["type"] == "stdout")
        check(out == "from util\n", "stdout %r" % out, frames)
        check("exit" in types and "files" in types and types.index("files") > types.index("exit"),
              "frames %r" % types, frames)
        ff = [x for x in frames if x["type"] == "files"][0]
        check([(x["name"], base64.b64decode(x["content"])) for x in ff["files"]]
              == [("s.txt", b"from util")], "files frame", ff)
    finally:
        ws.close()
    ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % G.port, timeout=30)
    try:
        ws.send(json.dumps({"type": "start", "language": "python", "code": "print(1)",
                            "files": [f("../x", "x")]}))
        op, fr = ws.recv_data_frame(True)
        doc = json.loads(fr.data.decode())
        check(doc["type"] == "error" and "files[0].name" in doc["message"], "refused", doc)
    finally:
        ws.close()


def test_async_with_files():
    if not shutil.which("redis-server"):
        raise AssertionError("redis-server is not installed (scripts/install-deps.sh)")
    d = tempfile.mkdtemp(prefix="cgF-files-redis-")
    os.chmod(d, 0o711)
    sock = os.path.join(d, "redis.sock")
    rp = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm",
                           "777", "--dir", d, "--save", "", "--daemonize", "no"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    g = None
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        g = Gateway(BUILD, EXTRA + ["--redis-url", "unix://" + sock], name="files-async").start()
        st, doc, _ = http("POST", g.url + "/api/submissions",
                          {"language": "python", "code": "import util\nopen('out/r.txt','w').write(util.V)",
                           "files": [f("util.py", "V = 'async'\n")]})
        check(st == 202, "submit %s" % st, doc)
        sid = doc["data"]["id"]
        deadline = time.time() + 120
        while time.time() < deadline:
            st, doc, _ = http("GET", g.url + "/api/submissions/" + sid + "?wait=10", timeout=40)
            if doc["data"]["status"] not in ("queued", "running"):
                break
        res = doc["data"]["result"]
        check([(x["name"], base64.b64decode(x["content"])) for x in res["files"]] == [("r.txt", b"async")],
              "stored result has the files", doc)
        st, doc, _ = http("POST", g.url + "/api/submissions",
                          {"language": "python", "code": "print(1)", "files": [f("/abs", "x")]})
        check(st == 400 and "files[0].name" in doc["error"]["details"]["field"], "async 400", doc)
    finally:
        if g:
            g.stop()
        rp.send_signal(signal.SIGTERM)
        rp.wait(30)
        shutil.rmtree(d, ignore_errors=True)


def test_plain_program_unaffected():
    d = run("python", "import sys\nprint(1)\nprint('matplotlib' in sys.modules)")
    check(d["stdout"] == "1\nFalse\n" and "files" not in d, "no matplotlib imported", d)


def main():
    global G, BUILD, EXTRA
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    EXTRA = sys.argv[2:] or ["--runtime", "local"]
    G = Gateway(BUILD, EXTRA, name="files").start()
    r = Runner("files")
    tests = [
        test_python_imports_given_files, test_javascript_requires_given_files,
        test_cpp_compiles_every_source, test_tests_with_files, test_hostile_names_refused,
        test_nul_in_name_refused, test_cpp_reserved_binary_and_duplicates, test_bad_content_refused,
        test_count_and_total_limits, test_configured_limits, test_out_files_returned,
        test_out_files_from_javascript_and_cpp, test_out_hostile_entries_left_out,
        test_out_replaced_by_symlink, test_out_many_files, test_out_gigabyte_write,
        test_matplotlib_savefig_png, test_matplotlib_show_saves_figures, test_pandas_available,
        test_session_with_files, test_async_with_files, test_plain_program_unaffected,
    ]
    r.run_all(G, tests)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
