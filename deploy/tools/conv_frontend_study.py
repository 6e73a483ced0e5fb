#!/usr/bin/env python3
"""Architecture study for lstmd on JapaneseVowels (PyTorch, CPU, 1 thread): does a causal
convolutional front end before lstmd's LSTM recipe close the gap to the FCN? A research script
(reference tool only); its results and the decision they support are in the README, "Tuning".
Data: JapaneseVowels_TRAIN.ts / _TEST.ts from $LSTMD_DATASETS (default /tmp/ds).
Models: A = the JapaneseVowels tune winner W re-implemented (BiLSTM 32 + attention); B1/B2 = one or
two causal Conv1d(64, k5) + BatchNorm + ReLU before A (nobn: without BatchNorm; w: 128 filters);
C = LSTM-FCN (an FCN branch beside A); D = deploy/tools/fcn_baseline.py's FCN with W's optimiser.
python conv_frontend_study.py --model A|B1|B2|B1nobn|C|D --mode cv --fold-seed 0 --seed 1 --epochs 100
python conv_frontend_study.py --model A --mode test --seed 1 --epochs 100
Prints one JSON line per fold (cv) or per run (test); accuracies also at checkpoint epochs
(ReduceLROnPlateau on training loss does not depend on the total number of epochs, so the
checkpoint at epoch e equals a run of e epochs with the same seed)."""
import argparse, json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np, torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from lstmd.datasets import read_dataset
from fcn_baseline import FCNFeatures, tensors  # this directory; the same data handling and FCN

torch.set_num_threads(1)
L = 29

class AttnLSTM(nn.Module):
    """BiLSTM (packed, so the backward direction starts at each sample's own end) + attention pooling."""
    def __init__(self, cin, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(cin, hidden, batch_first=True, bidirectional=True)
        self.W = nn.Linear(2 * hidden, 2 * hidden); self.v = nn.Linear(2 * hidden, 1, bias=False)
        self.dim = 2 * hidden
    def forward(self, x, mask):  # x [B,C,T]
        lengths = mask.sum(dim=(1, 2)).long()
        packed = pack_padded_sequence(x.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[2])  # [B,T,2H]
        s = self.v(torch.tanh(self.W(h))).squeeze(2)
        s = s.masked_fill(mask[:, 0] == 0, float("-inf"))
        a = torch.softmax(s, dim=1)
        return (a.unsqueeze(2) * h).sum(1)

class CausalConv(nn.Module):
    def __init__(self, cin, cout, k, bn):
        super().__init__()
        self.k = k; self.conv = nn.Conv1d(cin, cout, k)
        self.bn = nn.BatchNorm1d(cout) if bn else nn.Identity()
    def forward(self, x, mask):
        x = nn.functional.pad(x * mask, (self.k - 1, 0))
        return torch.relu(self.bn(self.conv(x))) * mask

class Net(nn.Module):
    def __init__(self, kind, cin, classes):
        super().__init__()
        self.kind = kind; self.front = nn.ModuleList(); dim = 0
        if kind.startswith("B"):
            spec = {"B1": [(64, 5)], "B1nobn": [(64, 5)], "B2": [(64, 5), (64, 5)], "B2nobn": [(64, 5), (64, 5)],
                    "B1w": [(128, 8)], "B2w": [(128, 8), (128, 5)], "B2wnobn": [(128, 8), (128, 5)]}[kind]
            w = cin
            for f, k in spec:
                self.front.append(CausalConv(w, f, k, bn=not kind.endswith("nobn"))); w = f
            cin_lstm = w
        else:
            cin_lstm = cin
        self.lstm = AttnLSTM(cin_lstm) if kind != "D" else None
        self.fcn = FCNFeatures(cin) if kind in ("C", "D") else None
        dim = (self.lstm.dim if self.lstm else 0) + (self.fcn.dim if self.fcn else 0)
        self.drop = nn.Dropout(0.2 if kind != "D" else 0.0)
        self.out = nn.Linear(dim, classes)
    def forward(self, x, mask):
        feats = []
        if self.lstm is not None:
            h = x * mask
            for c in self.front: h = c(h, mask)
            feats.append(self.lstm(h, mask))
        if self.fcn is not None:
            feats.append(self.fcn(x, mask))
        return self.out(self.drop(torch.cat(feats, 1)))

def augment(x, mask, gen):
    b, c, _ = x.shape
    j = (torch.rand(b, 1, 1, generator=gen) < 0.5).float()
    x = x + j * 0.03 * torch.randn(x.shape, generator=gen)
    s = (torch.rand(b, 1, 1, generator=gen) < 0.5).float()
    scale = 1 + 0.1 * torch.randn(b, c, 1, generator=gen)
    x = x * (s * scale + (1 - s))
    return x * mask

def train_eval(kind, classes, tr_s, tr_y, ev_s, ev_y, seed, epochs, checkpoints, aug=True):
    torch.manual_seed(seed); np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed + 1000)
    st = np.concatenate(tr_s).astype(np.float64); mean, std = st.mean(0), st.std(0); std[std == 0] = 1
    xtr, mtr = tensors(tr_s, mean, std, L); xev, mev = tensors(ev_s, mean, std, L)
    ytr = torch.tensor(tr_y); yev = np.array(ev_y)
    model = Net(kind, xtr.shape[1], classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=10, min_lr=1e-5)
    lf = nn.CrossEntropyLoss(); n = len(ytr); res = {}
    t0 = time.monotonic()
    for ep in range(1, epochs + 1):
        model.train(); perm = torch.randperm(n); tot = 0.0
        for b in range(0, n, 16):
            idx = perm[b:b + 16]
            if len(idx) < 2: continue
            xb = augment(xtr[idx], mtr[idx], gen) if aug else xtr[idx]
            opt.zero_grad(); loss = lf(model(xb, mtr[idx]), ytr[idx]); loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); tot += loss.item() * len(idx)
        sched.step(tot / n)
        if ep in checkpoints:
            model.eval()
            with torch.no_grad(): p = torch.softmax(model(xev, mev), 1).numpy()
            wrong = [int(i) for i in np.nonzero(p.argmax(1) != yev)[0]]
            res[ep] = {"acc": 1 - len(wrong) / len(yev), "wrong": wrong, "loss": round(tot / n, 4),
                       "sec": round(time.monotonic() - t0, 1)}
            if ep == epochs: probs = p
    return res, probs

