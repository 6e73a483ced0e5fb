#!/usr/bin/env python3
"""Train the bundled default lstmd model (interim, until `lstmctl train` exists).

    python3 deploy/tools/train_default_model.py [--train TS] [--test TS] [--out MODEL]
                                                [--expected JSON] [--epochs N] [--layers 1|2]

Data: the UEA BasicMotions data set (6 channels: 3-axis accelerometer + 3-axis gyroscope of a
smart watch, 10 Hz, 100 steps per sample, classes Standing/Running/Walking/Badminton; 40 train
and 40 test samples), read from the repository copies in Tests/LSTMTrainingTests/Fixtures/.

Model: nn.LSTM(6, 32, layers) -> last head -> nn.Linear(32, 4); z-score scaler fitted on the
training data (per channel over all samples and timesteps); window 100, hop 10. Full-batch Adam
with a fixed seed, one CPU thread (reproducible).

Writes
  --out       Sources/Daemon/Resources/default.safetensors (lstmd format, via export_pytorch)
  --expected  Tests/LSTMKitTests/Fixtures/basicmotions_expected.json: for each TEST sample, in
              file order, the predicted label index and class probabilities of the written model
              (its float32 weights run in float64 by PyTorch on the float32-scaled input).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lstmd_format as fmt  # noqa: E402
from export_pytorch import export_pytorch, torch_forward  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(REPO, "Tests", "LSTMTrainingTests", "Fixtures")


def read_ts(path):
    """Read a sktime/UEA .ts file with equal-length series and class labels.
    Returns (X float64 [N, T, C], labels list[str], class_names list[str] from @classLabel)."""
    class_names = None
    rows, labels = [], []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{path}:{lineno}: expected a @-header line")
                key, _, rest = line[1:].partition(" ")
                key = key.lower()
                if key == "classlabel":
                    parts = rest.split()
                    if parts and parts[0].lower() == "true":
                        class_names = parts[1:]
                elif key == "data":
                    in_data = True
                continue
            fields = line.split(":")
            label = fields[-1].strip()
            dims = [[float(v) for v in d.split(",")] for d in fields[:-1]]
            if any(len(d) != len(dims[0]) for d in dims):
                raise ValueError(f"{path}:{lineno}: dimensions of unequal length")
            if any(np.isnan(v) for d in dims for v in d):
                raise ValueError(f"{path}:{lineno}: missing values are not supported")
            rows.append(np.asarray(dims, dtype=np.float64).T)  # [T, C]
            labels.append(label)
    if not rows:
        raise ValueError(f"{path}: no data")
    if class_names is None:
        class_names = sorted(set(labels))
    return np.stack(rows), labels, class_names


class Net(nn.Module):
    def __init__(self, C, H, L, K):
        super().__init__()
        self.lstm = nn.LSTM(C, H, L, batch_first=True)
        self.linear = nn.Linear(H, K)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.linear(h_n[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the bundled default lstmd model on BasicMotions.")
    ap.add_argument("--train", default=os.path.join(FIX, "BasicMotions_TRAIN.ts"))
    ap.add_argument("--test", default=os.path.join(FIX, "BasicMotions_TEST.ts"))
    ap.add_argument("--out", default=os.path.join(REPO, "Sources", "Daemon", "Resources", "default.safetensors"))
    ap.add_argument("--expected", default=os.path.join(REPO, "Tests", "LSTMKitTests", "Fixtures",
                                                       "basicmotions_expected.json"))
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--layers", type=int, default=1, choices=[1, 2])
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    Xtr, ytr_names, classes = read_ts(a.train)
    Xte, yte_names, classes_te = read_ts(a.test)
    if classes_te != classes:
        raise SystemExit(f"class lists differ: {classes} vs {classes_te}")
    ytr = np.array([classes.index(s) for s in ytr_names])
    yte = np.array([classes.index(s) for s in yte_names])
    N, T, C = Xtr.shape
    K = len(classes)

    # z-score scaler, fitted on the training data, per channel over all timesteps; applied as
    # float32 exactly as lstmd does
    mean = Xtr.reshape(-1, C).mean(axis=0).astype(np.float32)
    std = Xtr.reshape(-1, C).std(axis=0).astype(np.float32)
    scaler = {"kind": "zscore", "mean": mean, "std": std}
    xtr = torch.from_numpy(fmt.apply_scaler(scaler, Xtr.astype(np.float32)))
    xte = torch.from_numpy(fmt.apply_scaler(scaler, Xte.astype(np.float32)))
    ttr = torch.from_numpy(ytr)

    net = Net(C, a.hidden, a.layers, K)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.time()
    for epoch in range(1, a.epochs + 1):
        net.train()
        opt.zero_grad()
        loss = loss_fn(net(xtr), ttr)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if epoch % 50 == 0 or epoch == a.epochs:
            net.eval()
            with torch.no_grad():
                tr_acc = (net(xtr).argmax(1) == ttr).float().mean().item()
            print(f"epoch {epoch:4d} loss {loss.item():.4f} train acc {tr_acc:.3f} ({time.time() - t0:.1f}s)")
    net.eval()

    # Evaluate the model exactly as exported: float32 weights run in float64.
    ref = Net(C, a.hidden, a.layers, K)
    ref.load_state_dict(net.state_dict())
    ref = ref.double().eval()
    with torch.no_grad():
        logits = torch_forward(ref.lstm, None, [], ref.linear, xte.double())
        probs = torch.softmax(logits, dim=1).numpy()
        probs32 = torch.softmax(net(xte), dim=1).numpy()
    pred = probs.argmax(1)
    acc = float((pred == yte).mean())
    assert np.array_equal(pred, probs32.argmax(1)), "float32 and float64 predictions differ"
    print(f"test accuracy {acc:.4f} ({int((pred == yte).sum())}/{len(yte)})")

    prov = {
        "trainer": f"deploy/tools/train_default_model.py (PyTorch {torch.__version__}) "
                   f"\u2014 interim, until lstmctl train exists",
        "dataset_digest": fmt.file_digest(a.train),
        "dataset": "UEA BasicMotions (BasicMotions_TRAIN.ts)",
        "validation": {"test_accuracy": acc, "test_samples": int(len(yte)),
                       "test_dataset_digest": fmt.file_digest(a.test)},
        "training": {"epochs": a.epochs, "optimizer": "Adam", "lr": a.lr, "schedule": "cosine", "batch": "full (40)",
                     "seed": a.seed, "grad_clip": 1.0},
    }
    export_pytorch(net.lstm, net.linear, a.out, classes, mean, std, window=T, hop=10,
                   scaler="zscore", provenance=prov)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)")

    # The file as lstmd reads it must give the same probabilities.
    tensors, md = fmt.read_safetensors(a.out)
    npf = fmt.forward_numpy(tensors, md, Xte.astype(np.float32))
    err = np.abs(npf["probabilities"] - probs).max()
    assert err < 1e-9, f"numpy forward of the written model differs by {err}"

    expected = {
        "model": os.path.relpath(a.out, REPO),
        "model_sha256": fmt.file_digest(a.out),
        "test_file": os.path.relpath(a.test, REPO),
        "test_file_sha256": fmt.file_digest(a.test),
        "classes": classes,
        "oracle": f"PyTorch {torch.__version__}, model weights (float32) run in float64 on "
                  f"float32-scaled input",
        "tolerance": 1e-5,
        "test_accuracy": acc,
        "samples": [
            {"index": i, "label": yte_names[i], "label_index": int(yte[i]), "predicted": int(pred[i]),
             "probabilities": [float(p) for p in probs[i]]}
            for i in range(len(yte))
        ],
    }
    tmp = a.expected + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.expected)
    print(f"wrote {a.expected}")


if __name__ == "__main__":
    main()
