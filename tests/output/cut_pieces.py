# Reassembles cut lines written without --label (issue 23 B.6): a piece ending with
# " [hgrid: line of rank N continues]" goes on in the next line that starts with
# "[hgrid: rank N continues] ". Rank r's program writes one line of LEN bytes of
# chr(ord('a') + r). Prints "whole W of N, tagged T" (lines of one letter and of LEN;
# continuation pieces seen).
import re
import sys

path, n, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mark = re.compile(r" \[hgrid: line of rank (\d+) continues\]$")
tag = re.compile(r"^\[hgrid: rank (\d+) continues\] ")
lines, open_, tagged = [], {}, 0
for line in open(path, "rb").read().decode("ascii", "replace").split("\n")[:-1]:
    t = tag.match(line)
    if t:
        tagged += 1
        line = line[t.end():]
    m = mark.search(line)
    if m:
        line = line[: m.start()]
    if t and int(t.group(1)) in open_:
        idx = open_.pop(int(t.group(1)))
        lines[idx] += line
    else:
        lines.append(line)
        idx = len(lines) - 1
    if m:
        open_[int(m.group(1))] = idx
whole = sum(1 for l in lines if len(l) == length and len(set(l)) == 1)
print(f"whole {whole} of {n}, tagged {tagged}")
