import os, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
print("CWD=" + os.getcwd(), file=sys.stderr)
n = 0
chunk = b"\0" * (1 << 20)
with open("big.bin", "wb", buffering=0) as f:
    try:
        while n < (200 << 20):
            n += f.write(chunk)
        print("wrote", n)
    except OSError as e:
        print("stopped", n, e.errno)
