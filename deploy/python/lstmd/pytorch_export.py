#!/usr/bin/env python3
"""Export a PyTorch LSTM classifier to an lstmd model file (MODEL_FORMAT.md, format version 1;
version 4 with a convolutional front end).

Install with ``pip install "./deploy/python[pytorch]"`` (from the lstmd repository); without
installing, ``deploy/tools/export_pytorch.py`` runs this module from the source tree.

Python API
----------
    from lstmd import export_pytorch        # (old scripts: from export_pytorch import export_pytorch)
    export_pytorch(lstm, linear, "model.safetensors", classes=["a", "b"], mean=[...], std=[...],
                   window=100, attention=None, hidden=None, hop=None, scaler="zscore",
                   provenance=None, verbose=True, front_end=None)

    lstm       torch.nn.LSTM: batch_first either way, num_layers 1-4, bidirectional or not, bias
               True or False (False is written as zero biases). proj_size != 0 is refused.
               The LSTM's `dropout` (training only) is recorded in architecture.dropout.
    linear     torch.nn.Linear(N_last, K): the class layer (softmax follows at inference).
    attention  optional torch.nn.Linear(H*D, 1): attention pooling head (else head = "last").
    hidden     optional list (or nn.Sequential of Linear/ReLU) of torch.nn.Linear applied, each
               followed by ReLU, between the head and `linear`.
    front_end  optional convolutional front end before the LSTM (format version 4): a module or a
               list of modules holding, in registration order, nn.Conv1d, nn.BatchNorm1d, nn.Conv1d,
               nn.BatchNorm1d, ... (e.g. nn.Sequential(Conv1d, BatchNorm1d, ReLU, ...), or a
               ModuleList of blocks with .conv and .bn/.norm; ReLU after each BatchNorm is implied;
               other layers, e.g. GELU or MaxPool1d, are refused).
               At most 4 layers; each Conv1d has stride 1, dilation 1, groups 1, zero padding 0 or
               k-1, and lstmd runs it CAUSALLY (k-1 zeros before t = 0, the output at t reads
               t-k+1 .. t): the module's own forward must do the same (F.pad(x, (k-1, 0)) before
               the conv, or padding k-1 and the last k-1 outputs dropped). A conv bias is folded
               into the BatchNorm's running mean. BatchNorm1d needs running statistics
               (track_running_stats) and eps 1e-5; lstmd runs it in eval mode. The first Conv1d's
               in_channels are the scaler's channels; the LSTM's input_size is the last filters.
    mean, std  per-channel scaler values (C floats each). With scaler="minmax" they are read as
               min and max instead; `minimum=`/`maximum=` keywords may be used for that.
    window     timesteps per window the model was trained on; hop defaults to max(1, window // 10).
    provenance dict merged over the defaults {created_at: now, trainer: "export_pytorch.py
               (PyTorch x.y)", dataset_digest: null, validation: {}}.
    mode       optional "window" or "continuous".
    verify     (default True) after writing, read the file back and check that a pure-numpy
               float64 forward pass from it (lstmd.format.forward_numpy, written from
               MODEL_FORMAT.md) matches the PyTorch modules on 3 random windows (7, 4 and 1
               steps), within 1e-4 on every probability (raises ExportError if not); a front end
               runs there as described above, in eval mode.
    verbose    (default False) print a line saying what was written and verified.

Command line
------------
    lstmd-export-pytorch --checkpoint ckpt.pt --out model.safetensors
    (or: python3 deploy/tools/export_pytorch.py ..., python3 -m lstmd.pytorch_export ...)

ckpt.pt is a dict saved with torch.save, with keys:
    "lstm"       nn.LSTM state_dict (weight_ih_l0, ..., optional *_reverse) or an nn.LSTM module.
                 From a state dict the configuration is inferred: input_size and hidden_size from
                 weight_ih_l0 / weight_hh_l0, num_layers from the highest l{k}, bidirectional from
                 *_reverse keys, bias from bias_ih_l0. Keys may carry a "lstm." prefix.
    "linear"     nn.Linear state_dict {"weight": [K, N], "bias": [K]} or module.
    "attention"  optional, nn.Linear(H*D, 1) state_dict or module.
    "hidden"     optional, list of nn.Linear state_dicts or modules (ReLU after each).
    "classes"    list of K class names (output order).
    "mean", "std" lists (or tensors) of C floats (z-score scaler), or
    "min", "max"  for a min-max scaler (then set "scaler": "minmax" or pass --scaler minmax).
                 Instead, --scaler-from TRAIN.ts|TRAIN.csv fits the scaler on a training data file
                 as lstmctl train does, and --scaler-json FILE reads {"mean": [...], "std": [...]}
                 (or {"min": [...], "max": [...]}).
    "window"     int.
    optional:   "hop" (int), "scaler" ("zscore" | "minmax"), "mode" ("window" | "continuous"),
                "dropout" (float, recorded only), "provenance" (dict).
A convolutional front end is exported by the Python API only (front_end=...), not from a checkpoint.
Command-line options override the checkpoint's values (write lists starting with a minus sign
as --mean=-1.5,2,0). LSTMs with proj_size are refused (the lstmd format has no projection).
State dicts load with
torch.load(weights_only=True); a checkpoint holding whole modules needs --allow-pickle
(unpickling runs code from the file: only use it on checkpoints you trust).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # the package installs without PyTorch; export_pytorch()/main() say so
    torch = nn = None

from . import format as fmt
from ._common import (ExportError, Verification, add_scaler_file_options, describe_architecture, floats as _floats,
                      provenance_from_options, scaler_from_options, verification_line)

TORCH_MISSING = ("PyTorch is not installed: pip install torch (CPU build: pip install torch "
                 "--index-url https://download.pytorch.org/whl/cpu), or pip install \"./deploy/python[pytorch]\"")





def _np(t) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().astype(np.float32)


def _hidden_list(hidden):
    if hidden is None:
        return []
    if isinstance(hidden, nn.Linear):
        return [hidden]
    layers = []
    for m in hidden:
        if isinstance(m, nn.ReLU):
            continue  # tolerated in an nn.Sequential; ReLU is implied after every hidden layer
        if not isinstance(m, nn.Linear):
            raise ExportError(f"hidden layers must be nn.Linear (ReLU implied), got {type(m).__name__}")
        layers.append(m)
    return layers


def _check_lstm(lstm):
    if not isinstance(lstm, nn.LSTM):
        raise ExportError(f"lstm must be torch.nn.LSTM, got {type(lstm).__name__}")
    if getattr(lstm, "proj_size", 0):
        raise ExportError(f"proj_size is not supported by the lstmd format (this LSTM has proj_size="
                          f"{lstm.proj_size}); export an LSTM without projections")
    if not 1 <= lstm.num_layers <= 4:
        raise ExportError(f"LSTM num_layers must be 1-4, got {lstm.num_layers}")
    if lstm.mode != "LSTM":
        raise ExportError(f"unsupported RNN mode {lstm.mode}")


def _front_end_list(front_end):
    """[(conv, norm), ...] from the `front_end` argument (see the module docstring)."""
    if front_end is None:
        return []
    items = [front_end] if isinstance(front_end, nn.Module) else list(front_end)
    found = []
    for item in items:
        if not isinstance(item, nn.Module):
            raise ExportError(f"front_end must hold torch modules, got {type(item).__name__}")
        for m in item.modules():
            if next(m.children(), None) is None and not isinstance(
                    m, (nn.Conv1d, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Identity)):
                raise ExportError(f"front_end holds a {type(m).__name__}; the lstmd front end is Conv1d, "
                                  "BatchNorm1d and ReLU (Dropout, training only, tolerated)")
        found += [m for m in item.modules() if isinstance(m, (nn.Conv1d, nn.BatchNorm1d))]
    layers = []
    for i in range(0, len(found), 2):
        conv = found[i]
        norm = found[i + 1] if i + 1 < len(found) else None
        if not isinstance(conv, nn.Conv1d) or not isinstance(norm, nn.BatchNorm1d):
            raise ExportError("front_end must be nn.Conv1d, nn.BatchNorm1d pairs (each convolution followed by "
                              f"its batch normalisation), got {[type(m).__name__ for m in found]}")
        layers.append((conv, norm))
    if len(layers) > fmt.MAX_FRONT_END:
        raise ExportError(f"front_end has {len(layers)} layers, the lstmd format allows at most {fmt.MAX_FRONT_END}")
    return layers


def _front_end_tensors(layers, tensors):
    """Check the front end's modules and add its tensors; returns the architecture's front_end."""
    spec = []
    for i, (conv, norm) in enumerate(layers):
        k = conv.kernel_size[0]
        what = f"front_end layer {i}"
        if tuple(conv.stride) != (1,) or tuple(conv.dilation) != (1,) or conv.groups != 1:
            raise ExportError(f"{what}: Conv1d needs stride 1, dilation 1 and groups 1 (got stride {conv.stride}, "
                              f"dilation {conv.dilation}, groups {conv.groups})")
        padding = conv.padding if isinstance(conv.padding, str) else conv.padding[0]
        causal = padding in (0, k - 1, "valid") or (padding == "same" and k == 1)
        if conv.padding_mode != "zeros" or not causal:
            raise ExportError(f"{what}: lstmd runs the convolution causally (k-1 zeros on the left); padding "
                              f"{conv.padding!r} ({conv.padding_mode}) suggests a non-causal convolution")
        if norm.num_features != conv.out_channels:
            raise ExportError(f"{what}: BatchNorm1d({norm.num_features}) after Conv1d with {conv.out_channels} filters")
        if norm.running_mean is None or norm.running_var is None:
            raise ExportError(f"{what}: BatchNorm1d without running statistics (track_running_stats=False) "
                              "cannot run in eval mode")
        if abs(norm.eps - fmt.BATCH_NORM_EPS) > 1e-12:
            raise ExportError(f"{what}: BatchNorm1d eps {norm.eps:g}; the lstmd format fixes it at 1e-5")
        F = conv.out_channels
        mean = norm.running_mean.detach().cpu().to(torch.float64)
        if conv.bias is not None:  # BN(z + b) with mean m is BN(z) with mean m - b
            mean = mean - conv.bias.detach().cpu().to(torch.float64)
        tensors[f"frontend.{i}.conv.weight"] = _np(conv.weight)
        tensors[f"frontend.{i}.norm.weight"] = _np(norm.weight) if norm.affine else np.ones(F, np.float32)
        tensors[f"frontend.{i}.norm.bias"] = _np(norm.bias) if norm.affine else np.zeros(F, np.float32)
        tensors[f"frontend.{i}.norm.running_mean"] = _np(mean)
        tensors[f"frontend.{i}.norm.running_var"] = _np(norm.running_var)
        spec.append({"filters": F, "kernel": k})
    return spec


def export_pytorch(lstm, linear, path, classes, mean=None, std=None, window=None, attention=None,
                   hidden=None, hop=None, scaler="zscore", provenance=None, *, minimum=None,
                   maximum=None, mode=None, verify=True, verbose=False, front_end=None):
    """Write an lstmd model file from PyTorch modules. See the module docstring. Returns path."""
    if torch is None:
        raise ExportError(TORCH_MISSING)
    _check_lstm(lstm)
    if window is None:
        raise ExportError("window is required")
    C, H, L = lstm.input_size, lstm.hidden_size, lstm.num_layers
    D = 2 if lstm.bidirectional else 1
    hidden = _hidden_list(hidden)
    front = _front_end_list(front_end)

    tensors = {}
    front_spec = _front_end_tensors(front, tensors)
    if front:
        for i, (conv, _) in enumerate(front):
            cin = front[i - 1][0].out_channels if i else conv.in_channels
            if conv.in_channels != cin:
                raise ExportError(f"front_end layer {i}: Conv1d expects {conv.in_channels} channels, "
                                  f"the previous layer gives {cin}")
        if lstm.input_size != front[-1][0].out_channels:
            raise ExportError(f"the LSTM expects {lstm.input_size} inputs, the front end gives "
                              f"{front[-1][0].out_channels}")
        C = front[0][0].in_channels
    sd = lstm.state_dict()
    for k in range(L):
        for sfx in ([""] if D == 1 else ["", "_reverse"]):
            w_ih = _np(sd[f"weight_ih_l{k}{sfx}"])
            w_hh = _np(sd[f"weight_hh_l{k}{sfx}"])
            cin = lstm.input_size if k == 0 else H * D
            if w_ih.shape != (4 * H, cin) or w_hh.shape != (4 * H, H):
                raise ExportError(f"layer {k}{sfx}: unexpected weight shapes {w_ih.shape}, {w_hh.shape}")
            tensors[f"lstm.weight_ih_l{k}{sfx}"] = w_ih
            tensors[f"lstm.weight_hh_l{k}{sfx}"] = w_hh
            for b in ("bias_ih", "bias_hh"):
                key = f"{b}_l{k}{sfx}"
                tensors[f"lstm.{key}"] = _np(sd[key]) if lstm.bias else np.zeros(4 * H, np.float32)

    feat = H * D
    head = "last"
    if attention is not None:
        if not isinstance(attention, nn.Linear):
            raise ExportError(f"attention must be nn.Linear(H*D, 1), got {type(attention).__name__}")
        if attention.in_features != feat or attention.out_features != 1:
            raise ExportError(f"attention must be nn.Linear({feat}, 1), got "
                              f"nn.Linear({attention.in_features}, {attention.out_features})")
        head = "attention"
        tensors["attention.weight"] = _np(attention.weight)
        tensors["attention.bias"] = (_np(attention.bias) if attention.bias is not None
                                     else np.zeros(1, np.float32))
    dense = []
    prev = feat
    for j, lin in enumerate(hidden):
        if lin.in_features != prev:
            raise ExportError(f"hidden[{j}] expects {lin.in_features} inputs, previous layer gives {prev}")
        tensors[f"hidden.{j}.weight"] = _np(lin.weight)
        tensors[f"hidden.{j}.bias"] = (_np(lin.bias) if lin.bias is not None
                                       else np.zeros(lin.out_features, np.float32))
        dense.append(lin.out_features)
        prev = lin.out_features
    if not isinstance(linear, nn.Linear):
        raise ExportError(f"linear must be nn.Linear, got {type(linear).__name__}")
    if linear.in_features != prev:
        raise ExportError(f"class layer expects {linear.in_features} inputs, previous layer gives {prev}")
    K = linear.out_features
    tensors["classifier.weight"] = _np(linear.weight)
    tensors["classifier.bias"] = _np(linear.bias) if linear.bias is not None else np.zeros(K, np.float32)

    classes = list(classes)
    if len(classes) != K:
        raise ExportError(f"{len(classes)} class names but the class layer has {K} outputs")

    arch = {"input_size": C, "hidden_size": H, "num_layers": L, "bidirectional": D == 2,
            "head": head, "dense": dense, "num_classes": K}
    if lstm.dropout and L > 1:
        arch["dropout"] = {"input": 0.0, "between_layers": float(lstm.dropout), "head": 0.0}
    if front_spec:
        arch["front_end"] = front_spec

    try:
        sc = fmt.write_exported(
            path, tensors, arch, classes, window, hop, f"export_pytorch.py (PyTorch {torch.__version__})",
            provenance, mode, scaler, mean, std, minimum, maximum)
    except ValueError as e:
        raise ExportError(str(e)) from e

    result = _verify(path, lstm, attention, hidden, linear, sc, C, front=front) if verify else None
    if verbose:
        print(f"wrote {path}: {describe_architecture(arch)} ({', '.join(map(str, classes))})")
        print(verification_line(result, "PyTorch"))
    return path





def torch_front_end(front, x):
    """The front end ([(conv, norm), ...]) on x [B,T,C] as lstmd runs it: per layer a causal
    convolution (k-1 zeros on the left, the conv's own weight and bias), BatchNorm with its running
    statistics (eval mode), ReLU. Returns [B,T,F_last]."""
    h = x.transpose(1, 2)
    for conv, norm in front:
        k = conv.kernel_size[0]
        z = torch.nn.functional.conv1d(torch.nn.functional.pad(h, (k - 1, 0)), conv.weight, conv.bias)
        h = torch.relu(torch.nn.functional.batch_norm(z, norm.running_mean, norm.running_var, norm.weight,
                                                      norm.bias, training=False, eps=norm.eps))
    return h.transpose(1, 2)


def torch_forward(lstm, attention, hidden, linear, x, lengths=None, front=()):
    """Reference PyTorch forward on already-scaled x [B,T,C] (always batch-first here, whatever
    lstm.batch_first says), in the modules' dtype; lengths: valid steps per sample (default T);
    front: the front end's (conv, norm) pairs (torch_front_end). Returns the logits [B,K]."""
    B, T, _ = x.shape
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long)
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if front:
        x = torch_front_end(front, x)
    xin = x if lstm.batch_first else x.transpose(0, 1)
    packed = nn.utils.rnn.pack_padded_sequence(xin, lengths, batch_first=lstm.batch_first, enforce_sorted=False)
    out_p, (h_n, _) = lstm(packed)
    y, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
    if attention is not None:
        s = attention(y).squeeze(-1)
        mask = torch.arange(T)[None, :] < lengths[:, None]
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=1)
        z = (a.unsqueeze(-1) * y).sum(dim=1)
    elif lstm.bidirectional:
        z = torch.cat([h_n[-2], h_n[-1]], dim=1)
    else:
        z = h_n[-1]
    for lin in hidden:
        z = torch.relu(lin(z))
    return linear(z)


