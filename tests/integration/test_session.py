#!/usr/bin/python3
"""Session suite: the interactive WebSocket endpoint GET /api/code/session, end to end.

    tests/integration/test_session.py BUILD_DIR [gateway args...]

Prompts arrive before any input is sent (every language, C++ printf/scanf and cout/cin),
answers change the output, eof, kill, timeout, idle timeout, a client that goes away (its
program is gone within a second), invalid frames, too many sessions, backpressure.
The last line is `N passed, N failed`.
"""
import json
import base64
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import websocket  # Debian's python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check  # noqa: E402
from lang_programs import PROGRAMS  # noqa: E402

G = None


class Session:
    def __init__(self, gw=None, timeout=20):
        gw = gw or G
        self.ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % gw.port,
                                              timeout=timeout)
        self.frames = []
        self.close_code = None
        self.out = ""
        self.err = ""

    def send(self, **kw):
        self.ws.send(json.dumps(kw))

    def start(self, language, code, **kw):
        self.send(type="start", language=language, code=code, **kw)

    def next(self):
        """The next JSON frame, or None at the close (its code in self.close_code)."""
        while True:
            try:
                op, fr = self.ws.recv_data_frame(True)
            except websocket.WebSocketConnectionClosedException:
                return None
            if op == websocket.ABNF.OPCODE_CLOSE:
                if len(fr.data) >= 2:
                    self.close_code = struct.unpack("!H", fr.data[:2])[0]
                return None
            if op == websocket.ABNF.OPCODE_TEXT:
                break
        f = json.loads(fr.data.decode("utf-8"))
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
# The other languages of the table: their prompt programs (tests/integration/lang_programs.py).
PROMPTS.update({lang: p["prompt"] for lang, p in PROGRAMS.items() if lang not in PROMPTS})


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
    # The program runs in its slot's own pid namespace: find it from the host by a marker in
    # its command line (the runtime may be local or Docker; both share this kernel).
    marker = "gone-%s" % os.urandom(6).hex()
    s = Session()
    s.start("python", "import time\nprint('up', flush=True)\ntime.sleep(60)", args=[marker])
    s.until_out("up\n")

    def alive():
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        if marker.encode() in f.read():
                            return True
                except OSError:
                    pass
        return False
    check(alive(), "program visible from the host while running")
    s.close()
    t0 = time.time()
    while time.time() - t0 < 1.5 and alive():
        time.sleep(0.05)
    check(not alive(), "program still running %.1fs after the client left" % (time.time() - t0))


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


def test_stdin_capped_per_session():
    s = Session(timeout=60)
    s.start("python", "import sys\nprint(len(sys.stdin.read()))")
    s.until(lambda f: f["type"] == "started", "started")
    chunk = "a" * 500000
    for _ in range(17):  # 8,500,000 bytes: the 17th frame passes 8 MiB
        s.send(type="stdin", data=chunk)
    s.send(type="eof")
    f = s.until(lambda f: f["type"] == "error", "error", limit=60)
    check(f["code"] == "payload_too_large", "stdin over 8 MiB refused", f)
    s.exit(limit=60)
    check(s.out == "8000000\n", "the first 16 frames reached the program: %r" % s.out)
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
        check(c.close_code == 4503, "close code 4503 (unavailable): %s" % c.close_code)
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

# ---- hostile clients (issue 11) ----

