# Prints N lines "RANK:I:DDD...D" (WIDTH copies of the rank's last digit) to stdout,
# in big unflushed writes, so many ranks' streams race (tests/launch_test.sh).
import os
import sys

rank = int(os.environ["RANK"])
n, width = int(sys.argv[1]), int(sys.argv[2])
body = str(rank % 10) * width
sys.stdout.write("".join(f"{rank}:{i}:{body}\n" for i in range(n)))