def _verify(path, lstm, attention, hidden, linear, sc, C, tol=1e-4, front=()):
    tensors, md = fmt.read_safetensors(path)
    rng = np.random.default_rng(12345)
    B, T = 3, 7
    if sc["kind"] == "zscore":
        raw = rng.standard_normal((B, T, C)) * np.asarray(sc["std"]) + np.asarray(sc["mean"])
    else:
        lo, hi = np.asarray(sc["min"]), np.asarray(sc["max"])
        raw = lo + rng.uniform(0, 1, (B, T, C)) * (hi - lo)
    raw = raw.astype(np.float32)
    lengths = np.array([T, 4, 1])
    ref = fmt.forward_numpy(tensors, md, raw, lengths)
    x = torch.from_numpy(fmt.apply_scaler(sc, raw))
    dtype = next(lstm.parameters()).dtype
    with torch.no_grad():
        was = [m.training for m in (lstm, linear)]
        lstm.eval()
        linear.eval()
        logits = torch_forward(lstm, attention, hidden, linear, x.to(dtype), lengths, front).double().numpy()
        lstm.train(was[0])
        linear.train(was[1])
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    err = np.abs(probs - ref["probabilities"]).max()
    if not err < tol:
        raise ExportError(f"verification failed: numpy forward of {path} differs from PyTorch by {err:.3g}")
    return Verification(float(err), B, [int(n) for n in lengths], tol)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _strip(sd, prefix):
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}


