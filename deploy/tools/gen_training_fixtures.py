#!/usr/bin/env python3
"""Generate the LSTMKit training (backward-pass) fixtures (Tests/LSTMKitTests/Fixtures/training/).

    python3 deploy/tools/gen_training_fixtures.py [--out DIR] [--only NAME[,NAME...]]

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
      with a convolutional front end (case "frontend_*", "batch_norm": "batch" in the metadata):
        after.frontend.{i}.norm.running_mean  F32 [F_i]  the running statistics after this batch,
        after.frontend.{i}.norm.running_var   F32 [F_i]  momentum 0.1 (see below)
        frontend_l{i}      F32 [B,T,F_i] extra: output of front-end layer i (after its ReLU), zeros at
                                         padded positions
        frontend_l{i}_mean F32 [F_i]     extra: the batch mean and biased variance layer i normalised
        frontend_l{i}_var  F32 [F_i]     with (over the valid positions)
    with __metadata__ {"case", "oracle", "loss", "tolerance"} (plus "batch_norm": "batch" for a front
    end): "tolerance" is a suggested relative tolerance (|got - want| <= tol * max(1, max|want|) per
    tensor) for a float32 implementation.

Semantics (those of gen_fixtures.torch_oracle, i.e. MODEL_FORMAT.md): eval mode, no dropout;
pack_padded_sequence for variable lengths; head "last" = h_n[-1] (bidirectional:
cat(h_n[-2], h_n[-1]), the backward direction's state after running t = len-1 .. 0); head
"attention": s_t = attention.weight . y_t + attention.bias over the valid t, a = softmax_t(s),
pooled = sum_t a_t y_t; then the hidden dense layers (ReLU each), then the classifier.

Front end ("batch_norm": "batch"): TRAINING-mode batch normalisation, as MODEL_FORMAT.md ("Front
end") defines it, implemented by hand in float64 autograd (BatchNorm1d cannot mask): per
layer the causal convolution z (F.pad(x, (k-1, 0)), F.conv1d, no bias), then over the n VALID
positions (b, t < lengths[b]) only mean = sum z / n and the biased var = sum (z - mean)^2 / n,
y = relu(gamma * (z - mean) / sqrt(var + 1e-5) + beta), gradients through mean and var. The
running statistics do not enter the loss: grad.frontend.{i}.norm.running_* are zeros. after.* is
0.9 * running + 0.1 * mean and 0.9 * running + 0.1 * var * n / (n - 1), computed in float64 from the
file's float32 values (and checked against torch's BatchNorm1d in train mode run on the valid
positions alone). The model file's eval-mode semantics (running statistics) are checked against
gen_fixtures.torch_oracle and forward_numpy separately; the stored logits, outputs and gradients
are those of the training-mode pass. The front end's initial running statistics are random
(gen_fixtures.make_front_end), so the 0.9 * running term matters.

The oracle: the model's stored float32 tensors, the stored float32 input and class weights, all
converted to float64 and run through PyTorch autograd; results are stored as float32.

Checks (assertions): the model file reads back bit-exactly (gen_fixtures.check_model_file); the
autograd forward reproduces gen_fixtures.torch_oracle and the pure-numpy lstmd_format.forward_numpy
of the written file (1e-12 / 1e-9); the loss equals the weighted-mean formula above; grad.input is
exactly zero at padded positions and perturbing a padded input leaves the loss bit-identical; no
dense-layer (or front-end) pre-activation is within 1e-3 of the ReLU kink; and a
float64 finite-difference check (4-point central stencil, h = 1e-4) of random gradient entries of
every tensor and of the input agrees with autograd to a relative error < 1e-6.
Regeneration is byte-identical (fixed seeds, 500 + the case's index in CASES; fixed provenance,
single thread) with the same PyTorch, whose version is stored in the .grad files (the older cases
were generated with PyTorch 2.15.0 and before write_model stored lstmd.tensor_sha256). To add a case
without rewriting the others, generate it alone: --only NAME.
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
    # convolutional front end [(filters, kernel), ...], batch normalisation in training mode
    dict(name="frontend_uni_l1_h8_attention", C=3, H=8, L=1, bidir=False, head="attention", hidden=[], K=3,
         T=7, B=4, lengths=[7, 3, 1, 5], front_end=[(5, 3), (4, 2)]),
]

FD_STEP = 1e-4          # 4-point stencil: truncation O(h^4) ~ 1e-16, rounding ~ 1e-16 / h
FD_REL_TOL = 1e-6
RELU_MARGIN = 1e-3      # > 2 * FD_STEP
FD_ENTRIES = 3          # random entries checked per tensor (and for the input)
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


class Model(nn.Module):
    """The lstmd model as PyTorch modules; forward on batch-first [B,T,C] with lengths."""

    def __init__(self, C, H, L, bidir, head, hidden, K, front=None):
        super().__init__()
        D = 2 if bidir else 1
        # front: gen_fixtures.make_front_end modules (CausalConvBN), or None
        self.front = front if front is not None else nn.ModuleList()
        #: True: the front end normalises with the batch's statistics over the valid positions
        #: (training mode); False: with its running statistics (the model file's eval mode)
        self.batch_statistics = False
        self.last_statistics = []
        self.lstm = nn.LSTM(front[-1].conv.out_channels if front else C, H, L, batch_first=True,
                            bidirectional=bidir)
        self.attention = nn.Linear(H * D, 1) if head == "attention" else None
        layers, prev = [], H * D
        for n in hidden:
            layers.append(nn.Linear(prev, n))
            prev = n
        self.hidden = nn.ModuleList(layers)
        self.classifier = nn.Linear(prev, K)

    def named_lstmd_tensors(self):
        """(lstmd tensor name, parameter) for every tensor of the model file (the front end's
        running statistics are buffers)."""
        out = []
        for i, block in enumerate(self.front):
            out.append((f"frontend.{i}.conv.weight", block.conv.weight))
            out += [(f"frontend.{i}.norm.{n}", getattr(block.norm, n))
                    for n in ("weight", "bias", "running_mean", "running_var")]
        out += [(f"lstm.{k}", p) for k, p in self.lstm.named_parameters()]
        if self.attention is not None:
            out += [("attention.weight", self.attention.weight), ("attention.bias", self.attention.bias)]
        for j, lin in enumerate(self.hidden):
            out += [(f"hidden.{j}.weight", lin.weight), (f"hidden.{j}.bias", lin.bias)]
        out += [("classifier.weight", self.classifier.weight), ("classifier.bias", self.classifier.bias)]
        return out

    def front_end(self, x, lens):
        """The front end on x [B,T,C]; returns [B,T,F_last] and records, per layer, (mean, var, n,
        output [B,F,T], pre-activation [B,F,T], valid mask [B,1,T]) in self.last_statistics
        (mean/var: those it normalised with; n: the valid positions)."""
        T = x.shape[1]
        valid = (torch.arange(T)[None, :] < lens[:, None]).unsqueeze(1)  # [B,1,T]
        n = int(valid.sum())
        h = x.transpose(1, 2)
        self.last_statistics = []
        for block in self.front:
            z = F.conv1d(F.pad(h, (block.kernel - 1, 0)), block.conv.weight)  # [B,F,T], causal
            if self.batch_statistics:
                zero = torch.zeros((), dtype=z.dtype)
                mean = torch.where(valid, z, zero).sum(dim=(0, 2)) / n
                var = (torch.where(valid, z - mean[:, None], zero) ** 2).sum(dim=(0, 2)) / n
            else:
                mean, var = block.norm.running_mean, block.norm.running_var
            pre = block.norm.weight[:, None] * (z - mean[:, None]) / torch.sqrt(var[:, None] + BN_EPS) \
                + block.norm.bias[:, None]
            h = torch.relu(pre)
            self.last_statistics.append((mean, var, n, h, pre, valid))
        return h.transpose(1, 2)

    def forward(self, x, lengths):
        B, T, _ = x.shape
        lens = torch.as_tensor(lengths, dtype=torch.long)
        H = self.lstm.hidden_size
        if len(self.front):
            x = self.front_end(x, lens)  # padded steps hold (ignored) values: packing drops them
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

    spec = case.get("front_end", [])
    # the front end first: random BatchNorm statistics too (gen_fixtures.make_front_end)
    front = gf.make_front_end(C, spec, gen) if spec else None
    model = Model(C, H, L, case["bidir"], case["head"], case["hidden"], K, front=front)
    for m in [model.lstm, model.attention, model.classifier, *model.hidden]:
        if m is not None:
            gf._uniform_(m, gen)  # float32 parameters, uniform(-0.5, 0.5)
    model.eval()

    classes = [f"class_{chr(ord('a') + i)}" for i in range(K)]
    path = os.path.join(out_dir, case["name"] + ".safetensors")
    export_pytorch(model.lstm, model.classifier, path, classes, np.zeros(C), np.ones(C), window=T,
                   attention=model.attention, hidden=list(model.hidden), scaler="zscore",
                   provenance=PROVENANCE, front_end=front)
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
    m64.batch_statistics = bool(spec)  # a front end trains with the batch's statistics
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
    w = torch.from_numpy(w32.astype(np.float64))
    y = torch.from_numpy(labels)
    loss, logits, pooled = _loss(m64, x, lengths, y, w)
    statistics = [tuple(v.detach() if torch.is_tensor(v) else v for v in layer) for layer in m64.last_statistics]
    m64.last_statistics = []  # graph tensors: the module must stay deep-copyable
    dlogits, = torch.autograd.grad(loss, logits, retain_graph=True)
    loss.backward()
    grads = {}
    for name, p in m64.named_lstmd_tensors():
        if ".running_" in name:  # buffers: no gradient by definition
            assert p.grad is None and not p.requires_grad, name
            grads[name] = torch.zeros_like(p)
        else:
            grads[name] = p.grad.detach().clone()
    grad_x = x.grad.detach().clone()
    assert set(grads) == set(tensors), (sorted(grads), sorted(tensors))

    # forward checks: gen_fixtures' oracle (per-layer outputs too) and the numpy reference from the file
    npf = fmt.forward_numpy(tensors, md, x32, lengths)
    if not spec:
        ref = gf.torch_oracle(model.lstm, model.attention, list(model.hidden), model.classifier, x32, lengths)
        gf._compare(ref["logits"], logits.detach().numpy(), f"{case['name']} logits vs torch_oracle", 1e-12)
        gf._compare(npf["logits"], logits.detach().numpy(), f"{case['name']} logits vs forward_numpy", 1e-9)
        gf._compare(npf["pooled"], pooled.detach().numpy(), f"{case['name']} pooled vs forward_numpy", 1e-9)
        for k in range(L):
            gf._compare(npf["outputs"][k], ref["outputs"][k], f"{case['name']} outputs_l{k}", 1e-9)
    else:
        # the file's eval mode (running statistics): this module, gen_fixtures' oracle, forward_numpy
        evaluated = copy.deepcopy(m64)
        evaluated.batch_statistics = False
        with torch.no_grad():
            eval_logits, eval_pooled = evaluated(x.detach(), lengths)
        ref_eval = gf.torch_oracle(model.lstm, model.attention, list(model.hidden), model.classifier, x32, lengths,
                                   front=front)
        gf._compare(ref_eval["logits"], eval_logits.numpy(), f"{case['name']} eval logits vs torch_oracle", 1e-12)
        gf._compare(npf["logits"], eval_logits.numpy(), f"{case['name']} eval logits vs forward_numpy", 1e-9)
        gf._compare(npf["pooled"], eval_pooled.numpy(), f"{case['name']} eval pooled vs forward_numpy", 1e-9)
        gf._compare(npf["front_end"], ref_eval["front_end"][-1], f"{case['name']} eval front end", 1e-9)
        for k in range(L):
            gf._compare(npf["outputs"][k], ref_eval["outputs"][k], f"{case['name']} eval outputs_l{k}", 1e-9)
        assert np.abs(eval_logits.numpy() - logits.detach().numpy()).max() > 1e-2, "batch statistics change nothing"
        # the training pass: the oracle's LSTM and head on the training-mode front-end output
        fe_train = statistics[-1][3].transpose(1, 2).numpy()
        ref = gf.torch_oracle(model.lstm, model.attention, list(model.hidden), model.classifier, fe_train, lengths)
        gf._compare(ref["logits"], logits.detach().numpy(), f"{case['name']} logits vs torch_oracle", 1e-12)
        # the batch statistics against torch's BatchNorm1d in train mode on the valid positions alone
        after = {}
        h = x.detach().transpose(1, 2)
        for i, (block, (mean, var, n, out, pre, valid)) in enumerate(zip(m64.front, statistics)):
            z = F.conv1d(F.pad(h, (block.kernel - 1, 0)), block.conv.weight.detach())
            rows = z.transpose(1, 2)[valid[:, 0, :]]                       # [n, F]: the valid positions
            assert rows.shape[0] == n == sum(lengths)
            bn = copy.deepcopy(block.norm).double().train()
            assert bn.momentum == BN_MOMENTUM and bn.eps == BN_EPS
            with torch.no_grad():
                normalized = bn(rows.T.unsqueeze(0))[0].T                  # [n, F]
            gf._compare(torch.relu(normalized).numpy(), out.transpose(1, 2)[valid[:, 0, :]].numpy(),
                        f"{case['name']} front end {i} vs BatchNorm1d(train) on the valid positions", 1e-12)
            run_mean = block.norm.running_mean.double()
            run_var = block.norm.running_var.double()
            after[f"after.frontend.{i}.norm.running_mean"] = (1 - BN_MOMENTUM) * run_mean + BN_MOMENTUM * mean
            after[f"after.frontend.{i}.norm.running_var"] = (1 - BN_MOMENTUM) * run_var + BN_MOMENTUM * var * n / (n - 1)
            gf._compare(bn.running_mean.numpy(), after[f"after.frontend.{i}.norm.running_mean"].numpy(),
                        f"{case['name']} running_mean {i} vs BatchNorm1d", 1e-12)
            gf._compare(bn.running_var.numpy(), after[f"after.frontend.{i}.norm.running_var"].numpy(),
                        f"{case['name']} running_var {i} vs BatchNorm1d", 1e-12)
            h = out

    # ReLU margins: no dense (or front-end) pre-activation within RELU_MARGIN of 0, so that neither
    # the finite differences nor a float32 implementation cross a kink
    for i, (_, _, _, _, pre, valid) in enumerate(statistics):
        margin = float(pre.abs().transpose(1, 2)[valid[:, 0, :]].min())
        assert margin >= RELU_MARGIN, f"{case['name']} front end {i}: pre-activation {margin:.2e} near 0"
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
    metadata = {"case": case["name"],
                "oracle": f"PyTorch {torch.__version__.split('+')[0]} float64 autograd",
                "loss": "cross_entropy(logits, labels, weight=class_weights), reduction mean",
                "tolerance": "1e-4"}
    if spec:
        metadata["batch_norm"] = "batch"
        for name, value in after.items():
            out[name] = value.numpy()
        for i, (mean, var, _, h, _, valid) in enumerate(statistics):
            out[f"frontend_l{i}"] = (h * valid).transpose(1, 2).numpy()
            out[f"frontend_l{i}_mean"] = mean.numpy()
            out[f"frontend_l{i}_var"] = var.numpy()
    fmt.write_tensors(os.path.join(out_dir, case["name"] + ".grad.safetensors"), out, metadata)
    return {"loss": loss.item(), "fd_checked": checked, "fd_worst": worst,
            "max_grad": max(float(g.abs().max()) for g in grads.values())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", metavar="NAME[,NAME...]",
                    help="generate these cases only (the others' files are left alone); default: all")
    a = ap.parse_args(argv)
    only = None if a.only is None else set(a.only.split(","))
    if only is not None and only - {c["name"] for c in CASES}:
        ap.error(f"unknown case(s) {sorted(only - {c['name'] for c in CASES})}; known: {[c['name'] for c in CASES]}")
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    total = 0
    generated = 0
    for i, case in enumerate(CASES):
        if only is not None and case["name"] not in only:
            continue
        generated += 1
        r = gen_case(case, a.out, seed=500 + i)
        size = sum(os.path.getsize(os.path.join(a.out, case["name"] + s))
                   for s in (".safetensors", ".grad.safetensors"))
        total += size
        print(f"{case['name']:36s} loss {r['loss']:.6f}  max|grad| {r['max_grad']:.3g}  "
              f"FD {r['fd_checked']} entries, worst rel err {r['fd_worst']:.2e}  {size} bytes")
    print(f"{generated} cases, {total} bytes in {a.out}")


if __name__ == "__main__":
    main()
