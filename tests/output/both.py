# Writes N lines of WIDTH bytes to stdout and N to stderr, alternating, each flushed:
# "OUT-RANK-I-ooo...-END" and "ERR-RANK-I-eee...-END" (issue 23 B.4).
import os
import sys

n, width = int(sys.argv[1]), int(sys.argv[2])
r = os.environ["RANK"]
for i in range(n):
    sys.stdout.write(f"OUT-{r}-{i}-{'o' * width}-END\n")
    sys.stdout.flush()
    sys.stderr.write(f"ERR-{r}-{i}-{'e' * width}-END\n")
    sys.stderr.flush()