def lstm_from_state_dict(sd, dropout=0.0):
    sd = _strip(dict(sd), "lstm.")
    if any(k.startswith("weight_hr") for k in sd):
        raise ExportError("proj_size is not supported by the lstmd format (the checkpoint's LSTM has "
                          "projection weights weight_hr_*); export an LSTM without projections")
    if "weight_ih_l0" not in sd:
        raise ExportError(f"lstm state dict has no weight_ih_l0 (keys: {sorted(sd)[:6]}...)")
    four_h, C = sd["weight_ih_l0"].shape
    H = four_h // 4
    L = 1 + max(int(k.split("_l")[-1].split("_")[0]) for k in sd if k.startswith("weight_ih_l"))
    bidir = any(k.endswith("_reverse") for k in sd)
    bias = "bias_ih_l0" in sd
    lstm = nn.LSTM(C, H, num_layers=L, bidirectional=bidir, bias=bias, batch_first=True,
                   dropout=dropout if L > 1 else 0.0)
    lstm.load_state_dict({k: torch.as_tensor(v).float() for k, v in sd.items()})
    return lstm


def linear_from_state_dict(sd):
    sd = dict(sd)
    w = torch.as_tensor(sd["weight"]).float()
    lin = nn.Linear(w.shape[1], w.shape[0], bias="bias" in sd)
    lin.load_state_dict({k: torch.as_tensor(v).float() for k, v in sd.items()})
    return lin