def folds(y, k, seed):
    rng = np.random.RandomState(seed); y = np.array(y); f = np.zeros(len(y), int)
    for c in np.unique(y):
        idx = np.nonzero(y == c)[0]; rng.shuffle(idx)
        for j, i in enumerate(idx): f[i] = j % k
    # each class is dealt round-robin from fold 0, so the low folds can hold one sample more
    return f

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True); ap.add_argument("--mode", default="cv")
    ap.add_argument("--fold-seed", type=int, default=0); ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=100); ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--noaug", action="store_true")
    ap.add_argument("--probs-dir", default=".", help="where test mode saves its probabilities (.npy)")
    a = ap.parse_args()
    ds = os.environ.get("LSTMD_DATASETS", "/tmp/ds")
    tr = read_dataset(os.path.join(ds, "JapaneseVowels_TRAIN.ts")); te = read_dataset(os.path.join(ds, "JapaneseVowels_TEST.ts"))
    assert max(s.shape[0] for s in tr.samples + te.samples) <= L
    cps = sorted({e for e in (50, 100, 150, 200, 300) if e <= a.epochs} | {a.epochs})
    if a.mode == "cv":
        f = folds(tr.labels, 5, a.fold_seed)
        for k in [int(v) for v in a.folds.split(",")]:
            tri = np.nonzero(f != k)[0]; evi = np.nonzero(f == k)[0]
            res, _ = train_eval(a.model, len(tr.classes), [tr.samples[i] for i in tri], [tr.labels[i] for i in tri],
                                [tr.samples[i] for i in evi], [tr.labels[i] for i in evi], a.seed, a.epochs, cps, not a.noaug)
            print(json.dumps({"model": a.model, "mode": "cv", "fold_seed": a.fold_seed, "fold": k, "n_eval": len(evi),
                              "seed": a.seed, "aug": not a.noaug, "res": res}), flush=True)
    else:
        res, probs = train_eval(a.model, len(tr.classes), tr.samples, tr.labels, te.samples, te.labels, a.seed, a.epochs, cps, not a.noaug)
        np.save(os.path.join(a.probs_dir, f"probs_{a.model}_s{a.seed}_e{a.epochs}.npy"), probs)
        print(json.dumps({"model": a.model, "mode": "test", "seed": a.seed, "aug": not a.noaug, "res": res}), flush=True)
