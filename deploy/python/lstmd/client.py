"""A small Python client for lstmd: send frames, receive labels, control the daemon.

Needs only pyzmq and numpy. Install it with the lstmd Python package
(``pip install "./deploy/python[client]"``, then ``from lstmd import Sender, Listener, control``),
or copy this one file next to your code as ``lstmd_client.py`` (it imports nothing else from
the package).

Quick start (a daemon with the default model on the default endpoints)::

    import os, time
    import numpy as np
    from lstmd import Sender, Listener, control   # or: from lstmd_client import ...

    stream = f"sensor-{os.getpid()}"   # a new stream per run: its sequence starts at 0

    # Subscribe first: PUB/SUB delivers only labels published after the subscription has reached
    # the daemon, and connecting takes a moment ("slow joiner"), hence the short settle.
    with Listener("tcp://127.0.0.1:5556", prefix="sensor-", timeout=5) as labels:
        time.sleep(0.5)
        with Sender("tcp://127.0.0.1:5555") as sender:           # PULL side of lstmd
            for _ in range(10):                                   # 10 frames x 10 timesteps = 1 window
                sender.send(stream, np.random.randn(10, 6))      # values: T x C; seq 0, 1, 2, ...
        for label in labels:                                      # dicts, as published; the loop
            print(label["stream"], label["label"],                # ends after 5 s without a label
                  label["probabilities"][label["label"]])

    print(control("tcp://127.0.0.1:5557", "status")["counters"]["frames"])
    control("tcp://127.0.0.1:5557", "close", stream=stream)      # forget the stream

A fixed settle is enough on one machine; a program that must not miss the first labels can
instead send a probe stream until its label arrives (deploy/clients/python/test_client.py does).
Labels queue in the Listener while the Sender runs, so nothing published after the settle is
lost. Per stream, sequence numbers must grow: lstmd drops a frame at or below the last one it
accepted, and a new Sender numbers every stream from 0 again, so reuse a stream id only after
``control(..., "close", stream=...)`` (or pass ``seq=``).

Wire protocol, version 1 (see Sources/Daemon/WireFormat.swift): a frame is a ZeroMQ message of
three parts, pushed to the daemon's PULL endpoint:

1. stream id, 1-255 bytes of UTF-8;
2. a 32-byte little-endian header: u8 version (1), u8 flags (bit 0: labelled), u16 channels C,
   u32 timesteps T, u64 sequence number (per stream, +1 per frame), i64 timestamp in ns
   (CLOCK_REALTIME), i32 class index or -1, u32 reserved (0);
3. T × C float32 little-endian values, timestep-major.

Labels leave the PUB endpoint as two parts, [stream id][JSON object] with "stream", "label",
"class_index", "probabilities" (class name -> probability), "model_version", "mode", "seq",
"timestamp_ns" (of the frame that completed the window), "timesteps" and "emitted_ns".

Control requests are one JSON object {"command": …} on the REQ/REP endpoint: "status",
"streams" (optional "limit"), "reset" / "close" (with "stream"), "reload" (optional "model"
path, as the daemon sees it, inside its model_directory; optional "force": true for a model of
other channels or classes; the reply comes once the new model serves). Replies carry "ok": true,
or "ok": false and "error".

CURVE: a daemon with ``curve_directory`` set serves every tcp:// endpoint over CURVE and admits
only the client keys in its allowlists. :class:`Sender`, :class:`Listener` and :func:`control`
then take ``server_key=`` (the daemon's public certificate, ``server.key``) and ``client_key=``
(this client's ``NAME.key_secret``, made with ``lstmctl keygen``), both read with
``zmq.auth.load_certificate``::

    Sender("tcp://gateway:5555", server_key="server.key", client_key="gw1.key_secret")
"""

from __future__ import annotations

import json
import struct
import time
from typing import Iterator

import numpy as np

try:
    import zmq
except ImportError as _error:  # say what to install, not just "No module named 'zmq'"
    raise ImportError("the lstmd client needs pyzmq: pip install pyzmq (or pip install "
                      "\"./deploy/python[client]\" from the lstmd repository)") from _error

__all__ = [
    "PROTOCOL_VERSION", "HEADER", "LABELLED_FLAG", "encode_frame", "decode_frame", "Sender",
    "Listener", "control", "ControlError", "read_ts",
]

