import time
time.sleep(0.2)
print('done')
