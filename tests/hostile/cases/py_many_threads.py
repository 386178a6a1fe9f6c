import threading, time
n = 0
try:
    for i in range(10000):
        t = threading.Thread(target=time.sleep, args=(2,), daemon=True)
        t.start()
        n += 1
    print("all", n)
except RuntimeError:
    print("stopped", n)