PROTOCOL_VERSION = 1
"""The wire protocol version this client speaks."""

HEADER = struct.Struct("<BBHIQqiI")
"""The 32-byte frame header: version, flags, channels, timesteps, seq, timestamp_ns, label, reserved."""

LABELLED_FLAG = 1
"""Header flag bit: the frame carries a class index."""

assert HEADER.size == 32


def _stream_bytes(stream: str | bytes) -> bytes:
    raw = stream.encode("utf-8") if isinstance(stream, str) else bytes(stream)
    if not 1 <= len(raw) <= 255:
        raise ValueError(f"a stream id is 1-255 bytes of UTF-8, got {len(raw)} bytes")
    raw.decode("utf-8")  # raises UnicodeDecodeError for bytes that are not UTF-8
    return raw


def encode_frame(stream: str | bytes, seq: int, values, timestamp_ns: int | None = None,
                 label: int | None = None) -> list[bytes]:
    """Encodes one frame as the three message parts lstmd expects.

    Args:
        stream: the stream id (str, or UTF-8 bytes), 1-255 bytes.
        seq: the frame's sequence number, 0 <= seq < 2**64.
        values: T × C array-like of finite numbers (converted to float32 little-endian).
        timestamp_ns: the frame's time in ns since the epoch; default: now (``time.time_ns()``).
        label: a class index into the model's classes (sets the labelled flag), or None.

    Returns:
        ``[stream id, 32-byte header, payload]``, ready for ``socket.send_multipart``.

    Raises:
        ValueError: for a shape that is not T × C with T >= 1 and 1 <= C <= 65535, a
            non-finite value, a bad sequence number, label or stream id.
    """
    array = np.ascontiguousarray(values, dtype="<f4")
    if array.ndim != 2 or array.shape[0] < 1 or not 1 <= array.shape[1] <= 65535:
        raise ValueError(f"values must be T × C with T >= 1 and 1 <= C <= 65535, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite (lstmd drops frames holding NaN or ±Inf)")
    if not 0 <= seq < 2**64:
        raise ValueError(f"seq must be in [0, 2**64), got {seq}")
    if label is not None and not 0 <= label < 2**31:
        raise ValueError(f"label must be a class index >= 0, got {label}")
    timestamp = time.time_ns() if timestamp_ns is None else int(timestamp_ns)
    header = HEADER.pack(PROTOCOL_VERSION, 0 if label is None else LABELLED_FLAG, array.shape[1],
                         array.shape[0], seq, timestamp, -1 if label is None else label, 0)
    return [_stream_bytes(stream), header, array.tobytes()]


def decode_frame(parts: list[bytes]) -> tuple[str, dict, np.ndarray]:
    """Decodes a frame made by :func:`encode_frame` (for tests and tools).

    Returns:
        ``(stream, header, values)``: header is a dict with "version", "flags", "channels",
        "timesteps", "seq", "timestamp_ns", "label" (None when unlabelled), "reserved";
        values is a T × C float32 array.

    Raises:
        ValueError: when the parts are not a well-formed frame.
    """
    if len(parts) != 3 or len(parts[1]) != HEADER.size:
        raise ValueError("a frame is three parts with a 32-byte header")
    version, flags, channels, timesteps, seq, timestamp, label, reserved = HEADER.unpack(parts[1])
    if len(parts[2]) != channels * timesteps * 4:
        raise ValueError(f"payload is {len(parts[2])} bytes, the header announces {channels * timesteps * 4}")
    values = np.frombuffer(parts[2], dtype="<f4").reshape(timesteps, channels)
    header = {"version": version, "flags": flags, "channels": channels, "timesteps": timesteps,
              "seq": seq, "timestamp_ns": timestamp, "label": label if flags & LABELLED_FLAG else None,
              "reserved": reserved}
    return bytes(parts[0]).decode("utf-8"), header, values


