#!/usr/bin/python3
"""Executor suite: the executor binary alone, spoken to over its WebSocket protocol.

    tests/integration/test_executor.py BUILD_DIR

Checks the token check on upgrade, HELLO, PING/PONG, execute/result/done in three languages,
stdin, exit codes and signals, timeouts, the output cap, memory limits, C++ compile errors,
invalid UTF-8 and NUL in output, streaming and interactive stdin, fragmented and oversized
frames, errors for bad frames, busy connections, cancel, several jobs at once on several
connections, the unix socket listener, the token never reaching a program, SIGTERM with jobs
running, and the JSON log. The last line is `N passed, N failed`.
"""
import json
import os
import socket
import stat
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


def spawn(lang, listen, work, slots=3, uid_base=None, log_name=None, extra_env=None):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "EXECUTOR_TOKEN": TOKEN, "EXECUTOR_LANGUAGE": lang,
           "EXECUTOR_LISTEN": listen, "EXECUTOR_WORK_ROOT": work, "EXECUTOR_SLOTS": str(slots),
           "EXECUTOR_UID_BASE": str(uid_base or 61000 + 10 * len(EXES)),
           "EXECUTOR_LOG_LEVEL": "debug"}  # job_start / job_end lines are checked below
    env.update(extra_env or {})
    for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    log_path = os.path.join(BUILD, "test-logs", "executor-%s.log" % (log_name or lang))
    log = open(log_path, "wb")
    return subprocess.Popen([os.path.join(BUILD, "executor")], env=env, stdout=log, stderr=log), log_path


def wait_up(fn, p):
    deadline = time.time() + 15
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("executor exited with %s at start" % p.returncode)
        try:
            fn().close()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("executor not up after 15 s")


def start(lang):
    port = free_port()
    work = tempfile.mkdtemp(prefix="cg-exec-test-")
    os.chmod(work, 0o711)
    p, log_path = spawn(lang, "tcp:127.0.0.1:%d" % port, work)
    wait_up(lambda: connect(port), p)
    EXES[lang] = (p, port, work, log_path)


def connect(port, token=TOKEN, unix=None):
    hdr = ["Authorization: Bearer %s" % token] if token is not None else []
    if unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(20)
        sock.connect(unix)
        ws = websocket.create_connection("ws://localhost/", header=hdr, subprotocols=[PROTO],
                                         timeout=20, socket=sock)
    else:
        ws = websocket.create_connection("ws://127.0.0.1:%d/" % port, header=hdr,
                                         subprotocols=[PROTO], timeout=20)
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
    _, port, _, _ = EXES["python"]
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
    _, port, _, _ = EXES["cpp"]
    ws = websocket.create_connection("ws://127.0.0.1:%d/" % port, header=["Authorization: Bearer " + TOKEN],
                                     subprotocols=[PROTO], timeout=10)
    hello = json.loads(ws.recv())
    check(hello["language"] == "cpp" and hello["v"] == 1 and hello["slots"] == 3 and hello["version"], "hello", hello)
    ws.send(json.dumps({"type": "ping", "seq": 42}))
    pong = json.loads(ws.recv())
    check(pong == {"type": "pong", "seq": 42, "slotsDown": 0}, "pong (with no slot out of service)", pong)
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
        if '"id": "x"' in bad:  # an EXECUTE with a usable id: answered for that job, then DONE
            check(f.get("id") == "x", "the error names the job", f)
            d = json.loads(ws.recv())
            check(d["type"] == "done" and d["id"] == "x" and d["runs"] == 0, "done follows", d)
        else:
            check("id" not in f or f["id"] is None, "no job to name", f)
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


def run_one(lang, code, runs=None, **kw):
    """Runs one job on a fresh connection; returns (results, frames)."""
    ws = connect(EXES[lang][1])
    try:
        jid = "j%s" % os.urandom(4).hex()
        execute(ws, jid, lang, code, runs, **kw)
        frames = collect(ws, jid)
    finally:
        ws.close()
    check(frames[-1]["type"] == "done", "done last", frames)
    return [f for f in frames if f["type"] == "result"], frames


