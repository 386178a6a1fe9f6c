#!/usr/bin/python3
"""The OpenAPI document (server/static/openapi.json, served at GET /openapi.json) against the
official OpenAPI 3.1 meta-schema, and every endpoint's real answers against it.

A gateway (local runtime) with a redis-server of the suite's own (unix socket in a temp dir, for
the asynchronous endpoints) is called through the real API with good and bad requests; each
answer must have a status the document lists for that route and method, the content type it
names, and a body valid under its schema (JSON Schema 2020-12, $refs resolved in the document:
Debian's python3-jsonschema). The meta-schema comes from scripts/install-openapi-schema.sh
(pinned npm package; run here when missing). Ends with `N passed, N failed`.

Run: /usr/bin/python3 tests/integration/test_openapi.py [BUILD] [gateway args...]
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
from harness import Gateway, Runner, check  # noqa: E402

check_openapi = __import__("check-openapi")

G = None
DOC = None
SEEN = set()  # (path, method, status) answered and validated


# ---------------------------------------------------------------------------------------------
# Validation of one answer against the document.

def call(method, path, body=None, raw=None, headers=None, timeout=60):
    """One request; returns (status, content type, body bytes, headers)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = dict(headers or {})
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(G.url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read(), e.headers


def validate(route, method, path, body=None, raw=None, headers=None, expect=None):
    """Calls path, checks the answer against DOC's entry for route/method, returns the parsed
    body (JSON) or text. expect: the status the test means to provoke."""
    status, ctype, payload, hdrs = call(method, path, body, raw, headers)
    if expect is not None:
        check(status == expect, "%s %s: expected %s, got %s: %s"
              % (method, path, expect, status, payload[:400]))
    op = DOC["paths"].get(route, {}).get(method.lower())
    check(op is not None, "the document has no %s %s" % (method, route))
    resp = op["responses"].get(str(status))
    check(resp is not None, "%s %s answered %s, which the document does not list for %s: %s"
          % (method, path, status, route, payload[:400]))
    SEEN.add((route, method, status))
    content = resp.get("content")
    if not content:
        return None
    media = ctype.split(";")[0].strip()
    check(media in content, "%s %s %s: content type %r, the document says %s"
          % (method, path, status, ctype, list(content)))
    if media == "application/json":
        inst = json.loads(payload)
    else:
        inst = payload.decode()
    schema = content[media].get("schema", {})
    resolver = jsonschema.RefResolver(base_uri="", referrer=DOC)
    v = jsonschema.Draft202012Validator(schema, resolver=resolver)
    errs = sorted(v.iter_errors(inst), key=lambda e: list(e.absolute_path))
    check(not errs, "%s %s %s does not match its schema:\n%s\n%s" % (
        method, path, status,
        "\n".join("  at /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:300])
                  for e in errs[:10]), json.dumps(inst)[:1500]))
    return inst


def validate_405(route, method, path):
    """A method the document does not list for route: 405 in the Error shape, with an Allow
    header naming exactly the documented methods (and OPTIONS, the CORS preflight)."""
    check(method.lower() not in DOC["paths"][route], "%s is documented for %s" % (method, route))
    status, ctype, payload, hdrs = call(method, path, raw=b"{}" if method != "GET" else None)
    check(status == 405, "%s %s: expected 405, got %s" % (method, path, status))
    check(ctype.startswith("application/json"), "405 content type %r" % ctype)
    jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Error"},
        resolver=jsonschema.RefResolver(base_uri="", referrer=DOC)).validate(json.loads(payload))
    allow = {m.strip().lower() for m in (hdrs.get("Allow") or "").split(",") if m.strip()}
    documented = set(DOC["paths"][route]) | {"options"}
    if route == "/api/code/session":
        documented.discard("options")  # a WebSocket endpoint: no CORS preflight
    check(allow == documented, "%s Allow %s, the document has %s" % (route, sorted(allow),
                                                                     sorted(documented)))


# ---------------------------------------------------------------------------------------------
# The document itself.

def test_document_valid_openapi_31():
    errors = check_openapi.check(DOC)
    check(not errors, "\n".join(errors))
    check(DOC["openapi"].startswith("3.1"), "OpenAPI 3.1")