def _module_or(obj, builder):
    if obj is None or isinstance(obj, nn.Module):
        return obj
    return builder(obj)


def _fail(message) -> int:
    print(f"export_pytorch: error: {message}", file=sys.stderr)
    return 1


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Export a PyTorch LSTM classifier checkpoint to an lstmd model file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Command line"):])
    ap.add_argument("--checkpoint", required=True, help="torch.save'd dict (format below)")
    ap.add_argument("--out", required=True, help="output .safetensors path")
    ap.add_argument("--classes", help="comma-separated class names (overrides checkpoint)")
    ap.add_argument("--window", type=int, help="window length (overrides checkpoint)")
    ap.add_argument("--hop", type=int, help="default hop (default: checkpoint's or max(1, window//10))")
    ap.add_argument("--scaler", choices=["zscore", "minmax"], help="scaler kind (default: checkpoint's or zscore)")
    ap.add_argument("--mean", help="comma-separated per-channel means (zscore)")
    ap.add_argument("--std", help="comma-separated per-channel stds (zscore)")
    ap.add_argument("--min", dest="minimum", help="comma-separated per-channel minima (minmax)")
    ap.add_argument("--max", dest="maximum", help="comma-separated per-channel maxima (minmax)")
    add_scaler_file_options(ap)
    ap.add_argument("--mode", choices=["window", "continuous"])
    ap.add_argument("--dataset", help="training data file: its sha256 goes into provenance.dataset_digest")
    ap.add_argument("--validation", help='JSON object of validation metrics, e.g. \'{"accuracy": 0.93}\'')
    ap.add_argument("--allow-pickle", action="store_true",
                    help="load with weights_only=False (needed when the checkpoint holds modules)")
    ap.add_argument("--no-verify", action="store_true", help="skip the numpy-vs-PyTorch check")
    a = ap.parse_args(argv)
    if torch is None:
        return _fail(TORCH_MISSING)

    try:
        ck = torch.load(a.checkpoint, map_location="cpu", weights_only=not a.allow_pickle)
    except Exception as e:  # noqa: BLE001
        if not a.allow_pickle:
            ap.error(f"cannot load {a.checkpoint} with weights_only=True ({e}); if it holds whole "
                     f"modules and you trust it, add --allow-pickle")
        return _fail(f"cannot load {a.checkpoint}: {type(e).__name__}: {e}")
    if not isinstance(ck, dict):
        ap.error("checkpoint must be a dict")
    try:
        dropout = float(ck.get("dropout", 0.0) or 0.0)
        lstm = _module_or(ck["lstm"], lambda sd: lstm_from_state_dict(sd, dropout))
        linear = _module_or(ck["linear"], linear_from_state_dict)
        attention = _module_or(ck.get("attention"), linear_from_state_dict)
        hidden = [_module_or(h, linear_from_state_dict) for h in (ck.get("hidden") or [])]
    except KeyError as e:
        ap.error(f"checkpoint lacks key {e}")
    except ExportError as e:
        return _fail(e)
    except (RuntimeError, ValueError, TypeError) as e:  # e.g. load_state_dict shape mismatches
        return _fail(f"cannot rebuild the modules from {a.checkpoint}: " + " ".join(str(e).split()))
    classes = a.classes.split(",") if a.classes else ck.get("classes")
    window = a.window if a.window is not None else ck.get("window")
    if classes is None or window is None:
        ap.error("classes and window are required (in the checkpoint or on the command line)")
    if (a.scaler_from or a.scaler_json) and (a.mean or a.std or a.minimum or a.maximum):
        ap.error("give the scaler one way only: --scaler-from/--scaler-json or --mean/--std (--min/--max)")
    scaler = a.scaler or ck.get("scaler", "zscore")
    from_file = scaler_from_options(ap, a, a.scaler, scaler)
    if from_file is not None:
        scaler = from_file["kind"]
        if from_file["kind"] == "zscore":
            ck = {**ck, "mean": from_file["mean"], "std": from_file["std"]}
        else:
            ck = {**ck, "min": from_file["min"], "max": from_file["max"]}
    if scaler == "minmax":
        lo = _floats(a.minimum) or ck.get("min")
        hi = _floats(a.maximum) or ck.get("max")
        if lo is None or hi is None:  # allow the mean/std slots to carry min/max
            lo, hi = _floats(a.mean) or ck.get("mean"), _floats(a.std) or ck.get("std")
        mean, std = None, None
    else:
        mean = _floats(a.mean) or ck.get("mean")
        std = _floats(a.std) or ck.get("std")
        lo = hi = None
    prov = provenance_from_options(ap, a, ck.get("provenance"))
    try:
        export_pytorch(lstm, linear, a.out, classes, mean, std, window, attention=attention,
                       hidden=hidden, hop=a.hop if a.hop is not None else ck.get("hop"),
                       scaler=scaler, provenance=prov, minimum=lo, maximum=hi,
                       mode=a.mode or ck.get("mode"), verify=not a.no_verify, verbose=True)
    except ExportError as e:
        return _fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