def test_exit_code_and_signal():
    res, _ = run_one("python", "import sys\nprint('x')\nsys.exit(3)")
    check(res[0]["status"] == "runtime_error" and res[0]["exitCode"] == 3 and res[0]["stdout"] == "x\n",
          "exit 3", res)
    res, _ = run_one("cpp", "#include <csignal>\nint main(){std::raise(SIGSEGV);}")
    check(res[0]["status"] == "runtime_error" and res[0]["signal"] == "SIGSEGV", "SIGSEGV", res)
    res, _ = run_one("javascript", "throw new Error('boom')")
    check(res[0]["status"] == "runtime_error" and "boom" in res[0]["stderr"], "js throw", res)


def test_stdin_and_runs():
    runs = [{"input": "1 2\n", "timeoutMs": 5000}, {"input": "", "timeoutMs": 5000},
            {"input": "40 2", "timeoutMs": 5000}]
    res, frames = run_one("cpp", "#include <iostream>\nint main(){long a=0,b=0;std::cin>>a>>b;std::cout<<a+b<<std::endl;}",
                          runs)
    check([r["stdout"] for r in res] == ["3\n", "0\n", "42\n"] and [r["run"] for r in res] == [0, 1, 2],
          "three runs in order", frames)
    check(frames[-1]["runs"] == 3, "done counts runs", frames)
    # A program that never reads a large input: EPIPE on our side is no failure.
    res, _ = run_one("python", "print('ignored')", [{"input": "y" * (4 << 20), "timeoutMs": 5000}])
    check(res[0]["status"] == "ok" and res[0]["stdout"] == "ignored\n", "unread stdin", res)


def test_timeout():
    t0 = time.time()
    res, _ = run_one("python", "while True: pass", [{"input": "", "timeoutMs": 1000}])
    check(res[0]["status"] == "timeout" and res[0]["timedOut"] is True, "timeout", res)
    check(time.time() - t0 < 4, "ended near the limit (%.1fs)" % (time.time() - t0))
    res, _ = run_one("javascript", "setTimeout(()=>{}, 60000)", [{"input": "", "timeoutMs": 800}])
    check(res[0]["status"] == "timeout", "sleeping js times out", res)


def test_output_cap():
    t0 = time.time()
    res, _ = run_one("javascript", "for(;;) process.stdout.write('z'.repeat(1000))",
                     outputLimit=5000)
    check(res[0]["status"] == "output_limit" and res[0]["truncated"] is True and
          len(res[0]["stdout"]) == 5000, "capped at 5000", {k: v for k, v in res[0].items() if k != "stdout"})
    check(time.time() - t0 < 4, "stopped at the cap, not at the time limit")


def test_memory_limit():
    res, _ = run_one("python", "x = bytearray(400 * 1024 * 1024)\nprint(len(x))", memoryMb=64)
    check(res[0]["status"] == "memory_limit", "python MemoryError", res)
    res, _ = run_one("cpp", "#include <vector>\n#include <cstdio>\nint main(){std::vector<char> v(400u<<20, 1);"
                     "std::printf(\"%d\\n\", v[5]);}", memoryMb=64)
    check(res[0]["status"] == "memory_limit", "C++ bad_alloc", res)


def test_compile_error():
    res, frames = run_one("cpp", "int main() { return undefined_name; }")
    c = frames[0]
    check(c["type"] == "compile" and c["status"] == "compile_error" and "undefined_name" in c["stderr"]
          and c["exitCode"] != 0, "compile error reported", frames)
    check(not res and frames[-1]["runs"] == 0, "no run after a failed compile", frames)


def test_invalid_utf8_and_nul():
    code = ("import sys\nsys.stdout.buffer.write(b'a\\x00b\\xffc\\xe2\\x82\\xac\\xc3')\n"
            "sys.stderr.buffer.write(b'\\xed\\xa0\\x80!')")
    res, _ = run_one("python", code)
    check(res[0]["stdout"] == "a\ufffdb\ufffdc\u20ac\ufffd", "stdout sanitized", res)
    check(res[0]["stderr"].endswith("!") and "\ufffd" in res[0]["stderr"], "surrogate replaced", res)
    # Streamed: a sequence split across two writes is put back together.
    code = ("import sys,time\nsys.stdout.buffer.write(b'x\\xe2\\x82')\nsys.stdout.flush()\ntime.sleep(0.2)\n"
            "sys.stdout.buffer.write(b'\\xacy\\xff')\n")
    res, frames = run_one("python", code, stream=True)
    out = "".join(f["data"] for f in frames if f["type"] == "stdout")
    check(out == "x\u20acy\ufffd" and res[0]["stdout"] == "", "streamed sanitize", frames)


