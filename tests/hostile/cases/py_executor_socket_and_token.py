import json, os, socket, sys
res = {}
for p in sys.argv[3:]:
    if p.endswith(".sock"):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(p); res[p] = "connected"
        except OSError as e:
            res[p] = e.strerror
        s.close()
    elif p.endswith(".token"):
        try:
            res[p] = "read: " + open(p).read()
        except OSError as e:
            res[p] = e.strerror
    else:
        try:
            res[p] = "listed: %s" % os.listdir(p)
        except OSError as e:
            res[p] = e.strerror
def upgrade(auth):
    try:
        s = socket.create_connection(("127.0.0.1", 8765), timeout=2)
    except OSError as e:
        return "no connection: " + e.strerror
    req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: codegate-exec.v1\r\n" + auth + "\r\n")
    try:
        s.sendall(req.encode())
        s.settimeout(2)
        line = s.recv(4096).split(b"\r\n")[0].decode("latin-1")
    except OSError as e:
        line = "error: %s" % e
    s.close()
    return "answered: " + (line or "(closed)")
res["ws_no_token"] = upgrade("")
res["ws_bad_token"] = upgrade("Authorization: Bearer " + "0" * 64 + "\r\n")
print(json.dumps(res))
