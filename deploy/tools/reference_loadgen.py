#!/usr/bin/env python3
"""A quick pyzmq load generator for lstmd or deploy/tools/reference_daemon.py (same wire protocol).

    python3 deploy/tools/reference_loadgen.py [--ingest tcp://127.0.0.1:5555] \
        [--control tcp://127.0.0.1:5557] [--publish tcp://127.0.0.1:5556] \
        [--streams 100] [--frame 1] [--seconds 3] [--rate 0] [--channels 6] [--json]

Pushes frames round-robin over `--streams` streams (ids "<prefix><n>", sequence numbers from 0,
timestamp_ns = time.time_ns() at send, random payloads), either as fast as possible (`--rate 0`)
or at `--rate` frames/s in total. After `--warmup` seconds it reads the daemon's status counters,
again `--seconds` later, and prints the sustained rate from the counter deltas (what the daemon
processed, not what was sent). With `--rate 0` the sender stays at most `--max-backlog` frames
ahead of what the daemon has counted, so the queue (and the drain at the end) stays bounded.

With `--publish`, it also subscribes to the labels of its own streams and prints frame-to-label
latency percentiles (p50/p99/p99.9) over the labels received during the measured window, computed
as receive time.time_ns() - the label's timestamp_ns. Meaningful with a `--rate` the daemon can
sustain; at `--rate 0` it mostly measures the queue.

Loopback-only by intent; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import threading
import time

import numpy as np
import zmq

HEADER = struct.Struct("<BBHIQqiI")


class StatusReader:
    """REQ client for {"command": "status"} with a timeout (recreates the socket on timeout)."""

    def __init__(self, ctx, endpoint, timeout_ms=5000):
        self.ctx, self.endpoint, self.timeout_ms = ctx, endpoint, timeout_ms
        self.sock = None

    def _open(self):
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self.sock.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        self.sock.connect(self.endpoint)

    def read(self):
        """Returns (monotonic time of the reply, counters dict) or None."""
        if self.sock is None:
            self._open()
        try:
            self.sock.send(b'{"command":"status"}')
            reply = json.loads(self.sock.recv())
        except zmq.Again:
            self.sock.close(0)
            self.sock = None
            return None
        now = time.monotonic()
        c = reply.get("counters", {})
        return now, {k: int(c.get(k, 0)) for k in ("frames", "timesteps", "labels", "dropped")}

    def close(self):
        if self.sock is not None:
            self.sock.close(0)


class Sender(threading.Thread):
    def __init__(self, ctx, args, prefix):
        super().__init__(daemon=True)
        self.args = args
        self.ids = [f"{prefix}{i}".encode() for i in range(args.streams)]
        self.sock = ctx.socket(zmq.PUSH)
        self.sock.setsockopt(zmq.SNDHWM, args.sndhwm)
        self.sock.setsockopt(zmq.SNDTIMEO, 100)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(args.ingest)
        rng = np.random.default_rng(args.seed)
        # A few pre-made payloads, reused: the generator must not be the bottleneck.
        self.payloads = [rng.standard_normal((args.frame, args.channels)).astype("<f4").tobytes()
                         for _ in range(16)]
        self.sent = 0
        self.allowed = None  # with --rate 0: the most frames that may be sent (backlog bound)
        self.stop = threading.Event()

    def run(self):
        a = self.args
        ids, payloads = self.ids, self.payloads
        n_ids, n_pay = len(ids), len(payloads)
        pack = HEADER.pack
        send = self.sock.send
        SNDMORE = zmq.SNDMORE
        t0 = time.monotonic()
        seq = 0  # per-stream sequence: frame k goes to stream k % n with seq k // n
        k = 0
        while not self.stop.is_set():
            if a.rate > 0:
                target = int((time.monotonic() - t0) * a.rate)
                if k >= target:
                    time.sleep(0.0005)
                    continue
                burst = min(target - k, 1000)
            else:
                allowed = self.allowed
                burst = 1000 if allowed is None else min(1000, allowed - k)
                if burst <= 0:
                    time.sleep(0.0005)
                    continue
            for _ in range(burst):
                i = k % n_ids
                seq = k // n_ids
                header = pack(1, 0, a.channels, a.frame, seq, time.time_ns(), -1, 0)
                try:
                    send(ids[i], SNDMORE)
                except zmq.Again:
                    break  # queue full: retry this frame (the first part was not taken)
                send(header, SNDMORE)
                send(payloads[k % n_pay])
                k += 1
            self.sent = k
        self.sock.close(0)


class Subscriber(threading.Thread):
    def __init__(self, ctx, endpoint, prefix):
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 1_000_000)
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.sock.connect(endpoint)
        self.stop = threading.Event()
        self.recording = False
        self.latencies = []
        self.received = 0

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        key = b'"timestamp_ns":'
        while not self.stop.is_set():
            if not poller.poll(100):
                continue
            while True:
                try:
                    parts = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                now = time.time_ns()
                self.received += 1
                if not self.recording or len(parts) != 2:
                    continue
                body = parts[1]
                i = body.find(key)
                if i < 0:
                    continue
                i += len(key)
                j = i
                while j < len(body) and body[j] in b"-0123456789":
                    j += 1
                self.latencies.append(now - int(body[i:j]))
        self.sock.close(0)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[idx]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ingest", default="tcp://127.0.0.1:5555")
    p.add_argument("--control", default="tcp://127.0.0.1:5557")
    p.add_argument("--publish", default=None, help="subscribe to labels here and report latency")
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--frame", type=int, default=1, help="timesteps per frame")
    p.add_argument("--seconds", type=float, default=3.0, help="measured window")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of load before the window")
    p.add_argument("--rate", type=float, default=0.0, help="frames/s in total (0 = as fast as possible)")
    p.add_argument("--channels", type=int, default=6)
    p.add_argument("--max-backlog", type=int, default=0,
                   help="with --rate 0: frames sent but not yet counted by the daemon, at most "
                        "(default 0 = auto: 0.5 s of the daemon's observed rate, at least 2 per stream)")
    p.add_argument("--drain-timeout", type=float, default=15.0, help="seconds to wait for the daemon to catch up")
    p.add_argument("--sndhwm", type=int, default=10_000)
    p.add_argument("--prefix", default=None, help="stream id prefix (default: lg<pid>-<time>-)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.streams < 1 or a.frame < 1 or a.seconds <= 0:
        p.error("--streams, --frame and --seconds must be positive")
    prefix = a.prefix if a.prefix is not None else f"lg{os.getpid()}-{int(time.time()) % 100000}-"

    ctx = zmq.Context()
    status = StatusReader(ctx, a.control)
    first = status.read()
    if first is None:
        print(f"no status reply from {a.control}", file=sys.stderr)
        status.close()
        ctx.term()
        return 2
    base_frames = first[1]["frames"] + first[1]["dropped"]

    sub = None
    if a.publish:
        sub = Subscriber(ctx, a.publish, prefix)
        sub.start()
        time.sleep(0.3)  # let the subscription reach the publisher
    sender = Sender(ctx, a, prefix)
    floor = max(100, 2 * a.streams)  # auto backlog: never below two frames per stream
    if a.rate <= 0:
        sender.allowed = a.max_backlog or floor
    sender.start()
    t_sender = time.monotonic()

    def poll_status():
        s = status.read()
        if s is not None and a.rate <= 0:
            handled = s[1]["frames"] + s[1]["dropped"] - base_frames
            backlog = a.max_backlog
            if backlog <= 0:
                backlog = max(floor, int(0.5 * handled / max(1e-3, s[0] - t_sender)))
            sender.allowed = handled + backlog
        return s

    t_start = time.monotonic()
    start = end = None
    sent_at_start = sent_at_end = 0
    while True:
        now = time.monotonic()
        if start is None and now >= t_start + a.warmup:
            start = poll_status()
            sent_at_start = sender.sent
            if sub is not None:
                sub.recording = True
        elif start is not None and now >= start[0] + a.seconds:
            end = poll_status()
            sent_at_end = sender.sent
            if end is not None or now >= start[0] + a.seconds + 15:
                break
        else:
            poll_status()
        time.sleep(0.05)
    if sub is not None:
        sub.recording = False
    sender.stop.set()
    sender.join(2.0)
    total_sent = sender.sent

    # Let the daemon catch up (bounded), so the next run starts on an empty queue.
    drained = False
    deadline = time.monotonic() + a.drain_timeout
    while time.monotonic() < deadline:
        s = status.read()
        if s is not None and s[1]["frames"] + s[1]["dropped"] - base_frames >= total_sent:
            drained = True
            break
        time.sleep(0.05)
    if sub is not None:
        time.sleep(0.2)
        sub.stop.set()
        sub.join(2.0)
    status.close()
    ctx.term()

    result = {"streams": a.streams, "frame": a.frame, "rate": a.rate, "channels": a.channels,
              "sent_frames": total_sent, "drained": drained}
    if start is None or end is None:
        print("status reads failed during the run", file=sys.stderr)
        return 2
    dt = end[0] - start[0]
    d = {k: end[1][k] - start[1][k] for k in end[1]}
    result.update({
        "seconds": dt,
        "timesteps_per_s": d["timesteps"] / dt,
        "frames_per_s": d["frames"] / dt,
        "labels_per_s": d["labels"] / dt,
        "sent_frames_per_s": (sent_at_end - sent_at_start) / dt,
        "dropped": d["dropped"],
    })
    if sub is not None:
        lat = sorted(sub.latencies)
        result["latency_ms"] = {"count": len(lat), "p50": percentile(lat, 50) / 1e6,
                                "p99": percentile(lat, 99) / 1e6, "p99.9": percentile(lat, 99.9) / 1e6}
    if a.json:
        print(json.dumps(result))
    else:
        rate = "unlimited" if a.rate <= 0 else f"{a.rate:g} frames/s"
        print(f"streams {a.streams}, frame {a.frame} timesteps, rate {rate}, window {dt:.2f} s")
        print(f"sustained {result['timesteps_per_s']:,.0f} timesteps/s "
              f"({result['frames_per_s']:,.0f} frames/s, {result['labels_per_s']:,.0f} labels/s; "
              f"sent {result['sent_frames_per_s']:,.0f} frames/s, dropped {d['dropped']})")
        if sub is not None:
            L = result["latency_ms"]
            print(f"frame-to-label latency over {L['count']} labels: p50 {L['p50']:.3f} ms, "
                  f"p99 {L['p99']:.3f} ms, p99.9 {L['p99.9']:.3f} ms")
        if not drained:
            print(f"warning: the daemon had not caught up {a.drain_timeout:g} s after the run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
