import ctypes, json, os, stat, sys
m = sys.argv[1][::-1]
lo, hi, wd, key = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
me = os.getuid()
anc = {os.getpid(), os.getppid()}
def slot(u):  # any slot uid, our own included: our slot may be the hostile run's slot
    return lo <= u < hi
r = {"uid": me, "cwd": os.getcwd(), "env": dict(os.environ), "files": [], "procs": [],
     "ipc": [], "workdir": False, "passwd": None}
def walk(d, depth):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names[:3000]:
        p = os.path.join(d, n)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if m in n or slot(st.st_uid):
            r["files"].append("%s (uid %d)" % (p, st.st_uid))
        elif depth < 2 and stat.S_ISDIR(st.st_mode):
            walk(p, depth + 1)
for top in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"):
    walk(top, 0)
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) in anc:
        continue
    try:
        with open("/proc/%s/status" % p) as f:
            uids = [int(x) for x in [l for l in f if l.startswith("Uid:")][0].split()[1:]]
        with open("/proc/%s/cmdline" % p, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, IndexError, ValueError):
        continue
    if any(slot(u) for u in uids) or m in cmd:
        r["procs"].append("pid %s uid %s: %s" % (p, uids[0], cmd[:160]))
for kind, (cu, cc) in {"shm": (7, 9), "msg": (7, 9), "sem": (4, 6)}.items():
    try:
        with open("/proc/sysvipc/" + kind) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        continue
    for l in lines:
        v = l.split()
        if int(v[0]) == key or slot(int(v[cu])) or slot(int(v[cc])):
            r["ipc"].append("%s: %s" % (kind, " ".join(v[:10])))
libc = ctypes.CDLL(None, use_errno=True)
if libc.shmget(key, 0, 0) != -1: r["ipc"].append("shmget(key) finds a segment")
if libc.msgget(key, 0) != -1: r["ipc"].append("msgget(key) finds a queue")
if libc.semget(key, 0, 0) != -1: r["ipc"].append("semget(key) finds a set")
r["workdir"] = wd != "-" and os.path.lexists(wd)
h = 0x811c9dc5
with open("/etc/passwd", "rb") as f:
    for b in f.read():
        h = ((h ^ b) * 0x01000193) & 0xffffffff
r["passwd"] = "%08x" % h
print(json.dumps(r))
