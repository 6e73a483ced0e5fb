#!/usr/bin/env python3
"""PyTorch side of `lstmctl bench train`: CPU training throughput of a small LSTM classifier.

    python3 deploy/tools/bench_train_pytorch.py [--epochs 3] [--threads 2] [--json]
        [--samples 4096] [--timesteps 100] [--channels 6] [--hidden 64] [--layers 2]
        [--classes 4] [--batch 64] [--seed 0] [--front-end 64x5,64x5]

Workload (defaults in brackets)
-------------------------------
Model: nn.LSTM(C, H, L, batch_first=True) [C=6, H=64, L=2] -> head "last" (the top layer's h_n,
i.e. its output at t = T-1; all windows are full length) -> nn.Linear(H, K) [K=4]. Float32, eval
semantics (no dropout), default PyTorch CPU backend, torch.set_num_threads(--threads) [2].
With --front-end F1xK1,F2xK2,... (default none) the LSTM's input is first a causal convolutional
front end, lstmd's `--front-end`: per layer nn.Conv1d(Cin, F, K, bias=False) over the input padded
with K-1 zeros on the left, nn.BatchNorm1d(F) (batch statistics over every timestep of the batch,
running statistics updated with momentum 0.1), ReLU. Its weights keep PyTorch's default init after
torch.manual_seed(--seed): the front end is for timing, and init_sha256 covers only the LSTM and
the classifier. (lstmd with --threads 2 normalises each thread's half of the batch with its own
statistics; the work is the same.)
Loss: cross-entropy (softmax + NLL), unweighted mean over the batch.
Optimizer: Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay (torch.optim.Adam defaults).
Before each step the gradients are clipped by global norm 1.0 (torch.nn.utils.clip_grad_norm_:
total = sqrt(sum of squares of all gradient entries); if total > 1 every gradient is multiplied by
1 / (total + 1e-6)).
Training: --epochs [3] epochs over N = --samples [4096] windows; each epoch visits the windows in a
fresh shuffled order in batches of --batch [64] (the last batch is smaller when B does not divide N);
one optimizer step per batch. Per epoch: wall time of the batch loop (gathering the batch, forward,
backward, clipping, Adam step; the shuffle is computed before the clock starts) and the training loss
(mean of the batch losses weighted by batch size).
Reported: seconds per epoch; median and min over the epochs after the first when epochs >= 3 (the
first is warm-up), else over all epochs; samples/second = N / median; peak resident memory of the
process (ru_maxrss, includes the Python interpreter and torch itself, so also reported just before
training starts); the process CPU time per epoch (cpu_seconds_per_epoch: less sensitive to other
jobs than wall time, though OpenMP spin-waiting counts in it); final loss = the last epoch's
training loss; final accuracy on the training set (evaluated after training, not timed).

Random streams (portable, so the Swift bench can reproduce the data, init and shuffles bit-for-bit)
---------------------------------------------------------------------------------------------------
SplitMix64 with state s: each call does s += 0x9E3779B97F4A7C15 (mod 2^64) and returns mix(s) with
    mix(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31)          (all mod 2^64)
so output n (n = 0, 1, ...) of SplitMix64(state0) is mix(state0 + (n + 1) * 0x9E3779B97F4A7C15).
Streams: purpose p uses SplitMix64(key_p), key_p = output p of SplitMix64(seed) (seed = --seed [0]
as an unsigned 64-bit integer): p = 0 data, p = 1 weight init, p = 2 + e shuffle of epoch e (0-based).
r_n = output n of the stream; U(n) = (r_n >> 11) * 2^-53, a double in [0, 1).

Data (computed in float64, stored as float32), sample i = 0 .. N-1, t = 0 .. T-1, c = 0 .. C-1:
    label y_i = i mod K
    phase phi_i = 2*pi * U(i)                                           (data stream, n = i)
    j = (i*T + t)*C + c
    u1 = 1 - U(N + 2j), u2 = U(N + 2j + 1)                              (data stream)
    g = sqrt(-2 ln u1) * cos(2*pi * u2)                                 (Box-Muller, cos branch only)
    x[i,t,c] = float32(0.5 * g + (c == y_i mod C ? sin(2*pi * (y_i + 1) * t / T + phi_i) : 0))
i.e. N(0, 0.5^2) noise everywhere plus, in channel y mod C, a unit sinusoid with y+1 periods per
window and a random phase. The printed data_sha256 is the sha256 of x's float32 little-endian bytes
in [N,T,C] row-major order followed by the labels as int32 little-endian.

Weight init (init stream, one value per call, n counting from 0 across all tensors): in the order
lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0, then the same for l1, ...,
then classifier.weight [K,H], classifier.bias [K]; each tensor row-major; value
float32(b * (2*U(n) - 1)) with b = 1/sqrt(H) (PyTorch's default bound for nn.LSTM, and for
nn.Linear(H, K)). Gate order of the 4H rows: i, f, g, o. init_sha256 = sha256 of those float32
values in that order.

Shuffle of epoch e (stream p = 2 + e): perm = [0, 1, ..., N-1]; for m = 0, 1, ..., N-2 with
i = N-1-m: j = r_m mod (i + 1); swap perm[i] and perm[j] (Fisher-Yates). Batch b holds the samples
perm[b*B : (b+1)*B].

Timings are wall-clock and depend on the machine's load: the output records the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

GAMMA = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


def _mix_array(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def splitmix64(state0, start, count):
    """Outputs start .. start+count-1 of SplitMix64(state0), as a uint64 array."""
    n = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix_array(np.uint64(state0 & MASK64) + n * np.uint64(GAMMA))


def uniform53(state0, start, count):
    return (splitmix64(state0, start, count) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def stream_key(seed, purpose):
    return int(splitmix64(seed & MASK64, purpose, 1)[0])


def make_data(seed, N, T, C, K, chunk=128):
    """The synthetic data set (see the module docstring). Returns (x float32 [N,T,C], y int64 [N])."""
    key = stream_key(seed, 0)
    y = np.arange(N, dtype=np.int64) % K
    phase = 2.0 * math.pi * uniform53(key, 0, N)
    x = np.empty((N, T, C), dtype=np.float32)
    t = np.arange(T, dtype=np.float64)
    per = T * C
    for i0 in range(0, N, chunk):  # chunked to keep the temporaries (and peak RSS) small
        i1 = min(N, i0 + chunk)
        u = uniform53(key, N + 2 * i0 * per, 2 * (i1 - i0) * per)
        u1 = 1.0 - u[0::2]
        u2 = u[1::2]
        g = (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)).reshape(i1 - i0, T, C)
        v = 0.5 * g
        for i in range(i0, i1):
            k = int(y[i])
            v[i - i0, :, k % C] += np.sin(2.0 * math.pi * (k + 1) * t / T + phase[i])
        x[i0:i1] = v.astype(np.float32)
    return x, y


def data_digest(x, y):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<i4").tobytes())
    return h.hexdigest()


def init_parameters(lstm, linear, seed):
    """Deterministic init from the init stream (see the module docstring). Returns init_sha256."""
    key = stream_key(seed, 1)
    bound = 1.0 / math.sqrt(lstm.hidden_size)
    params = []
    for k in range(lstm.num_layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            params.append(getattr(lstm, f"{name}_l{k}"))
    params += [linear.weight, linear.bias]
    h = hashlib.sha256()
    n = 0
    with torch.no_grad():
        for p in params:
            vals = (bound * (2.0 * uniform53(key, n, p.numel()) - 1.0)).astype(np.float32)
            n += p.numel()
            p.copy_(torch.from_numpy(vals.reshape(tuple(p.shape))))
            h.update(vals.astype("<f4").tobytes())
    return h.hexdigest()


def shuffle(seed, epoch, N):
    r = splitmix64(stream_key(seed, 2 + epoch), 0, max(0, N - 1))
    perm = list(range(N))
    for m in range(N - 1):
        i = N - 1 - m
        j = int(r[m] % np.uint64(i + 1))
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def peak_rss_mib():
    # ru_maxrss is KiB on Linux (bytes on macOS)
    v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return v / (1024.0 * 1024.0) if sys.platform == "darwin" else v / 1024.0


def parse_front_end(text):
    """`64x5,64x5` -> [(64, 5), (64, 5)]; `none` or empty -> []."""
    if text in ("", "none"):
        return []
    layers = []
    for part in text.split(","):
        filters, _, kernel = part.partition("x")
        if not (filters.isdigit() and kernel.isdigit() and int(filters) > 0 and int(kernel) > 0):
            raise ValueError(f"--front-end: expected FILTERSxKERNEL layers like 64x5,64x5, got {text!r}")
        layers.append((int(filters), int(kernel)))
    return layers


class CausalFrontEnd(nn.Module):
    """lstmd's front end: per layer causal Conv1d (no bias) + BatchNorm1d + ReLU, on [B, T, C]."""

    def __init__(self, C, layers):
        super().__init__()
        self.kernels = [k for _, k in layers]
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for filters, kernel in layers:
            self.convs.append(nn.Conv1d(C, filters, kernel, bias=False))
            self.norms.append(nn.BatchNorm1d(filters))
            C = filters
        self.outputs = C

    def forward(self, x):
        x = x.transpose(1, 2)
        for conv, norm, k in zip(self.convs, self.norms, self.kernels):
            x = torch.relu(norm(conv(F.pad(x, (k - 1, 0)))))
        return x.transpose(1, 2)


