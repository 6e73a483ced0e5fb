#!/usr/bin/env python3
"""Keras 3 side of `lstmctl bench train` (KERAS_BACKEND=torch, CPU): the workload of
bench_train_pytorch.py, built the Keras way.

    python3 deploy/tools/bench_train_keras.py [--epochs 3] [--threads 2] [--json] [same flags as
        bench_train_pytorch.py: --samples --timesteps --channels --hidden --layers --classes --batch --seed]

Model: keras.Sequential([Input((T, C)), LSTM(H, return_sequences=True) x (L-1), LSTM(H),
Dense(K, activation="softmax")]) [H=64, L=2, K=4], loss sparse_categorical_crossentropy (on the
softmax probabilities, as Keras does), Adam(learning_rate=1e-3, epsilon=1e-8 (PyTorch's default;
Keras' own is 1e-7), global_clipnorm=1.0).
Data, labels, the per-epoch shuffles and the batches are exactly those of bench_train_pytorch.py
(same SplitMix64 streams, same data_sha256), and the initial weights are the same function: the
PyTorch init of bench_train_pytorch.py converted to Keras' layout (kernel = weight_ih^T,
recurrent_kernel = weight_hh^T, bias = bias_ih + bias_hh; gate order i, f, c, o is PyTorch's
i, f, g, o; Dense kernel = classifier.weight^T).
Training: one model.train_on_batch per batch, in the shuffled order; per epoch the wall time of those
calls and the mean of the batch losses weighted by batch size. torch.set_num_threads(--threads).
On CPU, Keras' torch backend runs the LSTM as its own per-timestep loop (its fused path is CUDA-only),
so this measures Keras as users get it on a CPU, not torch.nn.LSTM.
Same report and JSON keys as bench_train_pytorch.py, with "framework": "keras" and "keras_version".
"""

from __future__ import annotations

import os
import platform
import sys
import time

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_train_pytorch as bp  # noqa: E402


def build(C, H, L, K, T, seed):
    import keras
    from keras import layers as KL
    layers = [keras.Input((T, C))]
    for k in range(L):
        layers.append(KL.LSTM(H, return_sequences=k < L - 1))
    layers.append(KL.Dense(K, activation="softmax"))
    model = keras.Sequential(layers)
    # the same initial function as bench_train_pytorch.py
    ref = bp.Classifier(C, H, L, K)
    init_digest = bp.init_parameters(ref.lstm, ref.classifier, seed)
    weights = []
    for k in range(L):
        g = lambda n: getattr(ref.lstm, f"{n}_l{k}").detach().double().numpy()  # noqa: E731
        weights += [g("weight_ih").T, g("weight_hh").T, g("bias_ih") + g("bias_hh")]
    weights += [ref.classifier.weight.detach().double().numpy().T, ref.classifier.bias.detach().double().numpy()]
    model.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model, init_digest


def run(a):
    if bp.parse_front_end(a.front_end):
        sys.exit("--front-end: the Keras baseline has no front end; use bench_train_pytorch.py")
    import keras
    torch.set_num_threads(a.threads)
    N, T, C, H, L, K, B = a.samples, a.timesteps, a.channels, a.hidden, a.layers, a.classes, a.batch
    t_data = time.perf_counter()
    x, y = bp.make_data(a.seed, N, T, C, K)
    data_seconds = time.perf_counter() - t_data
    digest = bp.data_digest(x, y)
    y32 = y.astype(np.int32)
    model, init_digest = build(C, H, L, K, T, a.seed)
    log = (lambda *args: print(*args, file=sys.stderr)) if a.json else print
    log(f"Keras {keras.__version__} (torch {torch.__version__} backend), {platform.machine()}, threads "
        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    log(f"workload: N={N} T={T} C={C}  {L} x LSTM({H}) -> Dense({K}, softmax)  batch {B}  "
        f"Adam lr 1e-3, global_clipnorm 1.0, {a.epochs} epochs, seed {a.seed}")
    log(f"data {data_seconds:.2f} s  data_sha256 {digest}  init_sha256 {init_digest}")

    rss_before = bp.peak_rss_mib()
    seconds, cpu_seconds, losses = [], [], []
    for e in range(a.epochs):
        perm = np.asarray(bp.shuffle(a.seed, e, N), dtype=np.int64)
        total = 0.0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for b0 in range(0, N, B):
            idx = perm[b0:b0 + B]
            loss = model.train_on_batch(x[idx], y32[idx])
            total += float(loss) * len(idx)
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
        losses.append(total / N)
        log(f"epoch {e + 1}: {seconds[-1]:.3f} s (cpu {cpu_seconds[-1]:.3f} s)  loss {losses[-1]:.5f}")

    probs = model.predict(x, batch_size=512, verbose=0)
    acc = float((np.asarray(probs).argmax(1) == y).mean())
    result = {
        "framework": "keras", "keras_version": keras.__version__, "keras_backend": keras.backend.backend(),
        "torch_version": torch.__version__,
    }
    result.update(bp.summary(a, seconds, cpu_seconds, losses, rss_before, acc, digest, init_digest))
    return result

def main(argv=None):
    bp.main(argv, run=run, description="Keras 3 LSTM training throughput (see the module docstring).")


if __name__ == "__main__":
    main()