def test_meta_schema_rejects_a_broken_document():
    # The validator is real: a document with a wrong type in it is refused.
    bad = json.loads(json.dumps(DOC))
    bad["paths"]["/healthz"]["get"]["responses"]["200"]["content"] = 5
    check(check_openapi.check(bad), "a response with content 5 must be refused")
    bad = json.loads(json.dumps(DOC))
    bad["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = \
        {"$ref": "#/components/schemas/NoSuchSchema"}
    check(check_openapi.check(bad), "a dangling $ref must be refused")


def test_served_document_is_the_file():
    doc = validate("/openapi.json", "GET", "/openapi.json", expect=200)
    with open(os.path.join(ROOT, "server", "static", "openapi.json")) as f:
        check(doc == json.load(f), "GET /openapi.json serves server/static/openapi.json")
    status, ctype, _, _ = call("GET", "/openapi.json")
    check(ctype.startswith("application/json"), "content type %r" % ctype)


def test_every_route_is_documented():
    # The gateway's own route table (server/http.c) against the document's paths.
    with open(os.path.join(ROOT, "server", "http.c")) as f:
        src = f.read()
    import re
    routes = set(re.findall(r'ulfius_add_endpoint_by_val\(in, "(?:GET|POST|DELETE)", "([^"]+)"',
                            src))
    documented = {p.replace("{id}", ":id") for p in DOC["paths"]}
    missing = routes - documented
    check(routes and not missing, "routes not in the document: %s" % sorted(missing))


# ---------------------------------------------------------------------------------------------
# Endpoints.

def test_health_ready_languages_metrics():
    validate("/healthz", "GET", "/healthz", expect=200)
    validate_405("/healthz", "POST", "/healthz")
    validate("/readyz", "GET", "/readyz", expect=200)
    langs = validate("/api/languages", "GET", "/api/languages", expect=200)
    check(any(l["language"] == "python" for l in langs["data"]), "python listed", langs)
    text = validate("/metrics", "GET", "/metrics", expect=200)
    check("codegate_requests_total" in text, "metrics text")
    validate_405("/metrics", "DELETE", "/metrics")


def test_execute_good():
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "python", "code": "print(input())", "input": "hi"}, expect=200)
    check(d["data"]["stdout"] == "hi\n" and d["data"]["status"] == "ok", "ran", d)
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "python", "code": "import sys\nprint(int(input())*2)\n",
                  "tests": [{"input": "2", "expectedOutput": "4"},
                            {"input": "3", "expectedOutput": "7"}]}, expect=200)
    check(d["data"]["status"] == "wrong_answer" and d["data"]["passed"] == 1, "judged", d)
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "python", "code": "import sys\nsys.stdout.write('\\x01\\xff\"\\\\')\n"
                  "raise SystemExit(3)"}, expect=200)
    check(d["data"]["exitCode"] == 3 and d["data"]["error"] is True, "exit code", d)
    check(d["data"]["stdout"] == "\x01\xff\"\\", "escaped output round trip", d)
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "python", "code": "import time\ntime.sleep(5)", "timeoutMs": 300},
                 expect=200)
    check(d["data"]["status"] == "timeout" and d["data"]["signal"], "timeout", d)
    # files in, files out, one entry of out/ left out (a link), options, a compile
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "python", "options": ["-Werror"],
                  "files": [{"name": "util.py", "content": "X = 7\n"},
                            {"name": "data/raw.bin", "content": "AAEC", "encoding": "base64"}],
                  "code": "import os, util\nos.makedirs('out', exist_ok=True)\n"
                          "open('out/r.txt', 'w').write(str(util.X))\n"
                          "os.symlink('/etc/passwd', 'out/link')\n"
                          "print(len(open('data/raw.bin', 'rb').read()))\n"}, expect=200)
    check(d["data"]["stdout"] == "3\n" and [f["name"] for f in d["data"]["files"]] == ["r.txt"]
          and d["data"]["filesOmitted"][0]["name"] == "link", "files in and out", d)
    d = validate("/api/code/execute", "POST", "/api/code/execute",
                 {"language": "c", "options": ["-std=c99", "-Wall"],
                  "code": "#include <stdio.h>\nint main(void) { puts(\"c\"); return 0; }\n"},
                 expect=200)
    check(d["data"]["stdout"] == "c\n" and d["data"]["compile"]["status"] == "ok", "C compiled", d)


def test_execute_bad():
    def bad(expect, code=None, **kw):
        d = validate("/api/code/execute", "POST", "/api/code/execute", expect=expect, **kw)
        check(code is None or d["error"]["code"] == code, "code %s" % code, d)
        return d
    bad(400, "invalid_json", raw=b"{not json")
    d = bad(400, "invalid_request", body={"language": "python"})
    check(d["error"]["details"]["field"] == "code", "names the field", d)
    d = bad(400, "unsupported_language", body={"language": "cobol", "code": "x"})
    check("python" in d["error"]["details"]["supported"], "lists the languages", d)
    bad(400, "invalid_request", body={"language": "python", "code": "x", "timeoutMs": 0})
    bad(415, "unsupported_media_type", raw=b'{"language":"python","code":"print(1)"}',
        headers={"Content-Type": "text/plain"})
    bad(413, "payload_too_large", body={"language": "python", "code": "#" * (300 * 1024)})
    validate_405("/api/code/execute", "DELETE", "/api/code/execute")
    validate_405("/api/submissions/{id}", "PUT", "/api/submissions/%s" % ("0" * 32))
    status, ctype, payload, _ = call("GET", "/api/no/such/endpoint")
    check(status == 404 and json.loads(payload)["error"]["code"] == "not_found", "404")
    jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Error"},
        resolver=jsonschema.RefResolver(base_uri="", referrer=DOC)).validate(json.loads(payload))