def _use_curve(socket, server_key: str | None, client_key: str | None) -> None:
    """Makes ``socket`` a CURVE client (before connect) when both certificate paths are given."""
    if server_key is None and client_key is None:
        return
    if server_key is None or client_key is None:
        raise ValueError("server_key and client_key go together (CURVE needs the daemon's public key and yours)")
    import zmq.auth  # noqa: PLC0415 (only CURVE users need it)
    server_public, _ = zmq.auth.load_certificate(server_key)
    client_public, client_secret = zmq.auth.load_certificate(client_key)
    if client_secret is None:
        raise ValueError(f"{client_key} holds no secret key: give the .key_secret file")
    socket.curve_serverkey = server_public
    socket.curve_publickey = client_public
    socket.curve_secretkey = client_secret


class Sender:
    """Pushes frames to lstmd's ingest (PULL) endpoint, numbering each stream's frames.

    Use it as a context manager (or call :meth:`close`): closing waits up to ``linger`` seconds
    until every queued frame has been handed to the daemon; frames still queued then are lost.

    Args:
        endpoint: the daemon's ingest endpoint, e.g. "tcp://127.0.0.1:5555" or "ipc:///run/lstmd/ingest".
        linger: seconds :meth:`close` may wait to deliver queued frames.
        send_timeout: seconds :meth:`send` may wait for the daemon to take a frame (no daemon, or
            its queue full) before raising ``TimeoutError``; None waits forever.
        immediate: queue frames only on a completed connection (ZMQ_IMMEDIATE), so a missing
            daemon shows up as a send timeout instead of frames queueing for nobody.
        server_key, client_key: certificate paths for CURVE (see the module docstring).
    """

    def __init__(self, endpoint: str, *, linger: float = 5.0, send_timeout: float | None = 10.0,
                 immediate: bool = True, server_key: str | None = None, client_key: str | None = None):
        self.endpoint = endpoint
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.LINGER, int(linger * 1000))
        self._socket.setsockopt(zmq.SNDTIMEO, -1 if send_timeout is None else max(1, int(send_timeout * 1000)))
        self._socket.setsockopt(zmq.IMMEDIATE, 1 if immediate else 0)
        _use_curve(self._socket, server_key, client_key)
        self._socket.connect(endpoint)
        self._next: dict[str, int] = {}

    def next_seq(self, stream: str) -> int:
        """The sequence number the next frame of ``stream`` gets by default (0 for a new stream)."""
        return self._next.get(stream, 0)

    def send(self, stream: str, values, seq: int | None = None, label: int | None = None,
             timestamp_ns: int | None = None) -> int:
        """Sends one frame of ``stream``.

        Args:
            stream: the stream id.
            values: T × C array-like, timestep-major.
            seq: the sequence number; default: one more than this stream's last (0 at first).
                Giving one restarts the count from it (a jump makes lstmd reset the stream's state).
            label: class index for a labelled frame, or None.
            timestamp_ns: ns since the epoch; default now.

        Returns:
            the sequence number sent.

        Raises:
            ValueError: see :func:`encode_frame`.
            TimeoutError: the daemon did not take the frame within ``send_timeout``.
        """
        number = self._next.get(stream, 0) if seq is None else seq
        parts = encode_frame(stream, number, values, timestamp_ns=timestamp_ns, label=label)
        try:
            self._socket.send_multipart(parts, copy=False)
        except zmq.Again:
            raise TimeoutError(f"{self.endpoint} did not take a frame of {stream!r}: is lstmd running?") from None
        self._next[stream] = number + 1
        return number

    def send_series(self, stream: str, values, frame: int = 10, label: int | None = None) -> int:
        """Sends a whole T × C series as consecutive frames of ``frame`` timesteps (the last may
        be shorter).

        Returns:
            the number of frames sent.
        """
        array = np.asarray(values, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"values must be T × C, got shape {array.shape}")
        if frame < 1:
            raise ValueError(f"frame must be at least 1, got {frame}")
        count = 0
        for start in range(0, array.shape[0], frame):
            self.send(stream, array[start:start + frame], label=label)
            count += 1
        return count

    def close(self) -> None:
        """Delivers the queued frames (waiting up to ``linger``) and releases the socket."""
        if self._socket is not None:
            self._socket.close()
            self._context.term()
            self._socket = None

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Listener:
    """Subscribes to lstmd's label (PUB) endpoint and iterates over decoded label dicts.

    Args:
        endpoint: the daemon's publish endpoint, e.g. "tcp://127.0.0.1:5556".
        prefix: only streams whose id starts with this (the ZeroMQ topic filter); "" for all.
        timeout: iteration ends after this many seconds without a label; None never ends.
        server_key, client_key: certificate paths for CURVE (see the module docstring).

    Iterating yields dicts as published (see the module docstring); :meth:`receive` gets one.
    """

    def __init__(self, endpoint: str, prefix: str | bytes = "", *, timeout: float | None = None,
                 server_key: str | None = None, client_key: str | None = None):
        self.endpoint = endpoint
        self.timeout = timeout
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8") if isinstance(prefix, str) else prefix)
        _use_curve(self._socket, server_key, client_key)
        self._socket.connect(endpoint)
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)

    def receive(self, timeout: float | None = None) -> dict | None:
        """The next label, or None when none arrived within ``timeout`` seconds (None: wait forever).

        Raises:
            ValueError: for a message that is not [stream id][JSON object].
        """
        if not self._poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
            return None
        parts = self._socket.recv_multipart()
        if len(parts) != 2:
            raise ValueError(f"a label message has 2 parts, got {len(parts)}")
        return json.loads(parts[1])

    def __iter__(self) -> Iterator[dict]:
        while True:
            label = self.receive(self.timeout)
            if label is None:
                return
            yield label

    def close(self) -> None:
        """Releases the socket."""
        if self._socket is not None:
            self._socket.close()
            self._context.term()
            self._socket = None

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ControlError(RuntimeError):
    """lstmd answered a control request with "ok": false; ``reply`` holds the whole answer."""

    def __init__(self, message: str, reply: dict):
        super().__init__(message)
        self.reply = reply


