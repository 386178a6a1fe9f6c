#!/usr/bin/python3
"""Executor suite: the executor binary alone, spoken to over its WebSocket protocol.

    tests/integration/test_executor.py BUILD_DIR

Checks the token check on upgrade, HELLO, PING/PONG, execute/result/done in three languages,
errors for bad frames, busy connections, cancel, and several jobs at once on several connections.
The last line is `N passed, N failed`.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import websocket  # Debian's python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Runner, check, free_port  # noqa: E402

PROTO = "codegate-exec.v1"
BUILD = "build"
TOKEN = "t0k3n-" + os.urandom(8).hex()
EXES = {}


def start(lang):
    port = free_port()
    work = tempfile.mkdtemp(prefix="cg-exec-test-")
    os.chmod(work, 0o711)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "EXECUTOR_TOKEN": TOKEN, "EXECUTOR_LANGUAGE": lang,
           "EXECUTOR_LISTEN": "tcp:127.0.0.1:%d" % port, "EXECUTOR_WORK_ROOT": work,
           "EXECUTOR_SLOTS": "3", "EXECUTOR_UID_BASE": str(61000 + 10 * len(EXES))}
    log = open(os.path.join(BUILD, "test-logs", "executor-%s.log" % lang), "wb")
    p = subprocess.Popen([os.path.join(BUILD, "executor")], env=env, stdout=log, stderr=log)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            ws = connect(port)
            ws.close()
            break
        except Exception:
            time.sleep(0.05)
    EXES[lang] = (p, port, work)


def connect(port, token=TOKEN):
    hdr = ["Authorization: Bearer %s" % token] if token is not None else []
    ws = websocket.create_connection("ws://127.0.0.1:%d/" % port, header=hdr, subprotocols=[PROTO],
                                     timeout=20)
    hello = json.loads(ws.recv())
    check(hello["type"] == "hello", "hello first", hello)
    return ws


def execute(ws, jid, lang, code, runs=None, **kw):
    msg = {"type": "execute", "v": 1, "id": jid, "language": lang, "code": code,
           "runs": runs or [{"input": "", "timeoutMs": 5000}]}
    msg.update(kw)
    ws.send(json.dumps(msg))


def collect(ws, jid):
    frames = []
    while True:
        f = json.loads(ws.recv())
        if f.get("type") == "pong":
            continue
        frames.append(f)
        if f.get("type") == "done" and f.get("id") == jid:
            return frames


def test_token_required():
    _, port, _ = EXES["python"]
    for tok in (None, "wrong", TOKEN + "x", ""):
        try:
            ws = connect(port, tok)
            ws.close()
            raise AssertionError("upgrade accepted with token %r" % tok)
        except AssertionError:
            raise
        except Exception:
            pass
    ws = connect(port)
    ws.close()


def test_hello_and_ping():
    _, port, _ = EXES["cpp"]
    ws = websocket.create_connection("ws://127.0.0.1:%d/" % port, header=["Authorization: Bearer " + TOKEN],
                                     subprotocols=[PROTO], timeout=10)
    hello = json.loads(ws.recv())
    check(hello["language"] == "cpp" and hello["v"] == 1 and hello["slots"] == 3 and hello["version"], "hello", hello)
    ws.send(json.dumps({"type": "ping", "seq": 42}))
    pong = json.loads(ws.recv())
    check(pong == {"type": "pong", "seq": 42}, "pong", pong)
    ws.close()


def test_three_languages():
    for lang, code, want in (("python", "print(input()[::-1])", "cba\n"),
                             ("javascript", "process.stdin.on('data',d=>process.stdout.write(String(d).toUpperCase()))", "ABC"),
                             ("cpp", "#include <iostream>\n#include <string>\nint main(){std::string s;std::cin>>s;std::cout<<s.size()<<'\\n';}", "3\n")):
        ws = connect(EXES[lang][1])
        execute(ws, "j-" + lang, lang, code, [{"input": "abc", "timeoutMs": 5000}])
        frames = collect(ws, "j-" + lang)
        res = [f for f in frames if f["type"] == "result"]
        check(len(res) == 1 and res[0]["stdout"] == want and res[0]["status"] == "ok", lang, frames)
        if lang == "cpp":
            check(frames[0]["type"] == "compile" and frames[0]["status"] == "ok", "compile first", frames)
        ws.close()


def test_bad_frames_answered():
    ws = connect(EXES["python"][1])
    for bad in ("not json", "{}", json.dumps({"type": "execute", "id": "x"}),
                json.dumps({"type": "execute", "id": "bad id!", "language": "python", "code": "", "runs": [{}]})):
        ws.send(bad)
        f = json.loads(ws.recv())
        check(f["type"] == "error" and f["code"] == "bad_frame", "error for %r" % bad, f)
    execute(ws, "wrong-lang", "cpp", "int main(){}")
    frames = collect(ws, "wrong-lang")
    check(frames[0]["type"] == "error" and frames[0]["code"] == "unsupported_language", "language check", frames)
    # still usable afterwards
    execute(ws, "ok", "python", "print(1)")
    check(collect(ws, "ok")[0]["stdout"] == "1\n", "usable")
    ws.close()


def test_busy_connection_and_cancel():
    ws = connect(EXES["python"][1])
    execute(ws, "long", "python", "import time\ntime.sleep(10)", [{"input": "", "timeoutMs": 20000}] * 2)
    time.sleep(0.3)
    execute(ws, "second", "python", "print(2)")
    f = json.loads(ws.recv())
    check(f["type"] == "error" and f["id"] == "second" and f["code"] == "busy", "busy", f)
    check(json.loads(ws.recv())["type"] == "done", "done for the refused job")
    t0 = time.time()
    ws.send(json.dumps({"type": "cancel", "id": "long"}))
    frames = collect(ws, "long")
    check(time.time() - t0 < 3 and frames[-1]["runs"] == 0, "cancelled quickly", frames)
    check(not [f for f in frames if f["type"] == "result"], "no result for a cancelled run", frames)
    ws.close()


def test_concurrent_jobs_and_slots():
    port = EXES["python"][1]
    results = {}

    def one(i):
        ws = connect(port)
        execute(ws, "c%d" % i, "python", "import time\ntime.sleep(0.5)\nprint(%d)" % i)
        results[i] = collect(ws, "c%d" % i)
        ws.close()
    t0 = time.time()
    ths = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    outs = {i: [f for f in fr if f["type"] in ("result", "error")] for i, fr in results.items()}
    ok = [i for i, fr in outs.items() if fr and fr[0]["type"] == "result" and fr[0]["stdout"] == "%d\n" % i]
    busy = [i for i, fr in outs.items() if fr and fr[0]["type"] == "error" and fr[0]["code"] == "busy"]
    check(len(ok) == 3 and len(busy) == 2, "3 slots run, 2 refused busy: %s" % outs)
    check(time.time() - t0 < 5, "slots ran in parallel")


def test_connection_drop_kills_run():
    ws = connect(EXES["python"][1])
    execute(ws, "drop", "python", "import os,time\nopen('/tmp/../' + os.environ['HOME'] + '/alive','w')\ntime.sleep(30)",
            [{"input": "", "timeoutMs": 30000}])
    time.sleep(0.5)
    ws.close()
    work = EXES["python"][2]
    deadline = time.time() + 5
    while time.time() < deadline and os.listdir(work):
        time.sleep(0.1)
    check(os.listdir(work) == [], "work dir removed after the client went away: %s" % os.listdir(work))


def main():
    global BUILD
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    os.makedirs(os.path.join(BUILD, "test-logs"), exist_ok=True)
    r = Runner("executor")
    try:
        for lang in ("python", "javascript", "cpp"):
            start(lang)
        for t in (test_token_required, test_hello_and_ping, test_three_languages, test_bad_frames_answered,
                  test_busy_connection_and_cancel, test_concurrent_jobs_and_slots,
                  test_connection_drop_kills_run):
            r.run(t, timeout=120)
    finally:
        for lang, (p, _, work) in EXES.items():
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "hung"
            if rc != 0:
                r.failed += 1
                print("[FAIL] executor %s exit status %s after SIGTERM" % (lang, rc))
            try:
                os.rmdir(work)
            except OSError:
                pass
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
