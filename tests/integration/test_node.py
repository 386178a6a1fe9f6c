#!/usr/bin/python3
"""The pinned Node.js (scripts/node.lock): its installer and what the runtimes run.

    tests/integration/test_node.py BUILD_DIR [gateway args...]     (default: --runtime local)

- scripts/install-node.sh against a registry served by this suite (npm_config_registry, a
  private cache and install root): a corrupted tarball is refused and nothing is installed; a
  corrupted cached tarball is fetched again; the right one is verified and installed; a second
  run fetches and writes nothing; an unreachable registry is a clear error. (Local runtime only:
  the script is the same for both runtimes.)
- The gateway (local or docker runtime): /api/languages reports the pinned version for
  javascript, and a program sees the pinned Node as its interpreter (process.version,
  process.execPath). Docker: the javascript image holds the pinned node and no Debian nodejs.
The last line is `N passed, N failed`.
"""
import hashlib
import http.server as httpserver
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Gateway, Runner, check, free_port, http  # noqa: E402

SCRIPT = os.path.join(ROOT, "scripts", "install-node.sh")
NODE = "/usr/local/lib/codegate/node/bin/node"  # common/lang.c JS_NODE
G = None
TMP = None


def lock():
    vals = {}
    with open(os.path.join(ROOT, "scripts", "node.lock")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                vals[k] = v
    return vals


PIN = lock()
VERSION, SHA512, PACKAGE = PIN["version"], PIN["sha512"], PIN["package"]


def good_tarball():
    """The verified tarball of this tree (scripts/install-node.sh --fetch puts it there)."""
    path = os.path.join(ROOT, "build", "node", PACKAGE + ".tgz")
    if not os.path.exists(path):
        subprocess.run([SCRIPT, "--fetch"], check=True, timeout=900)
    with open(path, "rb") as f:
        data = f.read()
    check(hashlib.sha512(data).hexdigest() == SHA512, "build/node tarball is not the pinned one")
    return data


class Registry:
    """A one-package npm registry: serves `body` at the tarball path, counts the requests."""

    def __init__(self, body):
        self.body = body
        self.requests = 0
        outer = self

        class H(httpserver.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                want = "/%s/-/%s-%s.tgz" % (PACKAGE, PACKAGE, VERSION)
                if self.path != want:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):
                pass

        self.srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def install(registry_url, *args, root="root"):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": TMP, "npm_config_registry": registry_url,
           "CODEGATE_NODE_CACHE": os.path.join(TMP, "cache"),
           "CODEGATE_NODE_ROOT": os.path.join(TMP, root)}
    return subprocess.run([SCRIPT] + list(args), env=env, capture_output=True, text=True, timeout=900)


def cache_file():
    return os.path.join(TMP, "cache", PACKAGE + ".tgz")


def leftovers(d):
    return [n for n in os.listdir(d) if n.startswith(".")] if os.path.isdir(d) else []


# ---- the installer ----

