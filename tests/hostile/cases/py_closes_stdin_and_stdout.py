import os, sys, time
os.close(0)
os.close(1)
sys.stderr.write('closed\n')
time.sleep(0.3)
