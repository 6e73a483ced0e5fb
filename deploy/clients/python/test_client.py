#!/usr/bin/env python3
"""End-to-end check of lstmd_client.py against the real lstmd binary.

Starts lstmd on ipc:// endpoints in a temporary directory, streams the BasicMotions TEST samples
with Sender (sample i on stream "bm-<i>", frames of 10 timesteps), listens with Listener and
checks: exactly one label per sample, at the window end (seq 9, 100 timesteps); labels and
probabilities equal to the PyTorch oracle in basicmotions_expected.json within 1e-4; control
status/streams/reset counts; labelled frames counted; SIGTERM ends the daemon with status 0.
Bounded in time (--deadline, 60 s by default). Exit status 0 when every check passes; the last
line is "N passed, N failed".

    swift build && python3 deploy/clients/python/test_client.py
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from lstmd_client import (HEADER, ControlError, Listener, Sender, control, decode_frame, encode_frame,
                          read_ts)

REPO = pathlib.Path(__file__).resolve().parents[3]
PROBABILITY_TOLERANCE = 1e-4
DAEMON: list[subprocess.Popen] = []  # for the hard-timeout handler


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition: bool, what: str, detail: str = "") -> bool:
        if condition:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()
        return condition


def unit_checks(checks: Checks) -> None:
    """The encoder alone: header layout and round trip."""
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    parts = encode_frame("s", 7, values, timestamp_ns=123, label=2)
    checks.check(len(parts) == 3 and len(parts[1]) == 32 and len(parts[2]) == 48, "encode_frame: 3 parts, 32-byte header, T×C×4 payload")
    checks.check(HEADER.unpack(parts[1]) == (1, 1, 3, 4, 7, 123, 2, 0), "encode_frame: header fields", repr(HEADER.unpack(parts[1])))
    stream, header, decoded = decode_frame(parts)
    checks.check(stream == "s" and header["label"] == 2 and np.array_equal(decoded, values), "decode_frame round trip")
    unlabelled = HEADER.unpack(encode_frame(b"s", 0, values)[1])
    checks.check(unlabelled[1] == 0 and unlabelled[6] == -1, "encode_frame: unlabelled flag 0, label -1")
    for what, bad in (("1-D values", np.zeros(3)), ("0 timesteps", np.zeros((0, 3))), ("NaN", np.array([[np.nan]]))):
        try:
            encode_frame("s", 0, bad)
            checks.check(False, f"encode_frame rejects {what}")
        except ValueError:
            checks.check(True, f"encode_frame rejects {what}")


def wait_ready(endpoint: str, process: subprocess.Popen, deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            control(endpoint, "status", timeout=0.5)
            return True
        except TimeoutError:
            continue
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lstmd", default="./.build/debug/lstmd", help="the lstmd binary (default ./.build/debug/lstmd)")
    parser.add_argument("--data", default="Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts")
    parser.add_argument("--expected", default="Tests/LSTMKitTests/Fixtures/basicmotions_expected.json")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds for the whole check (default 60)")
    args = parser.parse_args()
    # Relative defaults work from the repository root or from anywhere else.
    paths = {}
    for key in ("lstmd", "data", "expected"):
        path = pathlib.Path(getattr(args, key))
        paths[key] = path if path.is_absolute() or path.exists() else REPO / path

    # A hard stop in case anything blocks past the deadline: kill the daemon, report, exit 1.
    signal.signal(signal.SIGALRM, hard_timeout)
    signal.alarm(int(args.deadline) + 15)
    checks = Checks()
    deadline = time.monotonic() + args.deadline
    unit_checks(checks)

    expected = json.loads(paths["expected"].read_text())
    classes = expected["classes"]
    samples, labels, file_classes = read_ts(str(paths["data"]))
    checks.check(len(samples) == len(expected["samples"]) and all(s.shape == (100, 6) for s in samples),
                 f"read_ts: {len(samples)} samples of 100 × 6")

    with tempfile.TemporaryDirectory(prefix="lstmd-client-") as directory:
        ingest, publish, ctl = (f"ipc://{directory}/{name}" for name in ("ingest", "labels", "control"))
        log_path = os.path.join(directory, "lstmd.log")
        try:
            with open(log_path, "wb") as log:
                process = subprocess.Popen([str(paths["lstmd"]), "--ingest", ingest, "--publish", publish, "--control", ctl],
                                           stdout=log, stderr=subprocess.STDOUT)
        except OSError as error:
            checks.check(False, f"start {paths['lstmd']}", f"{error} (build it with `swift build`)")
            print(f"{checks.passed} passed, {checks.failed} failed")
            return 1
        DAEMON.append(process)
        try:
            run_daemon_checks(checks, process, ingest, publish, ctl, samples, labels, file_classes, expected, classes, deadline)
        except Exception as error:  # noqa: BLE001 - any escape is a failed check, then cleanup
            checks.check(False, "no unexpected exception", f"{type(error).__name__}: {error}")
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=max(5.0, deadline - time.monotonic()))
                checks.check(code == 0, "SIGTERM: lstmd exits with status 0", f"status {code}")
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                checks.check(False, "SIGTERM: lstmd exits in time")
            if checks.failed:
                print("--- lstmd log ---")
                print(pathlib.Path(log_path).read_text(errors="replace")[-4000:])

    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


def run_daemon_checks(checks, process, ingest, publish, ctl, samples, labels, file_classes, expected, classes, deadline):
    if not checks.check(wait_ready(ctl, process, min(deadline, time.monotonic() + 20)), "lstmd answers status"):
        return
    status = control(ctl, "status")
    model = status["model"]
    checks.check(model["classes"] == classes and model["window"] == 100 and model["hop"] == 10,
                 "default model: BasicMotions classes, window 100, hop 10", repr(model))

    with Listener(publish, prefix="bm-") as listener, Sender(ingest) as sender:
        # PUB/SUB drops what is published before the subscription arrives: send a probe sample
        # until its label comes back, so the measured run starts with a live subscription.
        probes = 0
        while time.monotonic() < deadline:
            sender.send_series(f"bm-probe-{probes}", samples[0], frame=10)
            probes += 1
            if listener.receive(timeout=1.0) is not None:
                break
        if not checks.check(probes > 0 and time.monotonic() < deadline, "subscription live (probe label received)"):
            return
        time.sleep(0.2)
        while listener.receive(timeout=0.0) is not None:
            pass

        frames = 0
        for index, values in enumerate(samples):
            frames += sender.send_series(f"bm-{index}", values, frame=10)
        checks.check(frames == 10 * len(samples), f"sent {frames} frames of 10 timesteps")

        received: dict[str, list[dict]] = {}
        while sum(len(v) for v in received.values()) < len(samples) and time.monotonic() < deadline:
            label = listener.receive(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if label is not None:
                received.setdefault(label["stream"], []).append(label)
        # Anything more (a second label for some stream) would arrive right behind.
        while (label := listener.receive(timeout=0.5)) is not None:
            received.setdefault(label["stream"], []).append(label)

    missing = [i for i in range(len(samples)) if f"bm-{i}" not in received]
    checks.check(not missing, f"a label for each of the {len(samples)} sample streams", f"missing {missing}")
    extra = {k: len(v) for k, v in received.items() if len(v) != 1}
    checks.check(not extra, "exactly one label per sample stream", repr(extra))
    at_window_end = [k for k, v in received.items() if v[0]["seq"] != 9 or v[0]["timesteps"] != 100]
    checks.check(not at_window_end, "labels at the window end (seq 9, 100 timesteps)", repr(at_window_end[:5]))
    wrong_label, worst = [], 0.0
    for index, sample in enumerate(expected["samples"]):
        got = received.get(f"bm-{index}", [None])[0]
        if got is None:
            continue
        if got["label"] != classes[sample["predicted"]] or got["class_index"] != sample["predicted"]:
            wrong_label.append(index)
        error = max(abs(got["probabilities"][name] - p) for name, p in zip(classes, sample["probabilities"]))
        worst = max(worst, error)
    checks.check(not wrong_label, "labels equal the PyTorch oracle's", f"samples {wrong_label}")
    checks.check(worst <= PROBABILITY_TOLERANCE, f"probabilities within {PROBABILITY_TOLERANCE:g} of the oracle (max error {worst:.2e})")
    versions = {v[0]["model_version"] for v in received.values()}
    checks.check(versions == {model["version"]}, "labels carry the status model version", repr(versions))

    status = control(ctl, "status", timeout=10)
    counters = status["counters"]
    checks.check(counters["frames"] == frames + 10 * probes, "status counts every frame",
                 f"{counters['frames']} != {frames} + {10 * probes} probe frames")
    checks.check(counters["timesteps"] == 10 * counters["frames"], "status counts every timestep")
    checks.check(counters["labels"] == len(samples) + probes, "status counts every label", repr(counters))
    checks.check(counters["dropped"] == 0, "no frame dropped", repr(status["drops"]))
    checks.check(status["streams"]["active"] == len(samples) + probes, "status: one active stream per sample",
                 repr(status["streams"]))

    streams = control(ctl, "streams", limit=1000)["streams"]
    sample_streams = [s for s in streams if s["id"].startswith("bm-") and not s["id"].startswith("bm-probe")]
    checks.check(len(sample_streams) == len(samples) and all(s["frames"] == 10 and s["labels"] == 1 and s["last_sequence"] == 9 for s in sample_streams),
                 "streams: 10 frames, 1 label, last sequence 9 each")
    checks.check(control(ctl, "reset", stream="bm-0")["stream"] == "bm-0", "reset of a known stream")
    try:
        control(ctl, "reset", stream="no-such-stream")
        checks.check(False, "reset of an unknown stream raises ControlError")
    except ControlError as error:
        checks.check(error.reply.get("ok") is False and "error" in error.reply, "reset of an unknown stream raises ControlError")

    # Labelled frames: class index in the model's order.
    with Sender(ingest) as sender:
        index = classes.index(labels[0]) if labels[0] in classes else 0
        labelled = sender.send_series("labelled-0", samples[0], frame=10, label=index)
    before = counters["labelled_frames"]
    after = before
    while time.monotonic() < deadline and after < before + labelled:
        after = control(ctl, "status", timeout=10)["counters"]["labelled_frames"]
        if after < before + labelled:
            time.sleep(0.1)
    checks.check(after == before + labelled, f"status counts {labelled} labelled frames", f"{after - before}")

    try:
        control("ipc:///nonexistent/lstmd-control", "status", timeout=0.3)
        checks.check(False, "control without a daemon raises TimeoutError")
    except TimeoutError:
        checks.check(True, "control without a daemon raises TimeoutError")


def hard_timeout(*_) -> None:
    for process in DAEMON:
        if process.poll() is None:
            process.kill()
    print("hard timeout: the check did not finish in time")
    print("0 passed, 1 failed", flush=True)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