def test_corrupted_tarball_is_refused():
    data = bytearray(good_tarball())
    data[len(data) // 2] ^= 0x01  # one bit of the middle of the real tarball
    reg = Registry(bytes(data))
    try:
        for args in ((), ("--fetch",)):
            r = install(reg.url, *args, root="root-bad")
            check(r.returncode == 1, "exit %d for a corrupted tarball: %s" % (r.returncode, r.stderr))
            check("refused" in r.stderr and SHA512 in r.stderr, "no clear refusal: " + r.stderr)
            check(not os.path.exists(cache_file()), "the corrupted tarball was kept")
            check(not leftovers(os.path.join(TMP, "cache")), "temporary files left in the cache")
            check(not os.path.exists(os.path.join(TMP, "root-bad", "node")), "something was installed")
        check(reg.requests == 2, "%d requests" % reg.requests)
    finally:
        reg.close()


def test_unreachable_registry_is_a_clear_error():
    r = install("http://127.0.0.1:%d/" % free_port(), root="root-off")
    check(r.returncode == 1, "exit %d offline" % r.returncode)
    check("cannot fetch" in r.stderr and "offline" in r.stderr, "unclear offline error: " + r.stderr)
    check(not os.path.exists(os.path.join(TMP, "root-off", "node")), "something was installed")
    r = install("http://127.0.0.1:1/", "--check", root="root-off")
    check(r.returncode == 1, "--check says installed on an empty root")


def test_verified_install_then_nothing_to_do():
    reg = Registry(good_tarball())
    try:
        r = install(reg.url)
        check(r.returncode == 0, "install failed: " + r.stderr)
        check(reg.requests == 1, "%d requests" % reg.requests)
        link = os.path.join(TMP, "root", "node")
        check(os.readlink(link) == "node-" + VERSION, "link -> %s" % os.readlink(link))
        out = subprocess.run([os.path.join(link, "bin", "node"), "--version"], capture_output=True,
                             text=True, timeout=60).stdout.strip()
        check(out == "v" + VERSION, "installed node says %r" % out)
        before = os.lstat(link).st_mtime_ns, os.stat(cache_file()).st_mtime_ns
        # Again: nothing fetched, nothing written.
        r = install(reg.url)
        check(r.returncode == 0 and r.stderr == "", "second run: %d %s" % (r.returncode, r.stderr))
        check(reg.requests == 1, "the second run fetched again")
        check((os.lstat(link).st_mtime_ns, os.stat(cache_file()).st_mtime_ns) == before,
              "the second run rewrote the install or the tarball")
        check(install(reg.url, "--check").returncode == 0, "--check after the install")
        check(not leftovers(os.path.join(TMP, "cache")), "temporary files left in the cache")
        # A cached tarball that went bad is fetched again, and the install stays as it was.
        with open(cache_file(), "r+b") as f:
            f.seek(1000)
            b = f.read(1)
            f.seek(1000)
            f.write(bytes([b[0] ^ 0xFF]))
        r = install(reg.url, "--fetch")
        check(r.returncode == 0 and reg.requests == 2, "bad cache not fetched again: " + r.stderr)
        with open(cache_file(), "rb") as f:
            check(hashlib.sha512(f.read()).hexdigest() == SHA512, "cache not repaired")
    finally:
        reg.close()


# ---- the runtimes ----

JS_PROBE = ("const fs = require('fs');\n"
            "console.log(JSON.stringify({v: process.version, exec: process.execPath,\n"
            "  main: process.argv[1], usrbin: fs.existsSync('/usr/bin/node')}));\n")


def test_languages_report_the_pinned_version():
    st, doc, _ = http("GET", G.url + "/api/languages")
    check(st == 200, "languages", doc)
    js = [e for e in doc["data"] if e["language"] == "javascript"]
    check(len(js) == 1 and js[0]["ready"] is True, "javascript missing", doc)
    check(js[0]["version"] == VERSION, "version %r, pinned %s" % (js[0]["version"], VERSION), doc)


def test_programs_run_the_pinned_node():
    st, doc, _ = G.execute({"language": "javascript", "code": JS_PROBE})
    check(st == 200 and doc["data"]["status"] == "ok", "run failed", doc)
    d = doc["data"]
    check(d["version"] == VERSION, "answer's version", doc)
    seen = json.loads(d["output"])
    check(seen["v"] == "v" + VERSION, "process.version %s" % seen["v"], doc)
    # the link's target: node-<version>/bin/node under the same root
    check(seen["exec"] == "/usr/local/lib/codegate/node-%s/bin/node" % VERSION,
          "process.execPath %s" % seen["exec"], doc)
    check(seen["main"].endswith("/main.js"), "argv[1] %s" % seen["main"], doc)
    if "docker" in G.args:
        check(seen["usrbin"] is False, "the image still has /usr/bin/node (Debian's nodejs)", doc)


def run_js(code, **kw):
    body = {"language": "javascript", "code": code}
    body.update(kw)
    st, doc, _ = G.execute(body)
    check(st == 200 and doc.get("success") is True, "HTTP %s" % st, doc)
    return doc["data"]


def test_node_behaviour_kept():
    """What the run command and its preload give, with this Node: arguments, an uncaught
    exception naming main.js, Node's own stack (and a 4 MiB one on request), no V8 flag where
    the memory cgroup bounds the run (a flag costs Node its built-in code cache), a heap hog
    ended as memory_limit, stdout blocking on its pipe (a flood ends output_limit)."""
    d = run_js("console.log(JSON.stringify(process.argv.slice(2)))", args=["a b", "c"])
    check(d["status"] == "ok" and d["stdout"] == '["a b","c"]\n', "argv", d)
    d = run_js("function f() { throw new Error('boom'); }\nf();\n")
    check(d["status"] == "runtime_error" and d["exitCode"] == 1, "uncaught exception", d)
    check("main.js:1" in d["stderr"] and "Error: boom" in d["stderr"], "stack trace", d)
    # Root runs are bounded by the slot's memory cgroup: Node starts with no V8 flag at all.
    d = run_js("console.log(JSON.stringify(process.execArgv.filter(a => a.startsWith('--') &&"
               " a !== '--require')))")
    check(d["status"] == "ok" and d["stdout"] == "[]\n", "no V8 flag under a cgroup", d)
    # Node's default stack (984 KiB) holds ~10k frames of this; --stack-size=4096 more than 30k.
    rec = "function f(n) { return n === 0 ? 0 : 1 + f(n - 1); }\nconsole.log(f(%d));\n"
    d = run_js(rec % 8000)
    check(d["status"] == "ok" and d["stdout"] == "8000\n", "8000 frames on the default stack", d)
    d = run_js(rec % 100000)
    check(d["status"] == "runtime_error" and "Maximum call stack size exceeded" in d["stderr"],
          "too deep: a RangeError, not a crash", d)
    d = run_js(rec % 30000, options=["--stack-size=4096"])
    check(d["status"] == "ok" and d["stdout"] == "30000\n", "30000 frames with --stack-size=4096", d)
    # (a long timeout: on a loaded machine the hog may get little CPU before its heap is full)
    for hog in ("const a = [];\nfor (;;) a.push(new Array(1 << 16).fill(1.5));\n",
                "const b = [];\nfor (;;) b.push(Buffer.alloc(1 << 20, 1));\n"):
        d = run_js(hog, memoryMb=128, timeoutMs=30000)
        check(d["status"] == "memory_limit" and d["stdout"] == "", "hog with memoryMb 128", d)
    d = run_js("for (;;) console.log('x'.repeat(1000));\n", timeoutMs=30000)
    check(d["status"] == "output_limit" and d["truncated"] is True, "flood", d)


def test_image_holds_the_pinned_node():
    tags = re.findall(r"codegate-javascript:[0-9a-f]{12}", open(G.log_path).read())
    check(tags, "no javascript image in the gateway's log")
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh",
                          tags[-1], "-c", "node --version; %s --version; readlink -f $(command -v node);"
                          " cat /usr/local/lib/codegate/node/.sha512; dpkg -s nodejs >/dev/null 2>&1"
                          " && echo debian-nodejs; true" % NODE],
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.split()
    check(lines[:2] == ["v" + VERSION] * 2, "image node versions %s" % lines, out.stderr)
    check(lines[2] == "/usr/local/lib/codegate/node-%s/bin/node" % VERSION, "node on PATH: %s" % lines)
    check(lines[3] == SHA512 and "debian-nodejs" not in lines, "image content %s" % lines)


def main():
    global G, TMP
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    docker = "docker" in extra
    r = Runner("pinned node (%s)" % " ".join(extra))
    TMP = tempfile.mkdtemp(prefix="node-test-", dir=os.path.abspath(build))
    try:
        if not docker:
            for t in (test_corrupted_tarball_is_refused, test_unreachable_registry_is_a_clear_error,
                      test_verified_install_then_nothing_to_do):
                r.run(t, timeout=900)
        G = Gateway(build, extra, name="node")
        G.start(ready_timeout=1800)
        tests = [test_languages_report_the_pinned_version, test_programs_run_the_pinned_node,
                 test_node_behaviour_kept]
        if docker:
            tests.append(test_image_holds_the_pinned_node)
        r.run_all(G, tests, timeout=600)
    finally:
        if G:
            G.stop()
        shutil.rmtree(TMP, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
