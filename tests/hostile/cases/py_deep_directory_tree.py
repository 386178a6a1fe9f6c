import os, sys
m = sys.argv[1]
print("CWD=" + os.getcwd(), file=sys.stderr)
home = os.getcwd()
for top in (home, "/tmp"):
    os.chdir(top)
    os.mkdir(m + "-deep")
    os.chdir(m + "-deep")
    for i in range(1000):
        os.mkdir("d")
        os.chdir("d")
    open("bottom", "w").write("x")
print("deep trees made")
