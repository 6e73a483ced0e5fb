#!/usr/bin/env python3
"""Streams every sample of a .ts file (BasicMotions by default) to lstmd.

Sample i goes out on stream "demo-<run>-<i>" as frames of 10 timesteps (sequence 0, 1, …), where
<run> is this run's start time: a stream's sequence numbers must grow, so a second run on the same
ids would be dropped as out of order (lstmd keeps a stream for its idle timeout). With the
default model (window 100, hop 10) each 100-step BasicMotions sample yields exactly one label;
run listen_example.py first to see them.

    python3 deploy/clients/python/listen_example.py --count 40 --timeout 10 &
    python3 deploy/clients/python/send_example.py
"""

import argparse
import pathlib
import sys
import time

from lstmd_client import Sender, read_ts

REPO = pathlib.Path(__file__).resolve().parents[3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="lstmd ingest (PULL) endpoint")
    parser.add_argument("--data", default=str(REPO / "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"),
                        help="a .ts file (default: BasicMotions TEST)")
    parser.add_argument("--frame", type=int, default=10, help="timesteps per frame (default 10)")
    parser.add_argument("--rate", type=float, default=None, help="frames per second (default: unlimited)")
    parser.add_argument("--prefix", default=f"demo-{int(time.time())}-",
                        help="stream id prefix (default demo-<unix time>-, new streams each run)")
    args = parser.parse_args()

    samples, labels, _ = read_ts(args.data)
    frames = 0
    started = time.monotonic()
    with Sender(args.endpoint) as sender:
        for index, values in enumerate(samples):
            for start in range(0, len(values), args.frame):
                if args.rate:
                    # Absolute schedule on a monotonic clock: no drift.
                    delay = started + frames / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                sender.send(f"{args.prefix}{index}", values[start:start + args.frame])
                frames += 1
    print(f"sent {len(samples)} samples as {frames} frames in {time.monotonic() - started:.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