def control(endpoint: str, command: str, *, timeout: float = 5.0, server_key: str | None = None,
            client_key: str | None = None, **fields) -> dict:
    """Sends one control request and returns the reply.

    Args:
        endpoint: the daemon's control (REP) endpoint, e.g. "tcp://127.0.0.1:5557".
        command: "status", "streams", "reset", "close" or "reload".
        timeout: seconds to wait for the reply.
        server_key, client_key: certificate paths for CURVE (see the module docstring).
        **fields: request members, e.g. ``stream="sensor-1"``, ``limit=10``, ``model="/path"``.

    Returns:
        the reply object (its "ok" is True).

    Raises:
        TimeoutError: no reply within ``timeout`` seconds.
        ControlError: the daemon replied "ok": false (its "error" is the message).
    """
    context = zmq.Context()
    try:
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        _use_curve(socket, server_key, client_key)
        socket.connect(endpoint)
        socket.send(json.dumps({"command": command, **fields}).encode("utf-8"))
        if not socket.poll(max(1, int(timeout * 1000)), zmq.POLLIN):
            raise TimeoutError(f"no reply from {endpoint} within {timeout:g} s: is lstmd running?")
        reply = json.loads(socket.recv())
        socket.close()
    finally:
        context.destroy(linger=0)
    if not isinstance(reply, dict):
        raise ControlError(f"{endpoint} replied with something that is not a JSON object", {"reply": reply})
    if reply.get("ok") is not True:
        raise ControlError(f"lstmd: {reply.get('error', reply)}", reply)
    return reply


def read_ts(path: str) -> tuple[list[np.ndarray], list[str | None], list[str]]:
    """Reads a UEA/UCR ``.ts`` file (a small parser: no timestamps, '?' as NaN).

    Returns:
        ``(samples, labels, classes)``: each sample a T × C float32 array; labels the class
        name of each sample (None when the file has none); classes in ``@classLabel`` order.
    """
    samples: list[np.ndarray] = []
    labels: list[str | None] = []
    classes: list[str] = []
    has_labels = False
    in_data = False
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                words = line.split()
                key = words[0].lower()
                if key == "@classlabel":
                    has_labels = len(words) > 1 and words[1].lower() == "true"
                    classes = words[2:] if has_labels else []
                elif key == "@data":
                    in_data = True
                continue
            fields = line.split(":")
            label = fields.pop().strip() if has_labels else None
            try:
                channels = [[float("nan") if v.strip() == "?" else float(v) for v in f.split(",")] for f in fields]
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from None
            if len({len(c) for c in channels}) != 1:
                raise ValueError(f"{path}:{number}: dimensions of different lengths")
            samples.append(np.asarray(channels, dtype=np.float32).T.copy())
            labels.append(label)
    return samples, labels, classes
