import json, os
r = {"env": dict(os.environ), "self": open("/proc/self/environ", "rb").read().decode("utf-8", "replace").split("\0")}
pp = os.getppid()
r["readable"] = {}
# The launcher is the first process of the run's own pid namespace (pp == 1); the executor is
# outside it and has no pid here at all.
for name, pid in (("parent", pp), ("init", 1)):
    try:
        r["readable"][name] = open("/proc/%d/environ" % pid, "rb").read().decode("utf-8", "replace")
    except OSError as e:
        r["readable"][name] = e.errno
leaks = []
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != os.getpid():
        try:
            t = open("/proc/%s/environ" % p, "rb").read()
        except OSError:
            continue
        if b"EXECUTOR" in t or b"TOKEN" in t or b"CODEGATE" in t:
            leaks.append(p)
r["leaks"] = leaks
print(json.dumps(r))
