import os, sys
cwd = os.getcwd()
mine = (cwd, "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
found = []
for top in os.listdir("/"):
    if top in ("proc", "sys"):
        continue
    for d, dirs, files in os.walk("/" + top):
        if any(d == m or d.startswith(m + "/") for m in mine):
            dirs[:] = []
            continue
        try:  # can a file be made here? (mode bits alone say little on devpts or read-only mounts)
            fd = os.open(os.path.join(d, ".w-" + sys.argv[1]), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            os.unlink(os.path.join(d, ".w-" + sys.argv[1]))
            found.append(d)
        except OSError:
            pass
        dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(d, x))][:200]
        if len(found) > 20:
            break
print("writable", sorted(found))
print("visible", [p for p in sys.argv[2:] if os.path.exists(p)])
