# Checks both.py's output read from one pipe: prints "spliced S, lines L".
import re
import sys

path, width = sys.argv[1], int(sys.argv[2])
ok = re.compile(r"^(?:OUT-\d+-\d+-o{%d}|ERR-\d+-\d+-e{%d})-END$" % (width, width))
spliced = lines = 0
for line in open(path, "rb").read().decode("ascii", "replace").split("\n")[:-1]:
    if line.startswith("OUT-") or line.startswith("ERR-") or "-END" in line:
        lines += 1
        spliced += not ok.match(line)
print(f"spliced {spliced}, lines {lines}")
