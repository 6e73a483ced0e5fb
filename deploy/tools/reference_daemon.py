#!/usr/bin/env python3
"""A reference streaming LSTM daemon in Python (pyzmq + PyTorch) that speaks lstmd's wire protocol.

This is the daemon a user would write instead of lstmd, used as the baseline in
`lstmctl bench e2e --compare-python`. It loads an lstmd model file and serves CONTINUOUS mode
only: one (h, c) state per stream, every timestep advances it, and a label is published every
`--hop` timesteps of that stream (default: the model's hop).

    python3 deploy/tools/reference_daemon.py --model M.safetensors \
        [--ingest tcp://127.0.0.1:5555] [--publish tcp://127.0.0.1:5556] \
        [--control tcp://127.0.0.1:5557] [--hop N] [--threads N] [--one-at-a-time]

Wire protocol (as lstmd):
- ingest (PULL, bind): 3-part messages [stream id][32-byte header][payload]; the header is
  struct '<BBHIQqiI' = version (1), flags (bit 0: labelled), channels, timesteps, seq,
  timestamp_ns, label (-1 unless labelled), reserved (0); the payload is timesteps x channels
  float32 little-endian, timestep-major.
- publish (PUB, bind): 2-part messages [stream id][JSON label] with "stream", "label",
  "class_index", "probabilities" (class -> probability), "model_version", "mode", "seq" and
  "timestamp_ns" (of the frame holding the labelled timestep), "timesteps" (the stream's
  timesteps since its state was last reset) and "emitted_ns" (time.time_ns()).
- control (REP, bind): {"command": "status"} -> {"ok": true, "counters": {"frames", "timesteps",
  "labels", ...}, "streams": {"active", ...}, ...} with lstmd's key paths; also "streams",
  "reset" and "close" like lstmd.

Frame checks follow lstmd: wrong part count, bad stream id, bad header, wrong channels, bad
timesteps, payload size, non-finite values, duplicate / out-of-order sequence numbers are dropped
and counted; a sequence gap resets the stream's state; streams idle for `--idle-timeout` seconds
are evicted.

Serving loop (batched, the default): poll; drain every pending message without blocking (up to
`--drain-limit`); per stream, concatenate its pending frames along time (a sequence gap starts a
new segment, processed in a later round after the state reset); group the segments of a round by
length and run ONE nn.LSTM call per group with the streams' (h, c) gathered from a state pool
[L, capacity, H] into h0/c0 [L, B, H] (a model with a convolutional front end first runs its
Conv1d + BatchNorm1d + ReLU layers over the group, each stream's last k-1 inputs per layer kept
in the pool); scatter the final states back; run the head (dense layers,
classifier, softmax) in one call on the outputs at every timestep where a stream's count crosses
a multiple of hop; publish. `--one-at-a-time` instead runs one nn.LSTM call per message.

Prints "ready" on stdout once the model is loaded and the sockets are bound. SIGTERM / SIGINT
stop the loop; frames already queued are processed before exit (for at most
`--stop-drain-timeout` seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import struct
import sys
import time

import numpy as np
import torch
import zmq
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstmd_format import read_model  # noqa: E402

HEADER = struct.Struct("<BBHIQqiI")
HEADER_SIZE = HEADER.size  # 32
PROTOCOL_VERSION = 1
LABELLED_FLAG = 1

DROP_REASONS = ("wrong_parts", "bad_stream_id", "malformed_header", "unknown_version", "wrong_channels",
                "bad_timesteps", "payload_size", "oversize", "non_finite", "bad_label", "duplicate",
                "out_of_order", "stream_limit")


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class Model:
    """An lstmd model file as torch modules: nn.LSTM (batch_first) + head."""

    def __init__(self, path: str):
        tensors, info = read_model(path)
        arch = info["architecture"]
        if arch["bidirectional"]:
            raise SystemExit("continuous mode needs a unidirectional model; this one is bidirectional")
        self.path = os.path.abspath(path)
        self.info = info
        self.classes = [str(c) for c in info["classes"]]
        self.channels = C = int(arch["input_size"])
        self.hidden = H = int(arch["hidden_size"])
        self.layers = L = int(arch["num_layers"])
        self.hop = int(info["hop"])
        self.window = int(info["window"])
        self.attention = arch["head"] == "attention"
        self.digest = "sha256:" + hashlib.sha256(open(path, "rb").read()).hexdigest()
        explicit = info["provenance"].get("version")
        self.version = explicit if isinstance(explicit, str) and explicit else self.digest[len("sha256:"):][:12]

        t = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()}
        # A convolutional front end (format version 4): causal Conv1d without bias, BatchNorm1d
        # with the running statistics, ReLU; each stream keeps every layer's last k-1 inputs.
        self.front_end = []
        inputs = C
        for i, layer in enumerate(arch.get("front_end", [])):
            F, k = int(layer["filters"]), int(layer["kernel"])
            conv = nn.Conv1d(inputs, F, k, bias=False)
            conv.load_state_dict({"weight": t[f"frontend.{i}.conv.weight"]})
            norm = nn.BatchNorm1d(F, eps=1e-5)
            norm.load_state_dict({
                "weight": t[f"frontend.{i}.norm.weight"], "bias": t[f"frontend.{i}.norm.bias"],
                "running_mean": t[f"frontend.{i}.norm.running_mean"],
                "running_var": t[f"frontend.{i}.norm.running_var"], "num_batches_tracked": torch.tensor(0)})
            self.front_end.append((nn.Sequential(conv, norm, nn.ReLU()).eval().requires_grad_(False), inputs, k))
            inputs = F
        self.lstm = nn.LSTM(inputs, H, L, batch_first=True)
        self.lstm.load_state_dict({k[len("lstm."):]: v for k, v in t.items() if k.startswith("lstm.")})
        self.lstm.eval().requires_grad_(False)
        head = []
        for j in range(len(arch.get("dense", []))):
            w = t[f"hidden.{j}.weight"]
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.load_state_dict({"weight": w, "bias": t[f"hidden.{j}.bias"]})
            head += [lin, nn.ReLU()]
        w = t["classifier.weight"]
        cls = nn.Linear(w.shape[1], w.shape[0])
        cls.load_state_dict({"weight": w, "bias": t["classifier.bias"]})
        head += [cls, nn.Softmax(dim=-1)]
        self.head = nn.Sequential(*head).eval().requires_grad_(False)
        if self.attention:
            self.att_w = t["attention.weight"][0].double()  # [H]
            self.att_b = float(t["attention.bias"][0])

        sc = info["scaler"]
        if sc["kind"] == "zscore":
            self.shift = np.asarray(sc["mean"], np.float32)
            self.scale = np.asarray(sc["std"], np.float32)
        else:
            lo = np.asarray(sc["min"], np.float32)
            hi = np.asarray(sc["max"], np.float32)
            self.shift, self.scale = lo, (hi - lo).astype(np.float32)  # float32 (max - min), as lstmd

    def scale_input(self, raw: np.ndarray) -> np.ndarray:
        """Applies the scaler in float32, exactly (x - shift) / scale."""
        return (raw - self.shift) / self.scale


# --------------------------------------------------------------------------------------------
# Stream state
# --------------------------------------------------------------------------------------------

class Stream:
    __slots__ = ("id", "id_bytes", "slot", "last_seq", "last_seen", "timesteps", "frames", "labels", "gaps",
                 "last_label", "pending")

    def __init__(self, sid: str, id_bytes: bytes, slot: int, now: float):
        self.id = sid
        self.id_bytes = id_bytes
        self.slot = slot
        self.last_seq = None
        self.last_seen = now
        self.timesteps = 0  # since the last reset
        self.frames = 0
        self.labels = 0
        self.gaps = 0
        self.last_label = -1
        # Frames accepted in the current drain: a list of segments (reset first?, frames), a
        # frame being (seq, timestamp_ns, raw values [T, C] float32); a gap starts a segment.
        self.pending = None


class StatePool:
    """(h, c) of every stream in [L, capacity, H] tensors, plus the attention pool when the head
    attends (running max m, weight sum s, weighted sum a, float64)."""

    def __init__(self, model: Model, capacity: int = 256):
        self.L, self.H = model.layers, model.hidden
        self.attention = model.attention
        self.capacity = 0
        self.h = torch.zeros(self.L, 0, self.H)
        self.c = torch.zeros(self.L, 0, self.H)
        self.m = torch.zeros(0, dtype=torch.float64)
        self.s = torch.zeros(0, dtype=torch.float64)
        self.a = torch.zeros(0, self.H, dtype=torch.float64)
        # Per front-end layer: every stream's last k-1 inputs [capacity, Cin, k-1] (zeros after a
        # reset: the causal padding).
        self.histories = [torch.zeros(0, inputs, k - 1) for _, inputs, k in model.front_end]
        self.free = []
        self._grow(capacity)

    def _grow(self, capacity):
        old = self.capacity
        def pad(x, dim, value=0.0):
            shape = list(x.shape)
            shape[dim] = capacity - old
            return torch.cat([x, torch.full(shape, value, dtype=x.dtype)], dim=dim)
        self.h, self.c = pad(self.h, 1), pad(self.c, 1)
        self.m, self.s, self.a = pad(self.m, 0, -math.inf), pad(self.s, 0), pad(self.a, 0)
        self.histories = [pad(x, 0) for x in self.histories]
        self.free.extend(range(capacity - 1, old - 1, -1))
        self.capacity = capacity

    def allocate(self) -> int:
        if not self.free:
            self._grow(self.capacity * 2)
        slot = self.free.pop()
        self.reset(slot)
        return slot

    def release(self, slot: int):
        self.free.append(slot)

    def reset(self, slot: int):
        self.h[:, slot].zero_()
        self.c[:, slot].zero_()
        self.m[slot] = -math.inf
        self.s[slot] = 0.0
        self.a[slot].zero_()
        for x in self.histories:
            x[slot].zero_()


# --------------------------------------------------------------------------------------------
# Daemon
# --------------------------------------------------------------------------------------------

class Daemon:
    def __init__(self, args, model: Model):
        self.args = args
        self.model = model
        self.hop = args.hop if args.hop is not None else model.hop
        if self.hop < 1:
            raise SystemExit("--hop must be at least 1")
        self.pool = StatePool(model)
        self.streams: dict[bytes, Stream] = {}
        self.counters = dict(frames=0, timesteps=0, labels=0, labelled_frames=0, gaps=0, reloads=0, dropped=0)
        self.drops = {r: 0 for r in DROP_REASONS}
        self.evicted = 0
        self.rejected = 0
        self.started = time.monotonic()
        self.stop = False
        self.class_json = [json.dumps(c) for c in model.classes]
        self.rate_prev = (time.monotonic(), 0, 0, 0)
        self.rates = (0.0, 0.0, 0.0)

        self.ctx = zmq.Context()
        self.ingest = self.ctx.socket(zmq.PULL)
        self.ingest.setsockopt(zmq.RCVHWM, args.rcvhwm)
        self.ingest.setsockopt(zmq.MAXMSGSIZE, args.max_message_bytes * 4 + 4096)
        self.ingest.setsockopt(zmq.LINGER, 0)
        self.ingest.bind(args.ingest)
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.SNDHWM, args.sndhwm)
        self.pub.setsockopt(zmq.LINGER, 500)
        self.pub.bind(args.publish)
        self.control = None
        if args.control:
            self.control = self.ctx.socket(zmq.REP)
            self.control.setsockopt(zmq.LINGER, 0)
            self.control.bind(args.control)
        self.poller = zmq.Poller()
        self.poller.register(self.ingest, zmq.POLLIN)
        if self.control is not None:
            self.poller.register(self.control, zmq.POLLIN)

    # ---- loop ---------------------------------------------------------------------------

    def run(self):
        last_housekeeping = 0.0
        while not self.stop:
            try:
                events = dict(self.poller.poll(100))
            except zmq.ZMQError as e:
                if e.errno == zmq.ETERM:
                    break
                raise
            if events.get(self.ingest):
                if self.args.one_at_a_time:
                    self.serve_one_at_a_time(self.args.drain_limit)
                else:
                    self.process_batched(self.drain(self.args.drain_limit))
            if self.control is not None and events.get(self.control):
                self.serve_control()
            now = time.monotonic()
            if now - last_housekeeping >= 0.25:
                last_housekeeping = now
                self.housekeeping(now)
        # Finish what is in flight: frames already queued are classified and published, for at
        # most --stop-drain-timeout seconds (a producer faster than the daemon must not keep it alive).
        deadline = time.monotonic() + self.args.stop_drain_timeout
        while time.monotonic() < deadline:
            messages = self.drain(min(self.args.drain_limit, 1024))
            if not messages:
                break
            if self.args.one_at_a_time:
                self.process_one_at_a_time(messages)
            else:
                self.process_batched(messages)

    def drain(self, limit):
        messages = []
        recv = self.ingest.recv_multipart
        try:
            while len(messages) < limit:
                messages.append(recv(zmq.NOBLOCK, copy=True))
        except zmq.Again:
            pass
        return messages

    def housekeeping(self, now):
        t0, f0, ts0, l0 = self.rate_prev
        if now - t0 >= 1.0:
            dt = now - t0
            c = self.counters
            self.rates = ((c["frames"] - f0) / dt, (c["timesteps"] - ts0) / dt, (c["labels"] - l0) / dt)
            self.rate_prev = (now, c["frames"], c["timesteps"], c["labels"])
        idle = self.args.idle_timeout
        expired = [k for k, s in self.streams.items() if now - s.last_seen > idle]
        for k in expired:
            self.remove(k)
        self.evicted += len(expired)

    def remove(self, key: bytes):
        s = self.streams.pop(key, None)
        if s is not None:
            self.pool.release(s.slot)

    def reset_stream(self, s: Stream):
        s.timesteps = 0
        self.pool.reset(s.slot)

    # ---- frames -----------------------------------------------------------------------

    def drop(self, reason: str):
        self.drops[reason] += 1
        self.counters["dropped"] += 1

    def accept(self, parts, now):
        """Checks one message like lstmd. Returns (stream, header fields, scaled values [T, C],
        gap) or None when dropped (counted)."""
        if len(parts) != 3:
            self.drop("wrong_parts")
            return None
        sid, hdr, payload = parts
        if not 1 <= len(sid) <= 255:
            self.drop("bad_stream_id")
            return None
        if len(hdr) != HEADER_SIZE:
            self.drop("malformed_header")
            return None
        version, flags, channels, timesteps, seq, ts_ns, label, reserved = HEADER.unpack(hdr)
        if version != PROTOCOL_VERSION:
            self.drop("unknown_version")
            return None
        if flags & ~LABELLED_FLAG or reserved != 0:
            self.drop("malformed_header")
            return None
        labelled = bool(flags & LABELLED_FLAG)
        if (label < 0) if labelled else (label != -1):
            self.drop("bad_label")
            return None
        if channels != self.model.channels:
            self.drop("wrong_channels")
            return None
        if not 1 <= timesteps <= self.args.max_timesteps_per_frame:
            self.drop("bad_timesteps")
            return None
        if len(payload) > self.args.max_message_bytes:
            self.drop("oversize")
            return None
        if len(payload) != timesteps * channels * 4:
            self.drop("payload_size")
            return None
        if labelled and label >= len(self.model.classes):
            self.drop("bad_label")
            return None
        raw = np.frombuffer(payload, dtype="<f4").reshape(timesteps, channels)
        if not np.isfinite(raw).all():
            self.drop("non_finite")
            return None
        s = self.streams.get(sid)
        gap = False
        if s is None:
            try:
                sid_text = sid.decode("utf-8")
            except UnicodeDecodeError:
                self.drop("bad_stream_id")
                return None
            if len(self.streams) >= self.args.max_streams:
                self.rejected += 1
                self.drop("stream_limit")
                return None
            s = Stream(sid_text, sid, self.pool.allocate(), now)
            self.streams[sid] = s
        elif s.last_seq is not None:
            if seq == s.last_seq:
                self.drop("duplicate")
                return None
            if seq < s.last_seq:
                self.drop("out_of_order")
                return None
            if seq != s.last_seq + 1:
                gap = True
                s.gaps += 1
                self.counters["gaps"] += 1
        s.last_seq = seq
        s.last_seen = now
        s.frames += 1
        c = self.counters
        c["frames"] += 1
        c["timesteps"] += timesteps
        if labelled:
            c["labelled_frames"] += 1
        return s, seq, ts_ns, raw, gap

    def process_batched(self, messages):
        if not messages:
            return
        now = time.monotonic()
        touched = []
        for parts in messages:
            r = self.accept(parts, now)
            if r is None:
                continue
            s, seq, ts_ns, x, gap = r
            if s.pending is None:
                s.pending = [(gap, [(seq, ts_ns, x)])]
                touched.append(s)
            elif gap:
                s.pending.append((True, [(seq, ts_ns, x)]))  # the state restarts: a new segment
            else:
                s.pending[-1][1].append((seq, ts_ns, x))
        rounds = max((len(s.pending) for s in touched), default=0)
        for r in range(rounds):
            groups: dict[int, list] = {}
            for s in touched:
                if r >= len(s.pending):
                    continue
                reset, seg = s.pending[r]
                if reset:
                    self.reset_stream(s)  # a sequence gap: the state starts over
                T = sum(f[2].shape[0] for f in seg)
                groups.setdefault(T, []).append((s, seg))
            for T, items in groups.items():
                self.run_group(T, items)
        for s in touched:
            s.pending = None

    def serve_one_at_a_time(self, limit):
        """Receives and processes one message at a time (no batching), answering the control
        socket every 64 messages so status stays responsive under load."""
        recv = self.ingest.recv_multipart
        control = self.control
        for k in range(limit):
            try:
                parts = recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.process_one_at_a_time((parts,))
            if k % 64 == 63:
                if self.stop:
                    return
                if control is not None and control.poll(0):
                    self.serve_control()

    def process_one_at_a_time(self, messages):
        now = time.monotonic()
        for parts in messages:
            r = self.accept(parts, now)
            if r is None:
                continue
            s, seq, ts_ns, x, gap = r
            if gap:
                self.reset_stream(s)
            self.run_group(x.shape[0], [(s, [(seq, ts_ns, x)])])

    def run_group(self, T, items):
        """One nn.LSTM call over B streams' segments of T timesteps each, then the head on every
        labelled timestep, then publish."""
        model, pool, hop = self.model, self.pool, self.hop
        B = len(items)
        if B == 1:
            s, seg = items[0]
            slot = s.slot
            x = seg[0][2] if len(seg) == 1 else np.concatenate([f[2] for f in seg])
            x = self.front_end(torch.from_numpy(model.scale_input(x)).unsqueeze(0), torch.tensor([slot]))
            h0 = pool.h[:, slot:slot + 1].contiguous()
            c0 = pool.c[:, slot:slot + 1].contiguous()
            out, (hn, cn) = model.lstm(x, (h0, c0))
            pool.h[:, slot] = hn[:, 0]
            pool.c[:, slot] = cn[:, 0]
        else:
            x = np.stack([seg[0][2] if len(seg) == 1 else np.concatenate([f[2] for f in seg]) for _, seg in items])
            slots = torch.tensor([s.slot for s, _ in items], dtype=torch.long)
            h0 = pool.h.index_select(1, slots)
            c0 = pool.c.index_select(1, slots)
            x = self.front_end(torch.from_numpy(model.scale_input(x)), slots)
            out, (hn, cn) = model.lstm(x, (h0, c0))
            pool.h.index_copy_(1, slots, hn)
            pool.c.index_copy_(1, slots, cn)

        # Which timesteps get a label: the stream's count reaches a multiple of hop.
        label_b, label_t, meta = [], [], []
        for b, (s, seg) in enumerate(items):
            n0 = s.timesteps
            t = hop - 1 - n0 % hop  # the first offset with n0 + t + 1 ≡ 0 (mod hop)
            if t < T:
                # Map timestep offsets to the frame that holds them.
                fi, fstart = 0, 0
                while t < T:
                    while t >= fstart + seg[fi][2].shape[0]:
                        fstart += seg[fi][2].shape[0]
                        fi += 1
                    label_b.append(b)
                    label_t.append(t)
                    meta.append((s, seg[fi][0], seg[fi][1], n0 + t + 1))
                    t += hop
            s.timesteps = n0 + T

        if model.attention:
            pooled = self.attention_pool(out, items, label_b, label_t)
        elif label_b:
            pooled = out[label_b, label_t]  # [N, H]
        if not label_b:
            return
        probs = model.head(pooled).numpy()
        self.publish(meta, probs)

    def front_end(self, x, slots):
        """x [B, T, C] scaled through the model's front end (if any) for the streams in `slots`,
        each layer convolving the stream's kept inputs followed by these; the kept inputs move on."""
        if not self.model.front_end:
            return x
        y = x.transpose(1, 2)  # [B, Cin, T]
        for (layer, _, k), history in zip(self.model.front_end, self.pool.histories):
            full = torch.cat([history.index_select(0, slots), y], dim=2)  # [B, Cin, k-1+T]
            if k > 1:
                history.index_copy_(0, slots, full[:, :, -(k - 1):].contiguous())
            y = layer(full)  # [B, F, T]
        return y.transpose(1, 2).contiguous()

    def attention_pool(self, out, items, label_b, label_t):
        """Online softmax pooling over every timestep since the last reset (as lstmd's step
        state): returns the pooled features at the labelled timesteps and advances each stream's
        (m, s, a) to the end of the segment. float64 for the pooling."""
        pool = self.pool
        model = self.model
        y = out.double()  # [B, T, H]
        scores = y @ model.att_w + model.att_b  # [B, T]
        slots = torch.tensor([s.slot for s, _ in items], dtype=torch.long)
        m, s_, a = pool.m[slots], pool.s[slots], pool.a[slots]  # [B], [B], [B, H]
        M = torch.maximum(m, scores.max(dim=1).values)  # [B], finite
        decay = torch.exp(m - M)  # 0 when m = -inf
        w = torch.exp(scores - M[:, None])  # [B, T]
        cw = torch.cumsum(w, dim=1) + (s_ * decay)[:, None]  # [B, T]
        cwy = torch.cumsum(w[:, :, None] * y, dim=1) + (a * decay[:, None])[:, None, :]  # [B, T, H]
        pool.m[slots] = M
        pool.s[slots] = cw[:, -1]
        pool.a[slots] = cwy[:, -1]
        if not label_b:
            return None
        return (cwy[label_b, label_t] / cw[label_b, label_t][:, None]).float()

    def publish(self, meta, probs):
        classes = self.class_json
        version = self.model.version
        send = self.pub.send_multipart
        best_all = probs.argmax(axis=1)
        for (s, seq, ts_ns, n), p, best in zip(meta, probs.tolist(), best_all.tolist()):
            prob_json = ",".join(f"{classes[k]}:{p[k]!r}" for k in range(len(classes)))
            msg = (f'{{"stream":{json.dumps(s.id)},"label":{classes[best]},"class_index":{best},'
                   f'"probabilities":{{{prob_json}}},"model_version":"{version}","mode":"continuous",'
                   f'"seq":{seq},"timestamp_ns":{ts_ns},"timesteps":{n},"emitted_ns":{time.time_ns()}}}')
            s.labels += 1
            s.last_label = best
            self.counters["labels"] += 1
            try:
                send([s.id_bytes, msg.encode()], zmq.NOBLOCK)
            except zmq.Again:
                pass

    # ---- control ----------------------------------------------------------------------

    def serve_control(self):
        try:
            parts = self.control.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        if len(parts) != 1:
            reply = {"ok": False, "error": "a request is one message part holding a JSON object"}
        else:
            reply = self.handle(parts[0])
        self.control.send(json.dumps(reply).encode())

    def handle(self, text: bytes):
        try:
            req = json.loads(text)
        except ValueError:
            req = None
        if not isinstance(req, dict):
            return {"ok": False, "error": "request is not a JSON object"}
        cmd = req.get("command")
        if not isinstance(cmd, str):
            return {"ok": False, "error": 'request has no "command" string'}
        if cmd == "status":
            return self.status()
        if cmd == "streams":
            limit = int(req.get("limit", 1000))
            now = time.monotonic()
            rows = [{"id": s.id, "frames": s.frames, "timesteps": s.timesteps, "labels": s.labels, "gaps": s.gaps,
                     "last_sequence": s.last_seq,
                     "last_label": self.model.classes[s.last_label] if s.last_label >= 0 else None,
                     "idle_s": now - s.last_seen}
                    for s in sorted(self.streams.values(), key=lambda s: s.id)[:max(0, limit)]]
            return {"ok": True, "count": len(self.streams), "streams": rows}
        if cmd in ("reset", "close"):
            sid = req.get("stream")
            if not isinstance(sid, str):
                return {"ok": False, "error": f'{cmd} needs a "stream" string'}
            key = sid.encode()
            if key not in self.streams:
                return {"ok": False, "error": f"unknown stream '{sid}'"}
            if cmd == "reset":
                self.reset_stream(self.streams[key])
            else:
                self.remove(key)
            return {"ok": True, "stream": sid}
        return {"ok": False, "error": f"unknown command '{cmd}' (status, streams, reset, close)"}

    def status(self):
        m = self.model
        return {
            "ok": True,
            "implementation": "python-reference",
            "batched": not self.args.one_at_a_time,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "uptime_s": time.monotonic() - self.started,
            "model": {"path": m.path, "version": m.version, "digest": m.digest, "classes": m.classes,
                      "window": m.window, "hop": self.hop, "mode": "continuous", "channels": m.channels},
            "streams": {"active": len(self.streams), "max": self.args.max_streams, "evicted": self.evicted,
                        "rejected": self.rejected},
            "counters": dict(self.counters),
            "drops": dict(self.drops),
            "rates": {"frames_per_s": self.rates[0], "timesteps_per_s": self.rates[1],
                      "labels_per_s": self.rates[2]},
        }

    def close(self):
        self.ingest.close(0)
        if self.control is not None:
            self.control.close(0)
        self.pub.close()  # linger 500 ms for labels in flight
        self.ctx.term()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="lstmd model file (.safetensors)")
    p.add_argument("--ingest", default="tcp://127.0.0.1:5555", help="PULL endpoint to bind for frames")
    p.add_argument("--publish", default="tcp://127.0.0.1:5556", help="PUB endpoint to bind for labels")
    p.add_argument("--control", default="tcp://127.0.0.1:5557", help="REP endpoint to bind ('' for none)")
    p.add_argument("--mode", default="continuous", choices=["continuous"], help="only continuous is served")
    p.add_argument("--hop", type=int, default=None, help="timesteps between labels (default: the model's hop)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's)")
    p.add_argument("--one-at-a-time", action="store_true", help="one nn.LSTM call per message (no batching)")
    p.add_argument("--drain-limit", type=int, default=4096, help="messages drained per batch (default 4096)")
    p.add_argument("--max-streams", type=int, default=10_000)
    p.add_argument("--idle-timeout", type=float, default=60.0, help="seconds before an idle stream is evicted")
    p.add_argument("--stop-drain-timeout", type=float, default=5.0,
                   help="seconds spent on queued frames after SIGTERM/SIGINT (default 5)")
    p.add_argument("--max-timesteps-per-frame", type=int, default=4096)
    p.add_argument("--max-message-bytes", type=int, default=1 << 20)
    p.add_argument("--rcvhwm", type=int, default=100_000)
    p.add_argument("--sndhwm", type=int, default=100_000)
    p.add_argument("--log-level", default=None, help="accepted for lstmd compatibility; ignored")
    p.add_argument("--no-mkldnn", action="store_true",
                   help="disable torch.backends.mkldnn (its RNN path is slow for small calls on some builds)")
    args = p.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    model = Model(args.model)
    daemon = Daemon(args, model)

    def on_signal(signum, frame):
        daemon.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print("ready", flush=True)
    try:
        with torch.inference_mode():
            daemon.run()
    finally:
        daemon.close()
    print(f"stopped: frames={daemon.counters['frames']} labels={daemon.counters['labels']}",
          file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
