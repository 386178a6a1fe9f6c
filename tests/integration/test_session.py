#!/usr/bin/python3
"""Session suite: the interactive WebSocket endpoint GET /api/code/session, end to end.

    tests/integration/test_session.py BUILD_DIR [gateway args...]

Prompts arrive before any input is sent (all three languages, C++ printf/scanf and cout/cin),
answers change the output, eof, kill, timeout, idle timeout, a client that goes away (its
program is gone within a second), invalid frames, too many sessions, backpressure.
The last line is `N passed, N failed`.
"""
import json
import os
import subprocess
import sys
import time

import websocket  # Debian's python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check  # noqa: E402

G = None


class Session:
    def __init__(self, gw=None, timeout=20):
        gw = gw or G
        self.ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % gw.port,
                                              timeout=timeout)
        self.frames = []
        self.out = ""
        self.err = ""

    def send(self, **kw):
        self.ws.send(json.dumps(kw))

    def start(self, language, code, **kw):
        self.send(type="start", language=language, code=code, **kw)

    def next(self):
        raw = self.ws.recv()
        if not raw:
            return None
        f = json.loads(raw)
        self.frames.append(f)
        if f["type"] == "stdout":
            self.out += f["data"]
        elif f["type"] == "stderr":
            self.err += f["data"]
        return f

    def until(self, pred, what, limit=20):
        deadline = time.time() + limit
        while time.time() < deadline:
            f = self.next()
            if f is None:
                break
            if pred(f):
                return f
        raise AssertionError("never saw %s; frames: %s" % (what, json.dumps(self.frames)[:2000]))

    def until_out(self, text, limit=20):
        return self.until(lambda f: text in self.out, "stdout %r" % text, limit)

    def exit(self, limit=20):
        return self.until(lambda f: f["type"] == "exit", "exit", limit)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


PROMPTS = {
    "python": 'name = input("Name? ")\nprint(f"Hello, {name}!")',
    "javascript": 'const rl = require("readline").createInterface({input: process.stdin, output: process.stdout});\n'
                  'rl.question("Name? ", n => { console.log(`Hello, ${n}!`); rl.close(); });',
    "cpp": '#include <cstdio>\nint main(){ char n[64]; printf("Name? "); if (scanf("%63s", n) != 1) return 1;'
           ' printf("Hello, %s!\\n", n); }',
}


def test_prompt_before_input_each_language():
    for lang, code in PROMPTS.items():
        s = Session()
        s.start(lang, code)
        s.until(lambda f: f["type"] == "started", "started")
        s.until_out("Name? ")
        check(s.out == "Name? ", "%s: nothing but the prompt before input: %r" % (lang, s.out))
        s.send(type="stdin", data="Ada\n")
        ex = s.exit()
        check(s.out == "Name? Hello, Ada!\n", "%s output %r" % (lang, s.out))
        check(ex["status"] == "ok" and ex["exitCode"] == 0 and ex["durationMs"] >= 0, lang, ex)
        check(s.next() is None, "normal close after exit")
        s.close()


def test_cout_cin_prompt_and_answers_change_output():
    code = ('#include <iostream>\nint main(){ int n; std::cout << "n? "; std::cin >> n;'
            ' std::cout << "square " << n*n << std::endl; std::cout << "again? "; std::cin >> n;'
            ' std::cout << "cube " << n*n*n << std::endl; }')
    s = Session()
    s.start("cpp", code)
    c = s.until(lambda f: f["type"] == "compile", "compile")
    check(c["status"] == "ok", "compiled", c)
    s.until_out("n? ")
    s.send(type="stdin", data="7\n")
    s.until_out("again? ")
    check("square 49" in s.out, "first answer used", s.out)
    s.send(type="stdin", data="3\n")
    s.exit()
    check(s.out == "n? square 49\nagain? cube 27\n", "output %r" % s.out)
    s.close()


def test_stderr_separate_and_eof():
    s = Session()
    s.start("python", "import sys\nprint('err line', file=sys.stderr)\ndata = sys.stdin.read()\n"
                      "print('got', len(data.split()))")
    s.until(lambda f: "err line\n" in s.err, "stderr")  # may come in more than one frame
    check(s.err == "err line\n" and s.out == "", "stderr separate", s.frames)
    s.send(type="stdin", data="a b c\n")
    s.send(type="stdin", data="d\n")
    s.send(type="eof")
    s.exit()
    check(s.out == "got 4\n", "eof ends input: %r" % s.out)
    s.close()
    s = Session()  # C++ on a pseudo-terminal: eof too
    s.start("cpp", "#include <iostream>\nint main(){int x,n=0; while(std::cin>>x) n+=x; std::cout<<n<<'\\n';}")
    s.until(lambda f: f["type"] == "compile", "compile")
    s.send(type="stdin", data="1 2\n3")
    s.send(type="eof")
    s.exit()
    check(s.out == "6\n", "cpp eof: %r" % s.out)
    s.close()


def test_kill():
    s = Session()
    s.start("python", "import time\nprint('ready', flush=True)\ntime.sleep(60)")
    s.until_out("ready")
    t0 = time.time()
    s.send(type="kill")
    ex = s.exit()
    check(ex["status"] == "cancelled" and time.time() - t0 < 3, "killed", ex)
    s.close()


