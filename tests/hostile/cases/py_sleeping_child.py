import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', sys.argv[1]])
print('parent done')
