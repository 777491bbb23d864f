# Runs the command, reading its stdout as it comes: prints the seconds from the arrival
# of "start\n" to that of the first byte after it (a bar's first redraw), then saves
# every byte to OUT. Usage: first_redraw.py OUT CMD...
import os
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
data, t_start, t_first = b"", None, None
while True:
    b = os.read(p.stdout.fileno(), 65536)
    if not b:
        break
    now = time.monotonic()
    data += b
    i = data.find(b"start\n")
    if t_start is None and i >= 0:
        t_start = now
    if t_start is not None and t_first is None and len(data) > data.find(b"start\n") + 6:
        t_first = now
p.wait()
open(out, "wb").write(data)
print("%.2f" % (t_first - t_start) if t_start is not None and t_first is not None else "never")
