#!/usr/bin/env python3
"""PyTorch timings to compare with `lstmctl bench` (CPU, float32, inference).

    python3 deploy/tools/bench_pytorch.py [--threads N] [--steps 3000] [--runs 30]

(a) streaming per-step latency, batch 1, C=6, H in {32, 64, 128}, L in {1, 2}: one timestep per
    call with (h, c) carried, under torch.inference_mode. Three paths are timed and the fastest is
    reported: nn.LSTM called on a [1, 1, C] input with the default CPU backend (oneDNN/mkldnn when
    PyTorch has it), the same with torch.backends.mkldnn disabled (on some builds the oneDNN RNN
    path costs milliseconds per single-step call), and a stack of nn.LSTMCell. Median over 3
    repeats of the mean ns/step (each repeat up to `--steps` steps or ~0.2 s), after warm-up.
    Timings on a loaded machine are noisy: the header prints the load average.
(b) window forward: B=64 x T=100 x C=6 through nn.LSTM(H=64, L=2) + last head + Linear(64, 4) +
    softmax; median wall time of `--runs` runs after warm-up, with mkldnn on and off.
--threads sets torch.set_num_threads (default: PyTorch's default). Runs in well under 60 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

C = 6
K = 4


def _median_ns_per_step(step, steps, repeats=3, budget_ns=200_000_000):
    """Median over `repeats` of the mean ns/step; each repeat runs up to `steps` steps but stops
    once it has used `budget_ns` (checked every 10 steps), so slow paths stay cheap to measure."""
    warm_end = time.perf_counter_ns() + budget_ns // 2
    for i in range(200):
        step()
        if i >= 5 and time.perf_counter_ns() > warm_end:
            break
    samples = []
    for _ in range(repeats):
        count = 0
        t0 = time.perf_counter_ns()
        deadline = t0 + budget_ns
        while count < steps:
            for _ in range(10):
                step()
            count += 10
            if time.perf_counter_ns() > deadline:
                break
        samples.append((time.perf_counter_ns() - t0) / count)
    return statistics.median(samples)


def bench_lstm_module(H, L, steps, mkldnn=True):
    prev = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = mkldnn and prev
    try:
        return _bench_lstm_module(H, L, steps)
    finally:
        torch.backends.mkldnn.enabled = prev


def _bench_lstm_module(H, L, steps):
    lstm = nn.LSTM(C, H, L, batch_first=True).eval()
    x = torch.randn(1, 1, C)
    state = [(torch.zeros(L, 1, H), torch.zeros(L, 1, H))]

    def step():
        _, state[0] = lstm(x, state[0])

    with torch.inference_mode():
        return _median_ns_per_step(step, steps)


def bench_lstm_cells(H, L, steps):
    cells = [nn.LSTMCell(C if k == 0 else H, H).eval() for k in range(L)]
    x = torch.randn(1, C)
    hs = [torch.zeros(1, H) for _ in range(L)]
    cs = [torch.zeros(1, H) for _ in range(L)]

    def step():
        inp = x
        for k in range(L):
            hs[k], cs[k] = cells[k](inp, (hs[k], cs[k]))
            inp = hs[k]

    with torch.inference_mode():
        return _median_ns_per_step(step, steps)


def bench_window(B, T, H, L, runs, mkldnn=True):
    prev = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = mkldnn and prev
    try:
        return _bench_window(B, T, H, L, runs)
    finally:
        torch.backends.mkldnn.enabled = prev


def _bench_window(B, T, H, L, runs):
    lstm = nn.LSTM(C, H, L, batch_first=True).eval()
    head = nn.Linear(H, K).eval()
    x = torch.randn(B, T, C)

    def fwd():
        _, (h_n, _) = lstm(x)
        return torch.softmax(head(h_n[-1]), dim=1)

    with torch.inference_mode():
        t0 = time.perf_counter_ns()
        fwd()
        per = max(1, time.perf_counter_ns() - t0)
        if per < 1_000_000_000:  # more warm-up unless the machine is so slow it would not fit
            for _ in range(2):
                fwd()
        runs = int(max(3, min(runs, 4_000_000_000 // per)))  # keep each variant to a few seconds
        times = []
        deadline = time.perf_counter_ns() + 4_000_000_000
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            fwd()
            times.append(time.perf_counter_ns() - t0)
            if len(times) >= 3 and time.perf_counter_ns() > deadline:
                break
        runs = len(times)
    return statistics.median(times), min(times), runs


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch LSTM timings for comparison with lstmctl bench.")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch default)")
    ap.add_argument("--steps", type=int, default=3000, help="timesteps per per-step measurement")
    ap.add_argument("--runs", type=int, default=30, help="runs of the window forward")
    ap.add_argument("--step", action="store_true", help="only (a), the per-step latency")
    ap.add_argument("--window", action="store_true", help="only (b), the window forward")
    ap.add_argument("--hidden", default=None, help="hidden sizes, e.g. 32,64,128 (a) or 64 (b)")
    ap.add_argument("--layers", default=None, help="layer counts, e.g. 1,2 (a) or 2 (b)")
    ap.add_argument("--batch", type=int, default=64, help="B of the window forward")
    ap.add_argument("--timesteps", type=int, default=100, help="T of the window forward")
    a = ap.parse_args(argv)
    both = not a.step and not a.window
    hidden = [int(x) for x in a.hidden.split(",")] if a.hidden else None
    layers = [int(x) for x in a.layers.split(",")] if a.layers else None
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t_start = time.time()
    print(f"PyTorch {torch.__version__}, {platform.machine()}, threads {torch.get_num_threads()}, "
          f"float32, inference_mode, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print()
    if both or a.step:
        step_table(a, hidden or [32, 64, 128], layers or [1, 2])
    if both or a.window:
        window_table(a, hidden or [64], layers or [2])
    print(f"total {time.time() - t_start:.1f} s")


def step_table(a, hiddens, layers):
    print("(a) streaming per-step latency, batch 1, C=6")
    print(f"{'H':>5} {'L':>3} {'nn.LSTM':>12} {'nn.LSTM':>12} {'LSTMCell':>12} {'fastest':>12}")
    print(f"{'':>5} {'':>3} {'(default)':>12} {'(no mkldnn)':>12} {'stack':>12} {'ns/step':>12}")
    for L in layers:
        for H in hiddens:
            m = bench_lstm_module(H, L, a.steps, mkldnn=True)
            n = bench_lstm_module(H, L, a.steps, mkldnn=False)
            c = bench_lstm_cells(H, L, a.steps)
            print(f"{H:>5} {L:>3} {m:>12.0f} {n:>12.0f} {c:>12.0f} {min(m, n, c):>12.0f}")
    print()


def window_table(a, hiddens, layers):
    B, T = a.batch, a.timesteps
    for L in layers:
        for H in hiddens:
            print(f"(b) window forward B={B} T={T} C={C} H={H} L={L} (last head + Linear + softmax), "
                  f"median of up to {a.runs} runs")
            for label, mk in (("default", True), ("no mkldnn", False)):
                med, best, n = bench_window(B, T, H, L, a.runs, mkldnn=mk)
                print(f"    {label:<10} median {med / 1e6:8.3f} ms   min {best / 1e6:8.3f} ms   "
                      f"= {med / (B * T):6.0f} ns per sample-step  ({n} runs)")
    print()


if __name__ == "__main__":
    main()
