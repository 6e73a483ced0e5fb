#!/usr/bin/env python3
"""Generate the LSTMKit training (backward-pass) fixtures (Tests/LSTMKitTests/Fixtures/training/).

    python3 deploy/tools/gen_training_fixtures.py [--out DIR]

For every case NAME it writes
    NAME.safetensors        an lstmd model (written by export_pytorch, like gen_fixtures.py) with an
                            identity z-score scaler (mean 0, std 1) and fixed provenance, random
                            weights and biases uniform(-0.5, 0.5)
    NAME.grad.safetensors   a plain tensor file (lstmd_format.write_tensors):
        input              F32 [B,T,C]   the input, ALREADY SCALED (the scaler is the identity anyway);
                                         positions t >= lengths[b] hold large arbitrary finite values
                                         (|x| in [5, 10]) that must be ignored
        lengths            I32 [B]       valid timesteps per sample (1 <= lengths[b] <= T)
        labels             I32 [B]       target class per sample, 0 <= labels[b] < K
        class_weights      F32 [K]       per-class loss weights, uniform(0.5, 2) (non-uniform)
        logits             F32 [B,K]     forward output (pre-softmax)
        loss               F32 [1]       weighted mean cross-entropy, exactly
                                         torch.nn.functional.cross_entropy(logits, labels, weight=class_weights):
                                         sum_b w[y_b] * (-log softmax(logits_b)[y_b]) / sum_b w[y_b]
        grad.<tensor name> F32, for EVERY tensor of the model file (same name after "grad.", same
                                         shape): d loss / d tensor
        grad.input         F32 [B,T,C]   d loss / d input; exactly zero at padded positions
      extras, to help debug a backward pass stage by stage:
        dloss_dlogits      F32 [B,K]     d loss / d logits = w[y_b] (softmax_b - onehot(y_b)) / sum_b w[y_b]
        pooled             F32 [B,H*D]   the head's output (input of the dense layers / classifier)
        outputs_l{k}       F32 [B,T,H*D] output of LSTM layer k (forward half then backward half),
                                         zeros at padded positions
    with __metadata__ {"case", "oracle", "loss", "tolerance"}: "tolerance" is a suggested relative
    tolerance (|got - want| <= tol * max(1, max|want|) per tensor) for a float32 implementation.

Semantics (those of gen_fixtures.torch_oracle, i.e. MODEL_FORMAT.md): eval mode, no dropout;
pack_padded_sequence for variable lengths; head "last" = h_n[-1] (bidirectional:
cat(h_n[-2], h_n[-1]), the backward direction's state after running t = len-1 .. 0); head
"attention": s_t = attention.weight . y_t + attention.bias over the valid t, a = softmax_t(s),
pooled = sum_t a_t y_t; then the hidden dense layers (ReLU each), then the classifier.

The oracle: the model's stored float32 tensors, the stored float32 input and class weights, all
converted to float64 and run through PyTorch autograd; results are stored as float32.

Checks (assertions): the model file reads back bit-exactly (gen_fixtures.check_model_file); the
autograd forward reproduces gen_fixtures.torch_oracle and the pure-numpy lstmd_format.forward_numpy
of the written file (1e-12 / 1e-9); the loss equals the weighted-mean formula above; grad.input is
exactly zero at padded positions and perturbing a padded input leaves the loss bit-identical; no
dense-layer pre-activation is within 1e-3 of the ReLU kink; and a
float64 finite-difference check (4-point central stencil, h = 1e-4) of random gradient entries of
every tensor and of the input agrees with autograd to a relative error < 1e-6.
Regeneration is byte-identical (fixed seeds, fixed provenance, single thread).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lstmd_format as fmt  # noqa: E402
import gen_fixtures as gf  # noqa: E402
from export_pytorch import export_pytorch  # noqa: E402

DEFAULT_OUT = os.path.join(gf.REPO, "Tests", "LSTMKitTests", "Fixtures", "training")
PROVENANCE = {"created_at": "2025-01-01T00:00:00Z", "trainer": "gen_training_fixtures.py",
              "dataset_digest": None, "validation": {},
              "fixture": "deploy/tools/gen_training_fixtures.py, random weights"}

CASES = [
    dict(name="uni_l1_h8_last", C=3, H=8, L=1, bidir=False, head="last", hidden=[], K=3, T=6, B=4),
    dict(name="uni_l2_h6_attention_dense_varlen", C=4, H=6, L=2, bidir=False, head="attention", hidden=[5],
         K=3, T=7, B=4, lengths=[7, 3, 1, 5]),
    dict(name="bi_l2_h5_last_varlen", C=3, H=5, L=2, bidir=True, head="last", hidden=[], K=4, T=6, B=3,
         lengths=[6, 2, 4]),
    dict(name="bi_l1_h4_attention_dense", C=2, H=4, L=1, bidir=True, head="attention", hidden=[6, 3], K=3,
         T=5, B=3),
    dict(name="uni_l1_h16_last_batch", C=6, H=16, L=1, bidir=False, head="last", hidden=[], K=4, T=20, B=8),
]

FD_STEP = 1e-4          # 4-point stencil: truncation O(h^4) ~ 1e-16, rounding ~ 1e-16 / h
FD_REL_TOL = 1e-6
RELU_MARGIN = 1e-3      # > 2 * FD_STEP
FD_ENTRIES = 3          # random entries checked per tensor (and for the input)


class Model(nn.Module):
    """The lstmd model as PyTorch modules; forward on batch-first [B,T,C] with lengths."""

    def __init__(self, C, H, L, bidir, head, hidden, K):
        super().__init__()
        D = 2 if bidir else 1
        self.lstm = nn.LSTM(C, H, L, batch_first=True, bidirectional=bidir)
        self.attention = nn.Linear(H * D, 1) if head == "attention" else None
        layers, prev = [], H * D
        for n in hidden:
            layers.append(nn.Linear(prev, n))
            prev = n
        self.hidden = nn.ModuleList(layers)
        self.classifier = nn.Linear(prev, K)

    def named_lstmd_tensors(self):
        """(lstmd tensor name, parameter) for every tensor of the model file."""
        out = [(f"lstm.{k}", p) for k, p in self.lstm.named_parameters()]
        if self.attention is not None:
            out += [("attention.weight", self.attention.weight), ("attention.bias", self.attention.bias)]
        for j, lin in enumerate(self.hidden):
            out += [(f"hidden.{j}.weight", lin.weight), (f"hidden.{j}.bias", lin.bias)]
        out += [("classifier.weight", self.classifier.weight), ("classifier.bias", self.classifier.bias)]
        return out

    def forward(self, x, lengths):
        B, T, _ = x.shape
        lens = torch.as_tensor(lengths, dtype=torch.long)
        H = self.lstm.hidden_size
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        out_p, (h_n, _) = self.lstm(packed)
        y = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)[0]
        if self.attention is not None:
            s = self.attention(y).squeeze(-1)
            mask = torch.arange(T)[None, :] < lens[:, None]
            a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=1)
            z = (a.unsqueeze(-1) * y).sum(dim=1)
        elif self.lstm.bidirectional:
            z = torch.cat([h_n[-2], h_n[-1]], dim=1)
        else:
            z = h_n[-1]
        pooled = z
        for lin in self.hidden:
            z = torch.relu(lin(z))
        return self.classifier(z), pooled


def _loss(model, x, lengths, labels, weights):
    logits, pooled = model(x, lengths)
    return F.cross_entropy(logits, labels, weight=weights), logits, pooled


def _finite_difference(model, x, lengths, labels, weights, tensor, index):
    """d loss / d tensor[index] by the 4-point central stencil, float64, no autograd."""
    h = FD_STEP
    with torch.no_grad():
        orig = tensor[index].item()

        def at(v):
            tensor[index] = v
            return _loss(model, x, lengths, labels, weights)[0].item()

        fp1, fm1, fp2, fm2 = at(orig + h), at(orig - h), at(orig + 2 * h), at(orig - 2 * h)
        tensor[index] = orig
    return (8.0 * (fp1 - fm1) - (fp2 - fm2)) / (12.0 * h)


def _rel_err(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def gen_case(case, out_dir, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    C, H, L, K, T, B = case["C"], case["H"], case["L"], case["K"], case["T"], case["B"]
    D = 2 if case["bidir"] else 1
    lengths = list(case.get("lengths", [T] * B))
    assert len(lengths) == B and all(1 <= n <= T for n in lengths)

    model = Model(C, H, L, case["bidir"], case["head"], case["hidden"], K)
    for m in [model.lstm, model.attention, model.classifier, *model.hidden]:
        if m is not None:
            gf._uniform_(m, gen)  # float32 parameters, uniform(-0.5, 0.5)
    model.eval()

    classes = [f"class_{chr(ord('a') + i)}" for i in range(K)]
    path = os.path.join(out_dir, case["name"] + ".safetensors")
    export_pytorch(model.lstm, model.classifier, path, classes, np.zeros(C), np.ones(C), window=T,
                   attention=model.attention, hidden=list(model.hidden), scaler="zscore",
                   provenance=PROVENANCE)
    source = {name: p.detach().numpy() for name, p in model.named_lstmd_tensors()}
    tensors, md = gf.check_model_file(path, source)

    # inputs (float32: exactly what is stored), labels, class weights
    x32 = rng.standard_normal((B, T, C)).astype(np.float32)
    for b, n in enumerate(lengths):
        pad = rng.uniform(5, 10, (T - n, C)) * rng.choice([-1.0, 1.0], (T - n, C))
        x32[b, n:] = pad.astype(np.float32)
    labels = rng.integers(0, K, B).astype(np.int64)
    w32 = rng.uniform(0.5, 2.0, K).astype(np.float32)

    # float64 autograd
    m64 = copy.deepcopy(model).double().eval()
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
    w = torch.from_numpy(w32.astype(np.float64))
    y = torch.from_numpy(labels)
    loss, logits, pooled = _loss(m64, x, lengths, y, w)
    dlogits, = torch.autograd.grad(loss, logits, retain_graph=True)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in m64.named_lstmd_tensors()}
    grad_x = x.grad.detach().clone()
    assert set(grads) == set(tensors), (sorted(grads), sorted(tensors))

    # forward checks: gen_fixtures' oracle (per-layer outputs too) and the numpy reference from the file
    ref = gf.torch_oracle(model.lstm, model.attention, list(model.hidden), model.classifier, x32, lengths)
    gf._compare(ref["logits"], logits.detach().numpy(), f"{case['name']} logits vs torch_oracle", 1e-12)
    npf = fmt.forward_numpy(tensors, md, x32, lengths)
    gf._compare(npf["logits"], logits.detach().numpy(), f"{case['name']} logits vs forward_numpy", 1e-9)
    gf._compare(npf["pooled"], pooled.detach().numpy(), f"{case['name']} pooled vs forward_numpy", 1e-9)
    for k in range(L):
        gf._compare(npf["outputs"][k], ref["outputs"][k], f"{case['name']} outputs_l{k}", 1e-9)

    # ReLU margins: no dense pre-activation within RELU_MARGIN of 0, so that neither the finite
    # differences nor a float32 implementation cross a kink
    with torch.no_grad():
        z = pooled
        for j, lin in enumerate(m64.hidden):
            pre = lin(z)
            margin = float(pre.abs().min())
            assert margin >= RELU_MARGIN, f"{case['name']} hidden.{j}: pre-activation {margin:.2e} near 0"
            z = torch.relu(pre)

    # loss formula and d loss / d logits
    lg = logits.detach().numpy()
    logp = lg - lg.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    wy = w32.astype(np.float64)[labels]
    want = float((wy * -logp[np.arange(B), labels]).sum() / wy.sum())
    assert abs(want - loss.item()) <= 1e-14 * max(1.0, abs(want)), (want, loss.item())
    onehot = np.eye(K)[labels]
    want_d = wy[:, None] * (np.exp(logp) - onehot) / wy.sum()
    gf._compare(want_d, dlogits.numpy(), f"{case['name']} dloss/dlogits", 1e-14)

    # padded positions: zero gradient, and no influence at all on the loss
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    assert np.all(grad_x.numpy()[~mask] == 0.0), "grad.input is not zero at padded positions"
    if not mask.all():
        with torch.no_grad():
            xp = x.detach().clone()
            xp[torch.from_numpy(~mask)] += 3.25
            assert _loss(m64, xp, lengths, y, w)[0].item() == loss.item(), "padded input changes the loss"

    # finite differences (float64) on random entries of every tensor and of the valid input
    fd_rng = np.random.default_rng(seed + 1000)
    worst = 0.0
    checked = 0
    params = dict(m64.named_lstmd_tensors())
    targets = [(name, params[name].data, grads[name]) for name in sorted(params)]
    targets.append(("input", x.data, grad_x))
    for name, tensor, g in targets:
        flat_choices = np.arange(tensor.numel())
        if name == "input":
            flat_choices = flat_choices[np.repeat(mask.reshape(-1), C)]
        for flat in fd_rng.choice(flat_choices, size=min(FD_ENTRIES, len(flat_choices)), replace=False):
            index = tuple(int(i) for i in np.unravel_index(int(flat), tuple(tensor.shape)))
            fd = _finite_difference(m64, x.detach(), lengths, y, w, tensor, index)
            ag = g[index].item()
            err = _rel_err(fd, ag)
            if abs(fd) < 1e-9 and abs(ag) < 1e-9:
                err = abs(fd - ag)  # both (numerically) zero: e.g. a ReLU that is off
            assert err < FD_REL_TOL, f"{case['name']} {name}{list(index)}: autograd {ag!r} vs FD {fd!r} (rel {err:.2e})"
            worst = max(worst, err)
            checked += 1

    out = {
        "input": x32,
        "lengths": np.asarray(lengths, np.int32),
        "labels": labels.astype(np.int32),
        "class_weights": w32,
        "logits": lg,
        "loss": np.asarray([loss.item()]),
        "grad.input": grad_x.numpy(),
        "dloss_dlogits": dlogits.numpy(),
        "pooled": pooled.detach().numpy(),
    }
    for name, g in grads.items():
        out["grad." + name] = g.numpy()
    for k in range(L):
        out[f"outputs_l{k}"] = ref["outputs"][k]
    fmt.write_tensors(os.path.join(out_dir, case["name"] + ".grad.safetensors"), out,
                      {"case": case["name"],
                       "oracle": f"PyTorch {torch.__version__.split('+')[0]} float64 autograd",
                       "loss": "cross_entropy(logits, labels, weight=class_weights), reduction mean",
                       "tolerance": "1e-4"})
    return {"loss": loss.item(), "fd_checked": checked, "fd_worst": worst,
            "max_grad": max(float(g.abs().max()) for g in grads.values())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    total = 0
    for i, case in enumerate(CASES):
        r = gen_case(case, a.out, seed=500 + i)
        size = sum(os.path.getsize(os.path.join(a.out, case["name"] + s))
                   for s in (".safetensors", ".grad.safetensors"))
        total += size
        print(f"{case['name']:36s} loss {r['loss']:.6f}  max|grad| {r['max_grad']:.3g}  "
              f"FD {r['fd_checked']} entries, worst rel err {r['fd_worst']:.2e}  {size} bytes")
    print(f"{len(CASES)} cases, {total} bytes in {a.out}")


if __name__ == "__main__":
    main()
