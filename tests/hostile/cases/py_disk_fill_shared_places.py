import os, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
m = sys.argv[1]
chunk = b"\0" * (1 << 20)
res = {}
for d in ("/tmp", "/var/tmp", "/dev/shm"):
    p = "%s/%s-fill" % (d, m)
    n = 0
    try:
        with open(p, "wb", buffering=0) as f:
            while n < (64 << 20):
                n += f.write(chunk)
        res[d] = n
    except OSError as e:
        res[d] = "stopped at %d: %s" % (n, e.strerror)
    try:
        t = "%s/%s-tree" % (d, m)
        os.makedirs(t + "/a/b/c")
        open(t + "/a/b/c/f", "w").write("x")
        os.chmod(t + "/a/b", 0)
        os.chmod(t, 0)
    except OSError as e:
        res[d + " tree"] = e.strerror
print(res)
