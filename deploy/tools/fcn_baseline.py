#!/usr/bin/env python3
"""A convolutional reference classifier to compare `lstmctl tune` with, on the same machine.

    python3 deploy/tools/fcn_baseline.py --train X_TRAIN.ts --test X_TEST.ts [--seed 1]
        [--epochs 2000] [--threads 1] [--json]

The FCN of Wang, Yan & Oates (IJCNN 2017) as Ismail Fawaz et al. ran it for their published
numbers (`hfawaz/dl-4-tsc`, classifiers/fcn.py): three blocks of Conv1d (128 filters, kernel 8;
256, kernel 5; 128, kernel 3; "same" padding) + BatchNorm + ReLU, global average pooling over
time, a softmax layer; Adam lr 1e-3, ReduceLROnPlateau on the training loss (factor 0.5,
patience 50, min lr 1e-4), batch size min(16, N/10), 2000 epochs, keeping the weights of the
epoch with the lowest training loss. No validation split, no augmentation.

Data: read with the lstmd package's reader (the same rules as lstmctl), z-score per channel with
the training split's statistics (lstmd's default scaler), samples shorter than the longest
zero-padded at the end; every block's output is zeroed past a sample's end and the pooling
averages over its own timesteps, so padding reaches a sample's result only through BatchNorm's
batch statistics in training. The test split is used only for the accuracy printed at the
end, never for a choice. Prints the test accuracy and the 0-based indices of the misclassified
test samples (the order of `lstmctl predict`), so the two can be compared sample by sample.

A reference tool only (PyTorch), never a run-time dependency of lstmd.
"""

import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lstmd.datasets import read_dataset  # noqa: E402

# PyTorch notes that "same" padding with an even kernel (8) copies the input; harmless here.
warnings.filterwarnings("ignore", message="Using padding='same'")


class FCNFeatures(nn.Module):
    """The FCN without its class layer: three convolution blocks and masked average pooling
    (also the FCN branch of deploy/tools/conv_frontend_study.py)."""

    def __init__(self, channels: int):
        super().__init__()
        blocks = []
        width = channels
        for filters, kernel in ((128, 8), (256, 5), (128, 3)):
            blocks.append(nn.Sequential(nn.Conv1d(width, filters, kernel, padding="same"),
                                        nn.BatchNorm1d(filters), nn.ReLU()))
            width = filters
        self.blocks = nn.ModuleList(blocks)
        self.dim = width

    def forward(self, x, mask):
        # x: [B, C, T], mask: [B, 1, T] (1 on a sample's own timesteps). Zeroing the padded steps
        # after every block makes each convolution see zeros past a sample's end, as its own
        # "same" padding does.
        h = x * mask
        for block in self.blocks:
            h = block(h) * mask
        return h.sum(dim=2) / mask.sum(dim=2)


class FCN(nn.Module):
    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.features = FCNFeatures(channels)
        self.out = nn.Linear(self.features.dim, classes)

    def forward(self, x, mask):
        return self.out(self.features(x, mask))


def tensors(samples, mean, std, length):
    n, c = len(samples), samples[0].shape[1]
    x = np.zeros((n, c, length), dtype=np.float32)
    m = np.zeros((n, 1, length), dtype=np.float32)
    for i, s in enumerate(samples):
        t = min(s.shape[0], length)
        x[i, :, :t] = ((s[:t] - mean) / std).T
        m[i, 0, :t] = 1
    return torch.from_numpy(x), torch.from_numpy(m)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2000, help="at least 1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.epochs < 1:
        p.error("--epochs must be at least 1")
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)

    train, test = read_dataset(a.train), read_dataset(a.test)
    if train.classes != test.classes:
        sys.exit("fcn_baseline: the two files declare different classes")
    stacked = np.concatenate(train.samples).astype(np.float64)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0)
    std[std == 0] = 1
    length = max(s.shape[0] for s in train.samples + test.samples)
    xtr, mtr = tensors(train.samples, mean, std, length)
    xte, mte = tensors(test.samples, mean, std, length)
    ytr = torch.tensor(train.labels, dtype=torch.long)
    yte = np.array(test.labels)

    model = FCN(train.channels, len(train.classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=50, min_lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    n = len(ytr)
    batch = max(1, min(16, n // 10))
    best, best_state = float("inf"), None
    start = time.monotonic()
    for _ in range(a.epochs):
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        for b in range(0, n, batch):
            idx = perm[b:b + batch]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx], mtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        epoch_loss = total / n
        sched.step(epoch_loss)
        if epoch_loss < best:
            best = epoch_loss
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model(xte, mte).argmax(dim=1).numpy()
    wrong = [int(i) for i in np.nonzero(pred != yte)[0]]
    accuracy = 1 - len(wrong) / len(yte)
    seconds = time.monotonic() - start
    if a.json:
        print(json.dumps({"seed": a.seed, "accuracy": round(accuracy, 6), "wrong": wrong,
                          "epochs": a.epochs, "seconds": round(seconds, 1)}))
    else:
        print(f"FCN seed {a.seed}: test accuracy {accuracy:.4f} ({len(wrong)} of {len(yte)} wrong: "
              f"{wrong}), {a.epochs} epochs, {seconds:.0f} s")


if __name__ == "__main__":
    main()