def test_session_endpoint_without_upgrade():
    # A plain GET (no WebSocket upgrade) is refused with a documented error.
    d = validate("/api/code/session", "GET", "/api/code/session", expect=400)
    check(d["error"]["code"] == "bad_request", "bad_request", d)
    validate_405("/api/code/session", "POST", "/api/code/session")


def test_submissions():
    a = validate("/api/submissions", "POST", "/api/submissions",
                 {"language": "python", "code": "print(6*7)"}, expect=202)
    sid = a["data"]["id"]
    s = validate("/api/submissions/{id}", "GET", "/api/submissions/%s?wait=20" % sid, expect=200)
    check(s["data"]["status"] == "done" and s["data"]["result"]["stdout"] == "42\n", "done", s)
    validate("/api/submissions/{id}", "GET", "/api/submissions/%s" % ("0" * 32), expect=404)
    validate("/api/submissions/{id}", "DELETE", "/api/submissions/%s" % sid, expect=409)
    validate("/api/submissions", "POST", "/api/submissions", {"language": "python"}, expect=400)
    # idempotency: the same key answers the same submission
    k = {"Idempotency-Key": "openapi-%d" % os.getpid()}
    a1 = validate("/api/submissions", "POST", "/api/submissions",
                  {"language": "python", "code": "print(1)"}, headers=k)
    a2 = validate("/api/submissions", "POST", "/api/submissions",
                  {"language": "python", "code": "print(1)"}, headers=k)
    check(a1["data"]["id"] == a2["data"]["id"], "same id", [a1, a2])


def test_submissions_batch():
    b = validate("/api/submissions/batch", "POST", "/api/submissions/batch",
                 {"submissions": [{"language": "python", "code": "print(1)"},
                                  {"language": "cobol", "code": "x"}]}, expect=202)
    check(b["data"]["accepted"] == 1 and b["data"]["rejected"] == 1, "counts", b)
    validate("/api/submissions/batch", "POST", "/api/submissions/batch", {"submissions": []},
             expect=400)


def test_admin_dead_letters():
    validate("/api/admin/dead-letters", "GET", "/api/admin/dead-letters", expect=200)
    validate("/api/admin/dead-letters", "GET", "/api/admin/dead-letters?limit=0", expect=400)
    validate("/api/admin/dead-letters/{id}/requeue", "POST",
             "/api/admin/dead-letters/%s/requeue" % ("0" * 32), expect=404)


def test_statuses_seen_cover_each_route():
    # Every documented route was exercised with at least one answer validated.
    routes = {r for r, _, _ in SEEN}
    missing = set(DOC["paths"]) - routes
    check(not missing, "routes never called: %s" % sorted(missing))


# ---------------------------------------------------------------------------------------------

def start_redis(tmp):
    sock = os.path.join(tmp, "redis.sock")
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock,
                             "--unixsocketperm", "777", "--dir", tmp, "--save", "",
                             "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-s", sock, "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return proc, "unix://" + sock
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main():
    global G, DOC
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    if subprocess.run([os.path.join(ROOT, "scripts", "install-openapi-schema.sh"), "--check"],
                      capture_output=True).returncode != 0:
        subprocess.run([os.path.join(ROOT, "scripts", "install-openapi-schema.sh")], check=True)
    with open(os.path.join(ROOT, "server", "static", "openapi.json")) as f:
        DOC = json.load(f)
    tmp = tempfile.mkdtemp(prefix="cg-openapi-")
    os.chmod(tmp, 0o711)
    redis, url = start_redis(tmp)
    G = Gateway(build, extra + ["--redis-url", url], name="openapi")
    r = Runner("openapi (%s)" % " ".join(extra))
    try:
        G.start()
        r.run_all(G, [test_document_valid_openapi_31, test_meta_schema_rejects_a_broken_document,
                      test_served_document_is_the_file, test_every_route_is_documented,
                      test_health_ready_languages_metrics, test_execute_good, test_execute_bad,
                      test_session_endpoint_without_upgrade, test_submissions,
                      test_submissions_batch, test_admin_dead_letters,
                      test_statuses_seen_cover_each_route])
    finally:
        if G.proc and G.proc.poll() is None:
            G.stop()
        redis.send_signal(signal.SIGKILL)
        redis.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
