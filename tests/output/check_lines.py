# Checks lines.py's output as it reached the user: every line whole and, labelled,
# under its own rank's label; every rank's N lines there. Prints
# "malformed M, misplaced P, complete yes|no".
import re
import sys

path, world, n, width, labelled = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
# Bounded rank and index: a spliced line must not make int() choke on its digits.
line_re = re.compile(r"^(?:\[(\d{1,9}) [\w.-]+\] )?(\d{1,9}):(\d{1,9}):(\d+)$")
malformed = misplaced = 0
seen = {}
for line in open(path, "rb").read().decode("ascii", "replace").split("\n")[:-1]:
    m = line_re.match(line)
    if not m or (m.group(1) is not None) != labelled or m.group(4) != str(int(m.group(2)) % 10) * width:
        malformed += 1
        continue
    if labelled and m.group(1) != m.group(2):
        misplaced += 1
        continue
    seen.setdefault(int(m.group(2)), set()).add(int(m.group(3)))
complete = all(seen.get(r, set()) == set(range(n)) for r in range(world))
print(f"malformed {malformed}, misplaced {misplaced}, complete {'yes' if complete else 'no'}")