def test_stream_and_interactive():
    ws = connect(EXES["python"][1])
    execute(ws, "inter", "python", "import sys\nprint('ready')\nfor l in sys.stdin: print(l.strip().upper())\nprint('bye')",
            [{"input": "", "timeoutMs": 10000}], stream=True, interactive=True)

    def read_until(want):
        got = ""
        deadline = time.time() + 10
        while want not in got and time.time() < deadline:
            f = json.loads(ws.recv())
            check(f["type"] in ("stdout", "pong"), "only output while running", f)
            if f["type"] == "stdout":
                check(f["id"] == "inter" and f["run"] == 0, "stdout frame", f)
                got += f["data"]
        return got
    check(read_until("ready\n") == "ready\n", "prompt before any input")
    ws.send(json.dumps({"type": "stdin", "id": "inter", "run": 0, "data": "abc\n"}))
    check(read_until("ABC\n") == "ABC\n", "echo of stdin")
    ws.send(json.dumps({"type": "stdin", "id": "inter", "run": 0, "data": "d"}))
    ws.send(json.dumps({"type": "stdin", "id": "inter", "run": 0, "data": "ef\n"}))
    check(read_until("DEF\n") == "DEF\n", "a line in two frames")
    ws.send(json.dumps({"type": "close_stdin", "id": "inter"}))
    frames = collect(ws, "inter")
    out = "".join(f["data"] for f in frames if f["type"] == "stdout")
    res = [f for f in frames if f["type"] == "result"]
    check(out == "bye\n" and res[0]["status"] == "ok" and res[0]["stdout"] == "", "EOF ends the program", frames)
    ws.close()


