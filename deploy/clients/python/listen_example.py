#!/usr/bin/env python3
"""Prints the labels lstmd publishes, one line each (stream, label, probability, seq).

    python3 deploy/clients/python/listen_example.py --count 40 --timeout 10
"""

import argparse
import json
import sys

from lstmd_client import Listener


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="lstmd label (PUB) endpoint")
    parser.add_argument("--prefix", default="", help="only streams whose id starts with this")
    parser.add_argument("--count", type=int, default=None, help="exit after N labels")
    parser.add_argument("--timeout", type=float, default=None, help="exit after S seconds without a label")
    parser.add_argument("--json", action="store_true", help="print each label object as JSON")
    args = parser.parse_args()

    received = 0
    with Listener(args.endpoint, args.prefix, timeout=args.timeout) as listener:
        for label in listener:
            if args.json:
                print(json.dumps(label), flush=True)
            else:
                name = label["label"]
                print(f"{label['stream']}\t{name}\t{label['probabilities'][name]:.4f}\tseq {label['seq']}", flush=True)
            received += 1
            if args.count is not None and received >= args.count:
                break
    if args.count is not None and received < args.count:
        print(f"timed out: {received} of {args.count} labels", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