def test_timeout():
    s = Session()
    s.start("javascript", "setInterval(() => {}, 1000)", timeoutMs=800)
    ex = s.exit(limit=10)
    check(ex["status"] == "timeout", "timeout", ex)
    s.close()


def test_client_disconnect_kills_program():
    s = Session()
    s.start("python", "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)")
    s.until_out("\n")
    pid = int(s.out.split()[0])
    # The pid is from the program's own view; on the local runtime that is the host's (same pid
    # namespace). Find the process that runs our marker and is that pid.
    check(os.path.exists("/proc/%d" % pid), "program %d visible while running" % pid)
    s.close()
    t0 = time.time()
    while time.time() - t0 < 1.5 and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)
    check(not os.path.exists("/proc/%d" % pid),
          "program %d still running %.1fs after the client left" % (pid, time.time() - t0))


def test_invalid_frames():
    s = Session()
    s.ws.send("not json")
    f = s.until(lambda f: f["type"] == "error", "error")
    check(f["code"] == "invalid_frame", "bad json", f)
    s.send(type="stdin", data="x")
    f = s.until(lambda f: f["type"] == "error", "error")
    check(f["code"] == "invalid_frame" and "start" in f["message"], "stdin before start", f)
    s.send(type="start", language="cobol", code="x")
    f = s.until(lambda f: f["type"] == "error", "error")
    check(f["code"] == "invalid_request", "bad language", f)
    s.send(type="start", language="python", code="print(1)", timeoutMs=-5)
    f = s.until(lambda f: f["type"] == "error", "error")
    check(f["code"] == "invalid_request", "bad timeout", f)
    s.start("python", "print('fine')")
    s.exit()
    check(s.out == "fine\n", "usable after errors")
    s.close()


def test_output_streams_with_backpressure():
    s = Session(timeout=30)
    s.start("python", "import sys\nfor i in range(200000): print(i)")
    # read slowly at first: the program must be paused, not buffered without bound
    time.sleep(2)
    ex = s.exit(limit=60)
    check(ex["status"] in ("ok", "output_limit"), "flood", ex)
    lines = s.out.splitlines()
    if ex["status"] == "output_limit":
        lines = lines[:-1]  # cut at the cap, possibly mid-line
    check(len(lines) > 1000 and lines[:3] == ["0", "1", "2"], "in order")
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(lines, lines[1:])) if int(a) + 1 != int(b)]
    check(not bad, "nothing lost in between: %d gaps, first %s (status %s, %d lines)"
          % (len(bad), bad[:3], ex["status"], len(lines)))
    s.close()


def test_idle_timeout():
    g = Gateway(G.build, EXTRA + ["--session-idle-ms", "1500"], name="sess-idle").start()
    try:
        s = Session(g)
        s.start("python", "input()")
        t0 = time.time()
        f = s.until(lambda f: f["type"] == "error", "idle error", limit=10)
        check(f["code"] == "idle_timeout", "idle", f)
        ex = s.exit(limit=10)
        check(ex["status"] == "timeout" and time.time() - t0 < 6, "ended", ex)
        s.close()
    finally:
        check(g.stop() == 0, "exit 0")


def test_too_many_sessions():
    g = Gateway(G.build, EXTRA + ["--sessions-max", "2"], name="sess-max").start()
    try:
        a, b = Session(g), Session(g)
        for s in (a, b):
            s.start("python", "input()")
            s.until(lambda f: f["type"] == "started", "started")
        c = Session(g)  # a connection takes no place until it sends start
        c.start("python", "print('never')")
        f = c.until(lambda f: f["type"] == "error", "error")
        check(f["code"] == "too_many_sessions", "third refused", f)
        check(c.next() is None, "closed after the error")
        check([x["type"] for x in c.frames] == ["error"], "refused: no started", c.frames)
        check(c.ws.status == 1013, "close code 1013 (try again later): %s" % c.ws.status)
        for s in (a, b):
            s.close()
        t0 = time.time()
        while True:  # the two sessions end as soon as their programs are gone
            d = Session(g)
            d.start("python", "print('room again')")
            f = d.until(lambda f: f["type"] in ("exit", "error"), "exit or error")
            if f["type"] == "exit" or time.time() - t0 > 5:
                break
            d.close()
            time.sleep(0.2)
        check(d.out == "room again\n", "a slot frees when a session ends: %s" % d.frames)
        print("    room again after %.2fs" % (time.time() - t0))
        d.close()
    finally:
        check(g.stop() == 0, "exit 0")


EXTRA = ["--runtime", "local"]


def main():
    global G, EXTRA
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    EXTRA = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("sessions (%s)" % " ".join(EXTRA))
    G = Gateway(build, EXTRA, name="sess").start()
    G.build = build
    try:
        for t in (test_prompt_before_input_each_language, test_cout_cin_prompt_and_answers_change_output,
                  test_stderr_separate_and_eof, test_kill, test_timeout, test_client_disconnect_kills_program,
                  test_invalid_frames, test_output_streams_with_backpressure):
            r.run(t, timeout=120)
        if "docker" in EXTRA:
            pass
    finally:
        rc = G.stop()

    def clean_exit():
        check(rc == 0, "gateway exit status %s" % rc)
    r.run(clean_exit)
    r.run(test_idle_timeout, timeout=60)
    r.run(test_too_many_sessions, timeout=60)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
