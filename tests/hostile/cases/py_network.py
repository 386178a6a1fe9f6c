import json, socket, sys, threading
res = {}
def go(t):
    h, p = t.rsplit(":", 1)
    try:
        s = socket.create_connection((h, int(p)), timeout=1.5)
        res[t] = "connected"
        s.close()
    except OSError as e:
        res[t] = type(e).__name__ + ": " + str(e)
threading.stack_size(1 << 20)  # one thread per target: small stacks (the default is RLIMIT_STACK, 8 MiB)
ths = [threading.Thread(target=go, args=(t,)) for t in sys.argv[3:]]
for th in ths: th.start()
for th in ths: th.join()
print(json.dumps(res))
