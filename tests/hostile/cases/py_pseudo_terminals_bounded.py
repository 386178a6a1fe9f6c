import os
fds = []
try:
    for i in range(64):
        fds.append(os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY))
except OSError as e:
    print('stopped', e.errno)
print('opened', len(fds))
