import ctypes, os, sys
m, key = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(key, 1 << 20, 0o1000 | 0o666)
addr = libc.shmat(shm, None, 0)
ctypes.memmove(addr, m.encode(), len(m))
msq = libc.msgget(key, 0o1000 | 0o666)
sem = libc.semget(key, 1, 0o1000 | 0o666)
priv = libc.shmget(0, 1 << 16, 0o1000 | 0o600)
with open("/dev/shm/%s-posix" % m, "w") as f:
    f.write(m)
os.chmod("/dev/shm/%s-posix" % m, 0o666)
print("ids", shm, msq, sem, priv)
