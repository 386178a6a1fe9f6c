import os, sys
m = sys.argv[1]
print("CWD=" + os.getcwd(), file=sys.stderr)
os.mkdir("many")
for i in range(8000):
    open("many/%d" % i, "w").close()
os.mkdir("/tmp/%s-many" % m)
for i in range(2000):
    open("/tmp/%s-many/%d" % (m, i), "w").close()
print("made")
