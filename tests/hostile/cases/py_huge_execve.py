import os
res = []
try:
    os.execv("/bin/true", ["true"] + ["A" * 100000] * 300)
except OSError as e:
    res.append(e.errno)
try:
    os.execve("/bin/true", ["true"], {"K%d" % i: "V" * 1000 for i in range(40000)})
except OSError as e:
    res.append(e.errno)
try:
    os.execv("/bin/true", ["true", "B" * 200000])
except OSError as e:
    res.append(e.errno)
print(res)
