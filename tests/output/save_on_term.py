# A workload that saves on SIGTERM while it logs (tests/launch_test.sh): the handler
# prints LINES lines of about 120 bytes, sleeps 1.5 s, writes DIR/saved.RANK and prints
# "rank R SAVED". Ready ranks touch DIR/running.RANK; FAIL_RANK exits 9 after 1 s.
import os
import signal
import sys
import time

rank = os.environ["RANK"]
out = os.environ["SAVE_DIR"]
lines = int(os.environ.get("SAVE_LINES", "300"))


def on_term(sig, frame):
    for i in range(lines):
        print(f"rank {rank} saving line {i:04d} " + "x" * 96, flush=True)
    time.sleep(1.5)
    with open(os.path.join(out, f"saved.{rank}"), "w") as f:
        f.write("ok\n")
    print(f"rank {rank} SAVED", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
if os.environ.get("FAIL_RANK") == rank:
    time.sleep(1.0)
    os._exit(9)
open(os.path.join(out, f"running.{rank}"), "w").close()
while True:
    time.sleep(0.1)