def test_fragmented_and_oversized_frames():
    ws = connect(EXES["python"][1])
    msg = json.dumps({"type": "execute", "v": 1, "id": "frag", "language": "python",
                      "code": "print('%s')" % ("q" * 100000), "runs": [{"input": "", "timeoutMs": 5000}]}).encode()
    parts = [msg[:10], msg[10:70000], msg[70000:]]
    ws.send_frame(websocket.ABNF.create_frame(parts[0], websocket.ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(websocket.ABNF.create_frame(parts[1], websocket.ABNF.OPCODE_CONT, fin=0))
    ws.send_frame(websocket.ABNF.create_frame(parts[2], websocket.ABNF.OPCODE_CONT, fin=1))
    frames = collect(ws, "frag")
    check(frames[0]["type"] == "result" and frames[0]["stdout"] == "q" * 100000 + "\n", "reassembled")
    # Beyond CG_MAX_FRAME_BYTES (64 MiB): closed with 1009.
    chunk = b"x" * (1 << 20)
    code = None
    try:
        ws.send_frame(websocket.ABNF.create_frame(chunk, websocket.ABNF.OPCODE_TEXT, fin=0))
        for _ in range(70):
            ws.send_frame(websocket.ABNF.create_frame(chunk, websocket.ABNF.OPCODE_CONT, fin=0))
    except (OSError, websocket.WebSocketException):
        pass
    try:
        while True:
            op, data = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big")
                break
    except (OSError, websocket.WebSocketException):
        pass
    check(code == 1009, "closed with 1009, got %r" % code)
    ws.close()


def test_program_environment():
    code = ("import os,json\nst=os.stat('.')\n"
            "env=dict(os.environ)\n"
            "print(json.dumps({'mode':oct(st.st_mode & 0o7777),'uid':os.getuid(),'owner':st.st_uid,"
            "'cwd':os.getcwd(),'env':env}))")
    res, _ = run_one("python", code)
    info = json.loads(res[0]["stdout"])
    check(info["mode"] == "0o700", "work dir 0700", info)
    check(not any("TOKEN" in k or TOKEN in v for k, v in info["env"].items()), "no token in env", info)
    check(info["env"].get("HOME") == info["cwd"] and info["env"].get("TMPDIR") == info["cwd"], "HOME/TMPDIR", info)
    # As root every slot is a box: its work area appears at /box (docs/SECURITY.md).
    check(os.path.dirname(info["cwd"]) == ("/box" if os.geteuid() == 0 else EXES["python"][2]),
          "in the slot's work area", info)
    if os.geteuid() == 0:
        base = int(open("/proc/%d/environ" % EXES["python"][0].pid, "rb").read().split(b"EXECUTOR_UID_BASE=")[1].split(b"\0")[0])
        check(base <= info["uid"] < base + 3 and info["owner"] == info["uid"], "slot uid", info)
    # Not even the executor's own environment block shows the token any more.
    env = open("/proc/%d/environ" % EXES["python"][0].pid, "rb").read()
    check(TOKEN.encode() not in env, "token wiped from /proc/<executor>/environ")


def test_unix_socket_and_sigterm():
    d = tempfile.mkdtemp(prefix="cg-exec-unix-")
    os.chmod(d, 0o711)   # the slot uids must reach the work root below it
    work = os.path.join(d, "work")
    path = os.path.join(d, "exec.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)   # a stale socket from an earlier run: replaced
    stale.close()
    # A short drain: the job below outlives it and is killed (test_executor_service.py drains).
    p, log_path = spawn("python", "unix:" + path, work, slots=2, log_name="python-unix",
                        extra_env={"EXECUTOR_DRAIN_MS": "300"})
    try:
        wait_up(lambda: connect(0, unix=path), p)
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "socket 0600")
        check(stat.S_IMODE(os.stat(work).st_mode) == 0o711, "work root 0711")
        try:
            connect(0, token="nope", unix=path).close()
            raise AssertionError("bad token accepted on the unix socket")
        except AssertionError:
            raise
        except Exception:
            pass
        ws = connect(0, unix=path)
        execute(ws, "u1", "python", "print(6*7)")
        fr = collect(ws, "u1")
        check(fr[0].get("stdout") == "42\n", "job over the unix socket", fr)
        execute(ws, "u2", "python", "import time\ntime.sleep(30)", [{"input": "", "timeoutMs": 30000}])
        # The work dirs live on a tmpfs only the executor sees: look through its root.
        def jobs():
            root = "/proc/%d/root%s" % (p.pid, work)
            try:
                return [n for d in os.listdir(root) if d.startswith("slot-")
                        for n in os.listdir(os.path.join(root, d))]
            except OSError:
                return []
        deadline = time.time() + 5
        while not jobs() and time.time() < deadline:
            time.sleep(0.05)
        check(len(jobs()) == 1, "the job runs", jobs())
        check(os.listdir(work) == [], "nothing of the job on the host's side", os.listdir(work))
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        check(rc == 0, "exit 0 after SIGTERM, got %s" % rc)
        check(time.time() - t0 < 4, "stopped soon after the drain grace (%.1fs)" % (time.time() - t0))
        check(os.listdir(work) == [], "work dir removed at shutdown", os.listdir(work))
        check(not os.path.exists(path), "socket removed at shutdown")
        ws.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # Something that is not a socket at the path is left alone: the executor refuses to start.
    with open(path, "w") as f:
        f.write("keep me")
    p, _ = spawn("python", "unix:" + path, work, log_name="python-unix2")
    rc = p.wait(10)
    check(rc != 0 and open(path).read() == "keep me", "non-socket path untouched (rc %s)" % rc)
    subprocess.call(["rm", "-rf", d])


def test_log_lines():
    lines = open(EXES["python"][3], "rb").read().splitlines()
    events = set()
    for line in lines:
        j = json.loads(line)  # every line is one JSON object
        check("ts" in j and j.get("level") in ("debug", "info", "warn", "error") and ("msg" in j or "event" in j),
              "log line shape", j)
        events.add(j.get("event"))
    for e in ("listen", "conn_accept", "conn_refuse", "conn_close", "job_start", "job_end"):
        check(e in events, "event %s logged" % e, sorted(x for x in events if x))
    r = subprocess.run([os.path.join(BUILD, "executor"), "--language", "python", "--log-level", "chatty"],
                       env={"EXECUTOR_TOKEN": TOKEN}, capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--log-level" in r.stderr, "an unknown log level is refused", r.stderr)


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
                  test_connection_drop_kills_run, test_exit_code_and_signal, test_stdin_and_runs,
                  test_timeout, test_output_cap, test_memory_limit, test_compile_error,
                  test_invalid_utf8_and_nul, test_stream_and_interactive,
                  test_fragmented_and_oversized_frames, test_program_environment,
                  test_unix_socket_and_sigterm, test_log_lines):
            r.run(t, timeout=120)
    finally:
        for lang, (p, _, work, _) in EXES.items():
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
