#!/usr/bin/env python3
"""Generate the LSTMKit test fixtures (Tests/LSTMKitTests/Fixtures/).

    python3 deploy/tools/gen_fixtures.py [--out DIR] [--no-keras] [--only NAME[,NAME...]]

For every case NAME it writes
    NAME.safetensors           an lstmd model (written by export_pytorch / export_keras)
    NAME.expected.safetensors  a plain tensor file:
        input          F32 [B,T,C]   raw (unscaled) input; positions t >= lengths[b] hold large
                                     arbitrary finite values that must be ignored
        lengths        I32 [B]       valid timesteps per sample
        scaled_input   F32 [B,T,C]   input after the model's scaler (computed in float32)
        outputs_l{k}   F32 [B,T,H*D] output of LSTM layer k at each valid step (forward then
                                     backward half), zeros at padded positions
        logits         F32 [B,K]
        probabilities  F32 [B,K]
        frontend_l{i}  F32 [B,T,F_i] only for a model with a convolutional front end (format
                                     version 4), to help debugging: the output of front-end layer i
                                     (after its ReLU) at each valid step, zeros at padded positions
    with __metadata__ {"case", "oracle", "tolerance"}: "tolerance" is the suggested absolute
    tolerance for a float32 implementation.

PyTorch cases: the oracle is the model (its stored float32 weights) converted to float64, run on
the float32-scaled input, with pack_padded_sequence for variable lengths; "last" uses h_n
(bidirectional: cat(h_n[-2], h_n[-1]), the backward state after running t = len-1 .. 0).
A front end (cases "frontend_*") runs in the oracle on the whole padded [B,T,C] input, per layer
F.pad(x, (k-1, 0)) (causal), F.conv1d without bias, BatchNorm1d in eval mode (its running
statistics, eps 1e-5), ReLU; its weights are uniform(-0.5, 0.5) like the others, BatchNorm's
gamma uniform(0.5, 1.5), beta uniform(-0.5, 0.5), running_mean uniform(-0.5, 0.5) and running_var
uniform(0.5, 2), so a reader that skips the normalisation fails.
Keras cases: the oracle is Keras itself in float32 (model.predict for probabilities, the layers
called in inference mode for outputs_l{k} and the class layer's pre-activation for logits).

Checks (assertions): each model file reads back bit-exactly; a pure-numpy float64 forward pass from
the file (lstmd_format.forward_numpy, written from MODEL_FORMAT.md) reproduces the oracle; per-layer
outputs agree with the full multi-layer module.

Seeds are fixed per case (100 + its index in CASES), so regeneration is byte-identical with the
same PyTorch (whose version string is stored in the files: the older cases were generated with
PyTorch 2.15.0+cu132 and before write_model stored lstmd.tensor_sha256). To add a case without
rewriting the others, generate it alone: --only NAME.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lstmd_format as fmt  # noqa: E402
from export_pytorch import export_pytorch  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "Tests", "LSTMKitTests", "Fixtures")
FIXED_PROVENANCE = {"created_at": "2025-01-01T00:00:00Z", "dataset_digest": None,
                    "validation": {}, "fixture": "deploy/tools/gen_fixtures.py, random weights"}

CASES = [
    # name, C, H, L, bidir, head, hidden, K, T, B, lengths, scaler
    dict(name="uni_l1_h8_last", C=3, H=8, L=1, bidir=False, head="last", hidden=[], K=3, T=7, B=4),
    dict(name="uni_l2_h16_dense", C=6, H=16, L=2, bidir=False, head="last", hidden=[12], K=4, T=10, B=3),
    dict(name="uni_l2_h20_attention_varlen", C=5, H=20, L=2, bidir=False, head="attention", hidden=[], K=3,
         T=9, B=4, lengths=[9, 5, 1, 7]),
    dict(name="bi_l1_h8_last", C=3, H=8, L=1, bidir=True, head="last", hidden=[], K=3, T=6, B=3),
    dict(name="bi_l2_h8_attention_dense_varlen", C=4, H=8, L=2, bidir=True, head="attention", hidden=[10, 6],
         K=5, T=8, B=4, lengths=[8, 3, 6, 1]),
    dict(name="uni_l1_h64_minmax", C=6, H=64, L=1, bidir=False, head="last", hidden=[], K=4, T=12, B=2,
         scaler="minmax"),
    dict(name="bi_l2_h12_last_varlen", C=3, H=12, L=2, bidir=True, head="last", hidden=[], K=3, T=7, B=3,
         lengths=[7, 4, 2]),
    # with a convolutional front end (format version 4): front_end = [(filters, kernel), ...]
    dict(name="frontend_uni_l1_h16_attention_varlen", C=3, H=16, L=1, bidir=False, head="attention", hidden=[],
         K=4, T=10, B=4, lengths=[10, 6, 1, 8], front_end=[(8, 5), (12, 3)]),
    dict(name="frontend_bi_l2_h8_last_varlen", C=4, H=8, L=2, bidir=True, head="last", hidden=[], K=3, T=9, B=3,
         lengths=[9, 3, 6], front_end=[(6, 4)]),
]


class CausalConvBN(nn.Module):
    """One front-end layer on [B, C, T]: causal Conv1d (k-1 zeros on the left, no bias),
    BatchNorm1d (eval mode: running statistics), ReLU."""

    def __init__(self, cin, filters, kernel):
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv1d(cin, filters, kernel, bias=False)
        self.norm = nn.BatchNorm1d(filters)

    def forward(self, x):
        return torch.relu(self.norm(F.conv1d(F.pad(x, (self.kernel - 1, 0)), self.conv.weight)))


def make_front_end(C, spec, gen):
    """nn.ModuleList of CausalConvBN for spec [(filters, kernel), ...], float32, random: conv
    weights uniform(-0.5, 0.5), gamma uniform(0.5, 1.5), beta and running_mean uniform(-0.5, 0.5),
    running_var uniform(0.5, 2) (drawn from `gen` in that order, layer by layer)."""
    blocks, cin = [], C
    for filters, kernel in spec:
        blocks.append(CausalConvBN(cin, filters, kernel))
        cin = filters
    front = nn.ModuleList(blocks)

    def uniform(n, lo, hi):
        return torch.rand(n, generator=gen, dtype=torch.float64).mul(hi - lo).add(lo).float()

    with torch.no_grad():
        for block in front:
            _uniform_(block.conv, gen)
            n = block.norm.num_features
            block.norm.weight.copy_(uniform(n, 0.5, 1.5))
            block.norm.bias.copy_(uniform(n, -0.5, 0.5))
            block.norm.running_mean.copy_(uniform(n, -0.5, 0.5))
            block.norm.running_var.copy_(uniform(n, 0.5, 2.0))
    return front.eval()


def front_end_source(front):
    """The lstmd tensors of a front end (float32 numpy), by model-file name."""
    source = {}
    for i, block in enumerate(front):
        source[f"frontend.{i}.conv.weight"] = block.conv.weight.detach().numpy()
        for name in ("weight", "bias", "running_mean", "running_var"):
            source[f"frontend.{i}.norm.{name}"] = getattr(block.norm, name).detach().numpy()
    return source


def _uniform_(module, gen, a=0.5):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64).mul(2 * a).sub(a).float())


def _make_scaler(rng, C, kind):
    if kind == "zscore":
        mean = rng.uniform(-3, 3, C).astype(np.float32)
        std = rng.uniform(0.5, 4, C).astype(np.float32)
        return {"kind": "zscore", "mean": mean, "std": std}
    lo = rng.uniform(-10, 0, C).astype(np.float32)
    hi = (lo + rng.uniform(1, 20, C)).astype(np.float32)
    return {"kind": "minmax", "min": lo, "max": hi}


def _make_input(rng, sc, B, T, C, lengths):
    """Raw input whose scaled values are roughly N(0,1) (z-score) or U(-0.2,1.2) (min-max);
    padded positions get large values so a leak shows."""
    if sc["kind"] == "zscore":
        raw = rng.standard_normal((B, T, C)) * sc["std"] + sc["mean"]
    else:
        raw = sc["min"] + rng.uniform(-0.2, 1.2, (B, T, C)) * (sc["max"] - sc["min"])
    for b, n in enumerate(lengths):
        raw[b, n:] = rng.uniform(-100, 100, (T - n, C))
    return raw.astype(np.float32)


def _single_layer(lstm, k):
    """A 1-layer float64 nn.LSTM holding layer k of `lstm`."""
    D = 2 if lstm.bidirectional else 1
    cin = lstm.input_size if k == 0 else lstm.hidden_size * D
    one = nn.LSTM(cin, lstm.hidden_size, 1, batch_first=True, bidirectional=lstm.bidirectional).double()
    sd = lstm.state_dict()
    one.load_state_dict({name: sd[name.replace("_l0", f"_l{k}")].double() for name in one.state_dict()})
    return one


def torch_oracle(lstm, attention, hidden, linear, x_scaled, lengths, front=None):
    """Float64 oracle. `front`: an optional front end (nn.ModuleList of CausalConvBN), run in eval
    mode on the whole padded input. Returns dict of numpy arrays ("front_end": per-layer outputs
    [B,T,F_i] zeroed at padded steps, [] without a front end)."""
    lstm = copy.deepcopy(lstm).double().eval()
    attention = copy.deepcopy(attention).double() if attention is not None else None
    hidden = [copy.deepcopy(h).double() for h in hidden]
    linear = copy.deepcopy(linear).double()
    x = torch.from_numpy(x_scaled.astype(np.float64))
    B, T, _ = x.shape
    lens = torch.as_tensor(lengths, dtype=torch.long)
    H = lstm.hidden_size
    front_outs = []
    with torch.no_grad():
        if front is not None:
            valid = (torch.arange(T)[None, :] < lens[:, None]).unsqueeze(-1)
            h = x.transpose(1, 2)
            for block in copy.deepcopy(front).double().eval():
                h = block(h)
                front_outs.append((h.transpose(1, 2) * valid).numpy())
            x = h.transpose(1, 2)  # padded steps keep their (ignored) values: packing drops them
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        outs = []
        cur = packed
        for k in range(lstm.num_layers):
            cur, (h_n, _) = _single_layer(lstm, k)(cur)
            outs.append(nn.utils.rnn.pad_packed_sequence(cur, batch_first=True, total_length=T)[0])
        full_p, (full_h, _) = lstm(packed)
        full = nn.utils.rnn.pad_packed_sequence(full_p, batch_first=True, total_length=T)[0]
        assert torch.allclose(full, outs[-1], atol=1e-12, rtol=0)
        y = outs[-1]
        if attention is not None:
            s = attention(y).squeeze(-1)
            mask = torch.arange(T)[None, :] < lens[:, None]
            a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=1)
            z = (a.unsqueeze(-1) * y).sum(dim=1)
        elif lstm.bidirectional:
            z = torch.cat([full_h[-2], full_h[-1]], dim=1)
            # the same thing read from the top layer's outputs
            idx = lens - 1
            fwd = y[torch.arange(B), idx, :H]
            bwd = y[:, 0, H:]
            assert torch.allclose(z, torch.cat([fwd, bwd], 1), atol=1e-12, rtol=0)
        else:
            z = full_h[-1]
            assert torch.allclose(z, y[torch.arange(B), lens - 1], atol=1e-12, rtol=0)
        for lin in hidden:
            z = torch.relu(lin(z))
        logits = linear(z)
        probs = torch.softmax(logits, dim=1)
    return {"outputs": [o.numpy() for o in outs], "logits": logits.numpy(), "probabilities": probs.numpy(),
            "front_end": front_outs}


def check_model_file(path, source_tensors=None):
    """Bit-exact read-back: tensors equal the source arrays, and re-encoding gives the same bytes."""
    tensors, md = fmt.read_safetensors(path)
    if source_tensors is not None:
        assert set(tensors) == set(source_tensors)
        for n, a in source_tensors.items():
            assert tensors[n].dtype == np.float32 and np.array_equal(
                tensors[n].view(np.uint32), np.asarray(a, np.float32).view(np.uint32)), n
    with open(path, "rb") as f:
        original = f.read()
    assert fmt._encode({k: v.astype("<f4") for k, v in tensors.items()}, md) == original, path
    # header layout: padded to a multiple of 8, tensors in sorted name order
    n = int.from_bytes(original[:8], "little")
    assert n % 8 == 0
    header = json.loads(original[8:8 + n])
    header.pop("__metadata__")
    names = sorted(header)
    offs = [header[k]["data_offsets"] for k in names]
    assert offs[0][0] == 0 and all(offs[i][1] == offs[i + 1][0] for i in range(len(offs) - 1))
    fmt.read_model(path)
    return tensors, md


def _compare(ref, got, what, tol):
    err = float(np.max(np.abs(np.asarray(ref, np.float64) - np.asarray(got, np.float64))))
    assert err <= tol, f"{what}: max abs diff {err:.3g} > {tol}"
    return err


def gen_torch_case(case, out_dir, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    C, H, L, K, T, B = case["C"], case["H"], case["L"], case["K"], case["T"], case["B"]
    D = 2 if case["bidir"] else 1
    lengths = case.get("lengths", [T] * B)
    spec = case.get("front_end", [])
    # batch_first alternates between cases: it must not matter to the exporter
    lstm = nn.LSTM(spec[-1][0] if spec else C, H, L, batch_first=seed % 2 == 0, bidirectional=case["bidir"])
    attention = nn.Linear(H * D, 1) if case["head"] == "attention" else None
    hidden, prev = [], H * D
    for n in case["hidden"]:
        hidden.append(nn.Linear(prev, n))
        prev = n
    linear = nn.Linear(prev, K)
    for m in [lstm, attention, linear, *hidden]:
        if m is not None:
            _uniform_(m, gen)
    front = make_front_end(C, spec, gen) if spec else None
    kind = case.get("scaler", "zscore")
    sc = _make_scaler(rng, C, kind)
    classes = [f"class_{chr(ord('a') + i)}" for i in range(K)]
    path = os.path.join(out_dir, case["name"] + ".safetensors")
    if kind == "zscore":
        export_pytorch(lstm, linear, path, classes, sc["mean"], sc["std"], window=T, attention=attention,
                       hidden=hidden, scaler="zscore", provenance=FIXED_PROVENANCE, front_end=front)
    else:
        export_pytorch(lstm, linear, path, classes, window=T, attention=attention, hidden=hidden,
                       scaler="minmax", minimum=sc["min"], maximum=sc["max"], provenance=FIXED_PROVENANCE,
                       front_end=front)
    source = {f"lstm.{k}": v.detach().numpy() for k, v in lstm.state_dict().items()}
    if front is not None:
        source.update(front_end_source(front))
    if attention is not None:
        source["attention.weight"] = attention.weight.detach().numpy()
        source["attention.bias"] = attention.bias.detach().numpy()
    for j, h in enumerate(hidden):
        source[f"hidden.{j}.weight"] = h.weight.detach().numpy()
        source[f"hidden.{j}.bias"] = h.bias.detach().numpy()
    source["classifier.weight"] = linear.weight.detach().numpy()
    source["classifier.bias"] = linear.bias.detach().numpy()
    tensors, md = check_model_file(path, source)
    assert md["format_version"] == ("4" if spec else "1"), md["format_version"]

    raw = _make_input(rng, sc, B, T, C, lengths)
    scaled = fmt.apply_scaler(json.loads(md["scaler"]), raw)
    ref = torch_oracle(lstm, attention, hidden, linear, scaled, lengths, front)  # [B,T,C] via packing
    npf = fmt.forward_numpy(tensors, md, raw, lengths)
    if front is not None:
        _compare(ref["front_end"][-1], npf["front_end"], f"{case['name']} front end", 1e-9)
        # the running statistics matter: without the normalisation the logits are far off
        plain = {n: (np.zeros_like(t) if n.endswith("running_mean") else np.ones_like(t) if
                     n.endswith("running_var") else t) for n, t in tensors.items()}
        off = np.abs(fmt.forward_numpy(plain, md, raw, lengths)["logits"] - ref["logits"]).max()
        assert off > 1e-2, f"{case['name']}: the running statistics barely change the logits ({off:.2g})"
    for k in range(L):
        _compare(ref["outputs"][k], npf["outputs"][k], f"{case['name']} outputs_l{k}", 1e-9)
    _compare(ref["logits"], npf["logits"], f"{case['name']} logits", 1e-9)
    _compare(ref["probabilities"], npf["probabilities"], f"{case['name']} probabilities", 1e-9)
    exp = {"input": raw, "lengths": np.asarray(lengths, np.int32), "scaled_input": scaled,
           "logits": ref["logits"], "probabilities": ref["probabilities"]}
    for k in range(L):
        exp[f"outputs_l{k}"] = ref["outputs"][k]
    for i, out in enumerate(ref["front_end"]):
        exp[f"frontend_l{i}"] = out
    fmt.write_tensors(os.path.join(out_dir, case["name"] + ".expected.safetensors"), exp,
                      {"case": case["name"], "oracle": f"PyTorch {torch.__version__} float64",
                       "tolerance": "1e-5"})
    return ref


# --------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------

KERAS_CASES = [
    dict(name="keras_l2_h16_dense", C=6, T=10, B=3, K=4, seed=801),
    dict(name="keras_bi_h8", C=3, T=6, B=3, K=3, seed=802),
]


def _keras_model(name, C, T, K):
    import keras
    from keras import layers as KL
    if name == "keras_l2_h16_dense":
        return keras.Sequential([
            keras.Input((T, C)),
            KL.LSTM(16, return_sequences=True), KL.Dropout(0.3),
            KL.LSTM(16), KL.Dropout(0.3),
            KL.Dense(8, activation="relu"),
            KL.Dense(K, activation="softmax"),
        ])
    return keras.Sequential([
        keras.Input((T, C)),
        KL.Bidirectional(KL.LSTM(8)),
        KL.Dense(K, activation="softmax"),
    ])


def _keras_layer_sequences(model, x):
    """Per-LSTM-layer outputs [B,T,H*D] (float32, Keras inference mode). The last LSTM layer is
    re-run as a return_sequences=True copy with the same weights."""
    import keras
    from keras import layers as KL
    outs = []
    cur = keras.ops.convert_to_tensor(x)
    for layer in model.layers:
        if isinstance(layer, (KL.LSTM, KL.Bidirectional)):
            inner = layer.forward_layer if isinstance(layer, KL.Bidirectional) else layer
            if not inner.return_sequences:
                units = inner.units
                seq = (KL.Bidirectional(KL.LSTM(units, return_sequences=True))
                       if isinstance(layer, KL.Bidirectional) else KL.LSTM(units, return_sequences=True))
                seq.build(tuple(cur.shape))
                seq.set_weights(layer.get_weights())
                outs.append(keras.ops.convert_to_numpy(seq(cur, training=False)))
            else:
                outs.append(keras.ops.convert_to_numpy(layer(cur, training=False)))
        if layer is model.layers[-1]:
            w, b = layer.get_weights()
            logits = keras.ops.convert_to_numpy(keras.ops.matmul(cur, keras.ops.convert_to_tensor(w))
                                                + keras.ops.convert_to_tensor(b))
        cur = layer(cur, training=False)
    return outs, logits


def gen_keras_case(case, out_dir):
    import keras
    from export_keras import export_keras
    seed = case["seed"]
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    C, T, B, K = case["C"], case["T"], case["B"], case["K"]
    model = _keras_model(case["name"], C, T, K)
    # random non-zero weights and biases, uniform(-0.5, 0.5)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    sc = _make_scaler(rng, C, "zscore")
    classes = [f"class_{chr(ord('a') + i)}" for i in range(K)]
    path = os.path.join(out_dir, case["name"] + ".safetensors")
    export_keras(model, path, classes, sc["mean"], sc["std"], window=T, provenance=FIXED_PROVENANCE)
    tensors, md = check_model_file(path)
    arch = json.loads(md["architecture"])

    lengths = [T] * B
    raw = _make_input(rng, sc, B, T, C, lengths)
    scaled = fmt.apply_scaler(json.loads(md["scaler"]), raw)
    probs = np.asarray(model.predict(scaled, verbose=0), np.float64)
    outs, logits = _keras_layer_sequences(model, scaled)
    assert len(outs) == arch["num_layers"]
    # the Keras -> PyTorch gate-order conversion, checked numerically against Keras itself
    npf = fmt.forward_numpy(tensors, md, raw, lengths)
    for k in range(arch["num_layers"]):
        _compare(outs[k], npf["outputs"][k], f"{case['name']} outputs_l{k} (Keras vs numpy)", 1e-5)
    _compare(logits, npf["logits"], f"{case['name']} logits (Keras vs numpy)", 1e-5)
    _compare(probs, npf["probabilities"], f"{case['name']} probabilities (Keras vs numpy)", 1e-5)
    # and against PyTorch's nn.LSTM loaded with the exported tensors
    D = 2 if arch["bidirectional"] else 1
    lstm = nn.LSTM(C, arch["hidden_size"], arch["num_layers"], batch_first=True,
                   bidirectional=arch["bidirectional"]).double()
    lstm.load_state_dict({k: torch.from_numpy(tensors["lstm." + k].astype(np.float64))
                          for k in lstm.state_dict()})
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(scaled.astype(np.float64)))
    _compare(outs[-1], y.numpy(), f"{case['name']} top layer (Keras vs torch.nn.LSTM)", 1e-5)
    assert y.shape[-1] == arch["hidden_size"] * D
    exp = {"input": raw, "lengths": np.asarray(lengths, np.int32), "scaled_input": scaled,
           "logits": logits, "probabilities": probs}
    for k in range(arch["num_layers"]):
        exp[f"outputs_l{k}"] = outs[k]
    fmt.write_tensors(os.path.join(out_dir, case["name"] + ".expected.safetensors"), exp,
                      {"case": case["name"],
                       "oracle": f"Keras {keras.__version__} float32 ({keras.backend.backend()} backend), model.predict",
                       "tolerance": "2e-5"})
    return probs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras cases")
    ap.add_argument("--only", metavar="NAME[,NAME...]",
                    help="generate these cases only (the others' files are left alone); default: all")
    a = ap.parse_args(argv)
    only = None if a.only is None else set(a.only.split(","))
    known = {c["name"] for c in CASES + KERAS_CASES}
    if only is not None and only - known:
        ap.error(f"unknown case(s) {sorted(only - known)}; known: {sorted(known)}")
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    written = []
    for i, case in enumerate(CASES):
        if only is not None and case["name"] not in only:
            continue
        ref = gen_torch_case(case, a.out, seed=100 + i)
        p = ref["probabilities"]
        print(f"{case['name']:36s} max prob {p.max():.3f} min prob {p.min():.3f}")
        written.append(case["name"])
    if not a.no_keras and (only is None or only & {c["name"] for c in KERAS_CASES}):
        try:
            import keras  # noqa: F401
        except Exception as e:  # noqa: BLE001
            print(f"keras unavailable ({e}); skipping Keras cases", file=sys.stderr)
        else:
            for case in KERAS_CASES:
                if only is not None and case["name"] not in only:
                    continue
                p = gen_keras_case(case, a.out)
                print(f"{case['name']:36s} max prob {p.max():.3f} min prob {p.min():.3f}")
                written.append(case["name"])
    total = 0
    for name in written:
        for sfx in (".safetensors", ".expected.safetensors"):
            total += os.path.getsize(os.path.join(a.out, name + sfx))
    print(f"{len(written)} cases, {total} bytes in {a.out}")


if __name__ == "__main__":
    main()