def raw_connect(port, pipelined=b"", timeout=15):
    """A WebSocket opened by hand: (socket, frames reader). pipelined bytes go in the same
    write as the upgrade request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /api/code/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
           % (port, key))
    s.sendall(req.encode() + pipelined)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        check(chunk, "no upgrade answer: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    check(head.startswith(b"HTTP/1.1 101"), "upgraded: %r" % head[:200])
    return s, RawFrames(s, rest)


def client_frame(opcode, payload=b"", fin=True):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n <= 0xffff:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return hdr + mask + masked


class RawFrames:
    """Reads the server's (unmasked) frames from a socket."""

    def __init__(self, sock, rest=b""):
        self.s = sock
        self.buf = rest

    def _need(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise EOFError("connection closed after %d bytes" % len(self.buf))
            self.buf += c

    def next(self):
        self._need(2)
        n, off = self.buf[1] & 0x7f, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n)
        op, data = self.buf[0] & 0x0f, self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return op, data

    def until_close(self):
        """JSON frames until the close frame: (frames, close code)."""
        frames = []
        while True:
            op, data = self.next()
            if op == 1:
                frames.append(json.loads(data))
            elif op == 8:
                return frames, (struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_client_frame_masking():
    # the helper itself: unmasking gives the payload back
    for payload in (b"", b"a", b"abcd", b"hello world", bytes(range(256)) * 3):
        fr = client_frame(1, payload)
        off = 2 if len(payload) < 126 else 4
        mask, body = fr[off:off + 4], fr[off + 4:]
        check(bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload, "mask %r" % payload[:10])


def test_huge_frame_refused_on_header():
    """A header announcing 4 GiB, then 64 MiB of payload: close 1009 at once, no memory growth."""
    pid = G.proc.pid
    before = peak = rss_kb(pid)
    s, rd = raw_connect(G.port)
    got = {}

    def reader():
        try:
            got["frames"], got["close"] = rd.until_close()
            got["t"] = time.time()
        except Exception as e:  # noqa: reported below
            got["err"] = repr(e)
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    t0 = time.time()
    s.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, 4 << 30) + os.urandom(4))
    chunk, sent = os.urandom(1 << 20), 0
    try:
        while sent < (64 << 20):
            s.sendall(chunk)
            sent += len(chunk)
            peak = max(peak, rss_kb(pid))
    except OSError:
        pass  # the gateway closes the connection after its close frame
    th.join(15)
    peak = max(peak, rss_kb(pid))
    s.close()
    check("close" in got, "a close frame: %s" % got)
    check(got["close"] == 1009, "close code 1009: %s" % got)
    check(got["frames"] and got["frames"][0]["code"] == "payload_too_large", "error frame", got)
    check(got["t"] - t0 < 5, "close 1009 within 5 s of the header: %.2fs" % (got["t"] - t0))
    check(sent >= (50 << 20), "the payload went out (%d MiB)" % (sent >> 20))
    check(peak - before < 64 * 1024, "RSS %d -> %d KiB" % (before, peak))
    print("    close 1009 after %.3fs; %d MiB sent; gateway RSS %d -> peak %d KiB (+%d)"
          % (got["t"] - t0, sent >> 20, before, peak, peak - before))
    # the gateway is fine afterwards
    c = Session()
    c.start("python", "print('still here')")
    c.exit()
    check(c.out == "still here\n", "a session after the attack")
    c.close()


def test_fragmented_message_over_limit():
    s, rd = raw_connect(G.port)
    try:
        s.sendall(client_frame(1, b"a" * (400 << 10), fin=False))
        s.sendall(client_frame(0, b"b" * (200 << 10), fin=True))  # 600 KiB in all: over 512 KiB
    except OSError:
        pass
    frames, code = rd.until_close()
    s.close()
    check(code == 1009, "close 1009: %s" % code)
    check(frames and frames[-1]["code"] == "payload_too_large", "error", frames)
    # the same message under the limit, in fragments with a ping between, runs
    start = json.dumps({"type": "start", "language": "python", "code": "print('frag ok')"}).encode()
    s, rd = raw_connect(G.port)
    s.sendall(client_frame(1, start[:10], fin=False) + client_frame(9, b"hi")
              + client_frame(0, start[10:20], fin=False) + client_frame(0, start[20:], fin=True))
    out, pong = "", False
    while True:
        op, data = rd.next()
        if op == 10:
            pong = data == b"hi"
        elif op == 1:
            f = json.loads(data)
            out += f.get("data", "") if f["type"] == "stdout" else ""
            if f["type"] == "exit":
                break
    s.close()
    check(pong and out == "frag ok\n", "fragmented start runs (%r, pong %s)" % (out, pong))


