# A tqdm-style bar: "start", then REDRAWS redraws "\r%3d%%" every 0.1 s, then a newline.
import sys
import time

n = int(sys.argv[1])
sys.stdout.write("start\n")
sys.stdout.flush()
for i in range(n):
    sys.stdout.write("\r%3d%%" % i)
    sys.stdout.flush()
    time.sleep(0.1)
sys.stdout.write("\n")
