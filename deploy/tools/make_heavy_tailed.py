#!/usr/bin/env python3
"""Writes a synthetic UCR-style .ts data set that the default recipe cannot learn with a global
scaler: long univariate series (300-1200 timesteps) whose class is the number of sine periods
(1, 2 or 3), each sample multiplied by a log-uniform amplitude in 10^[-3, 2] and shifted by an
offset of the same scale. Used to measure `--normalize per-sample --downsample auto`
(README, "Training"). Usage: make_heavy_tailed.py OUT_PREFIX [TRAIN_SAMPLES TEST_SAMPLES SEED]
writes OUT_PREFIX_TRAIN.ts and OUT_PREFIX_TEST.ts."""
import math
import random
import sys


def write(path, count, rng):
    names = ["one", "two", "three"]
    with open(path, "w") as out:
        out.write("@problemName HeavyTailedSines\n@timeStamps false\n@missing false\n@univariate true\n"
                  "@equalLength false\n@classLabel true one two three\n@data\n")
        for index in range(count):
            label = index % 3
            length = rng.randint(300, 1200)
            amplitude = 10 ** rng.uniform(-3, 2)
            offset = amplitude * rng.gauss(0, 1)
            phase = rng.uniform(0, 2 * math.pi)
            values = [offset + amplitude * (math.sin((label + 1) * 2 * math.pi * t / length + phase) + 0.1 * rng.gauss(0, 1))
                      for t in range(length)]
            out.write(",".join(f"{v:.6g}" for v in values) + f":{names[label]}\n")


def main():
    prefix = sys.argv[1]
    train, test, seed = (int(a) for a in (sys.argv[2:5] + ["90", "90", "1"][len(sys.argv[2:5]):]))
    rng = random.Random(seed)
    write(prefix + "_TRAIN.ts", train, rng)
    write(prefix + "_TEST.ts", test, rng)


if __name__ == "__main__":
    main()