def test_idle_connections_without_start_are_dropped():
    g = Gateway(G.build, EXTRA + ["--session-start-ms", "1500"], name="sess-start").start()
    try:
        idle = [Session(g) for _ in range(10)]  # more than --sessions-max (8)
        t0 = time.time()
        # They hold no session place: a session and a batch run go through meanwhile.
        s = Session(g)
        s.start("python", "print('in')")
        s.exit()
        check(s.out == "in\n", "a session runs next to 10 idle connections", s.frames)
        s.close()
        st, doc, _ = g.execute({"language": "python", "code": "print(2)"})
        check(st == 200 and doc["data"]["stdout"] == "2\n", "batch run", doc)
        for c in idle:
            f = c.until(lambda f: f["type"] == "error", "start_timeout", limit=10)
            check(f["code"] == "start_timeout", "start deadline", f)
            check(c.next() is None and c.close_code == 1008, "close 1008: %s" % c.close_code)
            c.close()
        dt = time.time() - t0
        check(1.0 < dt < 8, "dropped after the deadline (%.2fs)" % dt)
    finally:
        check(g.stop() == 0, "exit 0")


def test_idle_input_sessions_leave_batch_capacity():
    """4 python slots, --session-share 50: two input() sessions run, two wait and are refused;
    batch python runs never get 503."""
    g = Gateway(G.build, EXTRA + ["--slots", "4", "--queue-wait-ms", "3000"], name="sess-share").start()
    try:
        running = []
        for _ in range(2):
            s = Session(g)
            s.start("python", "input()")
            s.until(lambda f: f["type"] == "started", "started")
            running.append(s)
        waiting = []
        for _ in range(2):
            s = Session(g)
            s.start("python", "input()")
            waiting.append(s)
        results = []

        def batch():
            results.append(g.execute({"language": "python", "code": "print(7)"}, timeout=60))
        ths = [threading.Thread(target=batch) for _ in range(12)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(90)
        statuses = [r[0] for r in results]
        check(len(results) == 12 and statuses == [200] * 12, "batch while sessions wait: %s"
              % statuses)
        check(all(r[1]["data"]["stdout"] == "7\n" for r in results), "batch output")
        for s in waiting:
            f = s.until(lambda f: f["type"] == "error", "overloaded", limit=15)
            check(f["code"] == "overloaded", "beyond the share: overloaded", f)
            check(s.next() is None and s.close_code == 4503, "close 4503: %s" % s.close_code)
            check([x["type"] for x in s.frames] == ["error"], "never started", s.frames)
            s.close()
        for s in running:
            s.send(type="stdin", data="x\n")
            ex = s.exit()
            check(ex["status"] == "ok", "running sessions unaffected", ex)
            s.close()
    finally:
        check(g.stop() == 0, "exit 0")


def test_refused_session_never_sees_started():
    g = Gateway(G.build, EXTRA + ["--sessions-max", "1"], name="sess-race").start()
    try:
        hold = Session(g)
        hold.start("python", "input()")
        hold.until(lambda f: f["type"] == "started", "started")
        start = json.dumps({"type": "start", "language": "python", "code": "print(1)"}).encode()
        for i in range(30):
            if i % 2 == 0:
                c = Session(g)
                c.start("python", "print(1)")
                while c.next() is not None:
                    pass
                frames, code = c.frames, c.close_code
                c.close()
            else:  # the start frame in the same write as the upgrade request
                s, rd = raw_connect(g.port, pipelined=client_frame(1, start))
                frames, code = rd.until_close()
                s.close()
            check([f["type"] for f in frames] == ["error"] and frames[0]["code"] == "too_many_sessions"
                  and code == 4503, "attempt %d: %s close %s" % (i, frames, code))
        hold.close()
    finally:
        check(g.stop() == 0, "exit 0")
    # each connection leaves one log line saying how it ended
    closes = [e for e in g.log_lines() if e.get("event") == "session_close"]
    refused = [e for e in closes if e.get("refused") == "too_many_sessions"]
    check(len(refused) == 30 and all(e["close"] == 4503 and e["ran"] is False for e in refused),
          "30 refusals logged: %s" % refused[:3])


def sessions_open(g):
    req = urllib.request.urlopen(g.url + "/metrics", timeout=10)
    for line in req.read().decode().splitlines():
        if line.startswith("codegate_sessions_open"):
            return int(float(line.split()[-1]))
    raise AssertionError("no codegate_sessions_open in /metrics")


def test_churn_of_clients_leaves_nothing_behind():
    """40 clients at once: runs, refusals, clients that vanish mid-frame, mid-run or before
    start, bad frames. Afterwards every session is gone and the gateway still serves."""
    g = Gateway(G.build, EXTRA + ["--sessions-max", "4", "--session-start-ms", "1000"],
                name="sess-churn").start()
    errors = []

    def client(i):
        try:
            kind = i % 5
            if kind == 0:  # a normal run
                c = Session(g, timeout=30)
                c.start("python", "print(%d)" % i)
                while c.next() is not None:
                    pass
                c.close()
            elif kind == 1:  # vanishes while its program runs
                c = Session(g, timeout=30)
                c.start("python", "import time\nprint('x', flush=True)\ntime.sleep(30)")
                time.sleep(0.05 * (i % 7))
                c.ws.sock.close()
            elif kind == 2:  # vanishes half-way through a frame
                s, _ = raw_connect(g.port)
                fr = client_frame(1, json.dumps({"type": "start", "language": "python",
                                                 "code": "print(1)"}).encode())
                s.sendall(fr[:len(fr) // 2])
                s.close()
            elif kind == 3:  # never starts
                c = Session(g, timeout=30)
                while c.next() is not None:
                    pass
                c.close()
            else:  # bad frames, then a close
                s, rd = raw_connect(g.port)
                s.sendall(client_frame(1, b"nope") + client_frame(2, b"\xff") + client_frame(8, b"\x03\xe8"))
                rd.until_close()
                s.close()
        except Exception as e:  # noqa: collected
            errors.append("client %d: %r" % (i, e))
    try:
        ths = [threading.Thread(target=client, args=(i,)) for i in range(40)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(60)
        check(not errors, "clients: %s" % errors[:5])
        deadline = time.time() + 15
        while time.time() < deadline and sessions_open(g) > 0:
            time.sleep(0.2)
        check(sessions_open(g) == 0, "sessions left open: %d" % sessions_open(g))
        c = Session(g)
        c.start("python", "print('after churn')")
        c.exit()
        check(c.out == "after churn\n", "serves afterwards")
        c.close()
    finally:
        rc = g.stop()
    check(rc == 0, "exit 0")
    reports = g.sanitizer_reports()
    check(not reports, "sanitizer reports:\n" + "\n".join(reports[:20]))


def test_shutdown_ends_sessions_with_documented_codes():
    g = Gateway(G.build, EXTRA, name="sess-stop").start()
    rc = None
    try:
        s = Session(g)
        s.start("python", "input()")
        s.until(lambda f: f["type"] == "started", "started")
        w = Session(g)  # connected, no start yet
        time.sleep(0.2)
        g.proc.send_signal(signal.SIGTERM)
        f = s.until(lambda f: f["type"] == "error", "error", limit=30)
        check(f["code"] == "shutting_down", "shutdown error", f)
        ex = s.exit(limit=30)
        check(ex["status"] == "cancelled", "a running program ends cancelled", ex)
        check(s.next() is None and s.close_code == 1001, "close 1001: %s" % s.close_code)
        f = w.until(lambda f: f["type"] == "error", "error", limit=30)
        check(f["code"] == "shutting_down", "a waiting connection too", f)
        check(w.next() is None and w.close_code == 1001, "close 1001: %s" % w.close_code)
        check(not any(x.get("status") == "internal_error" for x in s.frames + w.frames), "no internal_error")
    finally:
        rc = g.stop()
    check(rc == 0, "exit 0")


def test_sessions_take_api_keys():
    """With --api-keys-file a session needs a key: none or a wrong one gets `unauthorized` and
    close 1008 before anything runs; the key in the start frame, or as a bearer header on the
    upgrade, runs the program; a key's concurrent-run quota holds for sessions too."""
    import tempfile
    keys = tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False)
    keys.write("teacher k-teacher-0123456789abcdef\nlimited k-limited-0123456789abcdef concurrent=1\n")
    keys.close()
    g = Gateway(G.build, EXTRA + ["--api-keys-file", keys.name], name="sess-keys").start()
    try:
        for token in (None, "k-wrong-0123456789abcdef"):
            s = Session(g)
            kw = {"token": token} if token else {}
            s.start("python", "print('should not run')", **kw)
            f = s.until(lambda f: f["type"] == "error", "error")
            check(f["code"] == "unauthorized", "refused without a valid key", f)
            check(s.next() is None and s.close_code == 1008, "close 1008: %s" % s.close_code)
            check(not any(x["type"] in ("started", "stdout") for x in s.frames), "nothing ran", s.frames)
        s = Session(g)
        s.start("python", "print(input())", token="k-teacher-0123456789abcdef")
        s.until(lambda f: f["type"] == "started", "started")
        s.send(type="stdin", data="with a key\n")
        ex = s.exit()
        check(ex["status"] == "ok" and s.out == "with a key\n", "the key in the start frame", ex)
        s.close()
        ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % g.port, timeout=20,
                                         header=["Authorization: Bearer k-teacher-0123456789abcdef"])
        b = Session.__new__(Session)
        b.ws, b.frames, b.close_code, b.out, b.err = ws, [], None, "", ""
        b.start("python", "print('bearer')")
        ex = b.exit()
        check(ex["status"] == "ok" and b.out == "bearer\n", "the key as a bearer header", ex)
        b.close()
        # concurrent=1: a second session of the same key while the first runs is refused
        first = Session(g)
        first.start("python", "input()", token="k-limited-0123456789abcdef")
        first.until(lambda f: f["type"] == "started", "started")
        second = Session(g)
        second.start("python", "print(1)", token="k-limited-0123456789abcdef")
        f = second.until(lambda f: f["type"] == "error", "error")
        check(f["code"] == "rate_limited", "the key's concurrent quota", f)
        check(second.next() is None and second.close_code == 4429, "close 4429: %s" % second.close_code)
        first.close()
    finally:
        rc = g.stop()
        os.unlink(keys.name)
    check(rc == 0, "exit 0")


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
                  test_invalid_frames, test_stdin_capped_per_session, test_output_streams_with_backpressure,
                  test_client_frame_masking,
                  test_huge_frame_refused_on_header, test_fragmented_message_over_limit):
            r.run(t, timeout=120)
        if "docker" in EXTRA:
            pass
    finally:
        rc = G.stop()

    def clean_exit():
        check(rc == 0, "gateway exit status %s" % rc)
        reports = G.sanitizer_reports()  # empty unless this is the sanitizer build
        check(not reports, "sanitizer reports:\n" + "\n".join(reports[:20]))
    r.run(clean_exit)
    r.run(test_idle_timeout, timeout=60)
    r.run(test_too_many_sessions, timeout=60)
    r.run(test_idle_connections_without_start_are_dropped, timeout=90)
    r.run(test_idle_input_sessions_leave_batch_capacity, timeout=180)
    r.run(test_refused_session_never_sees_started, timeout=180)
    r.run(test_shutdown_ends_sessions_with_documented_codes, timeout=120)
    r.run(test_sessions_take_api_keys, timeout=120)
    r.run(test_churn_of_clients_leaves_nothing_behind, timeout=180)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