class Classifier(nn.Module):
    def __init__(self, C, H, L, K, front_end=()):
        super().__init__()
        self.front_end = CausalFrontEnd(C, front_end) if front_end else None
        self.lstm = nn.LSTM(self.front_end.outputs if self.front_end else C, H, L, batch_first=True)
        self.classifier = nn.Linear(H, K)

    def forward(self, x):
        if self.front_end is not None:
            x = self.front_end(x)
        _, (h_n, _) = self.lstm(x)
        return self.classifier(h_n[-1])


def run(a):
    torch.set_num_threads(a.threads)
    N, T, C, H, L, K, B = a.samples, a.timesteps, a.channels, a.hidden, a.layers, a.classes, a.batch
    t_data = time.perf_counter()
    x_np, y_np = make_data(a.seed, N, T, C, K)
    data_seconds = time.perf_counter() - t_data
    digest = data_digest(x_np, y_np)
    X = torch.from_numpy(x_np)
    Y = torch.from_numpy(y_np)

    torch.manual_seed(a.seed)
    front_end = parse_front_end(a.front_end)
    model = Classifier(C, H, L, K, front_end)
    init_digest = init_parameters(model.lstm, model.classifier, a.seed)
    model.train()  # no dropout layers: same as eval semantics
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    log = (lambda *args: print(*args, file=sys.stderr)) if a.json else print
    log(f"PyTorch {torch.__version__}, {platform.machine()}, threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    stack = "".join(f"Conv1d({f}, k{k}) + BatchNorm1d + ReLU -> " for f, k in front_end)
    log(f"workload: N={N} T={T} C={C}  {stack}LSTM(H={H}, L={L}) -> Linear({H}, {K})  batch {B}  "
        f"Adam lr 1e-3, clip 1.0, {a.epochs} epochs, seed {a.seed}")
    log(f"data {data_seconds:.2f} s  data_sha256 {digest}  init_sha256 {init_digest}")

    rss_before = peak_rss_mib()
    seconds, cpu_seconds, losses = [], [], []
    for e in range(a.epochs):
        perm = torch.tensor(shuffle(a.seed, e, N), dtype=torch.long)
        total = 0.0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for b0 in range(0, N, B):
            idx = perm[b0:b0 + B]
            xb = X.index_select(0, idx)
            yb = Y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            total += loss.item() * idx.numel()
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
        losses.append(total / N)
        log(f"epoch {e + 1}: {seconds[-1]:.3f} s (cpu {cpu_seconds[-1]:.3f} s)  loss {losses[-1]:.5f}")

    with torch.no_grad():
        model.eval()
        correct = 0
        for b0 in range(0, N, 512):
            correct += int((model(X[b0:b0 + 512]).argmax(1) == Y[b0:b0 + 512]).sum())
    result = {"framework": "pytorch", "torch_version": torch.__version__}
    result.update(summary(a, seconds, cpu_seconds, losses, rss_before, correct / N, digest, init_digest))
    return result


def summary(a, seconds, cpu_seconds, losses, rss_before, accuracy, digest, init_digest):
    """The report keys shared by this script and bench_train_keras.py (see the module docstring)."""
    N = a.samples
    timed = seconds[1:] if len(seconds) >= 3 else seconds
    med = statistics.median(timed)
    return {
        "threads": torch.get_num_threads(),
        "seconds_per_epoch": [round(s, 4) for s in seconds],
        "cpu_seconds_per_epoch": [round(s, 4) for s in cpu_seconds],
        "loss_per_epoch": [round(v, 6) for v in losses],
        "median_seconds_per_epoch": round(med, 4),
        "min_seconds_per_epoch": round(min(timed), 4),
        "samples_per_second": round(N / med, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_before_training_mib": round(rss_before, 1),
        "final_loss": round(losses[-1], 6) if losses else None,
        "final_train_accuracy": round(accuracy, 4),
        "samples": N, "timesteps": a.timesteps, "channels": a.channels, "hidden": a.hidden, "layers": a.layers,
        "classes": a.classes, "batch": a.batch, "epochs": a.epochs, "seed": a.seed,
        "front_end": getattr(a, "front_end", "none") or "none",
        "optimizer": "adam lr=1e-3 betas=(0.9,0.999) eps=1e-8", "clip_global_norm": 1.0,
        "data_sha256": digest, "init_sha256": init_digest,
        "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def main(argv=None, run=None, description="PyTorch LSTM training throughput (see the module docstring)."):
    """Command line shared with bench_train_keras.py, which passes its own `run`."""
    run = run or globals()["run"]
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--timesteps", type=int, default=100)
    ap.add_argument("--channels", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--front-end", default="none", help="causal Conv1d+BatchNorm1d+ReLU layers, e.g. 64x5,64x5")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout (progress on stderr)")
    a = ap.parse_args(argv)
    for name in ("samples", "timesteps", "channels", "hidden", "layers", "classes", "batch", "epochs", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    try:
        parse_front_end(a.front_end)
    except ValueError as error:
        ap.error(str(error))
    r = run(a)
    if a.json:
        print(json.dumps(r))
    else:
        print(f"median {r['median_seconds_per_epoch']:.3f} s/epoch (min {r['min_seconds_per_epoch']:.3f}), "
              f"{r['samples_per_second']:.0f} samples/s, peak RSS {r['peak_rss_mib']:.1f} MiB "
              f"({r['peak_rss_before_training_mib']:.1f} MiB before training), final loss {r['final_loss']:.5f}, "
              f"train accuracy {r['final_train_accuracy']:.3f}")


if __name__ == "__main__":
    main()
