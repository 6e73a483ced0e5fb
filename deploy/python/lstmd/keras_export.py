#!/usr/bin/env python3
"""Export a Keras 3 Sequential LSTM classifier to an lstmd model file (MODEL_FORMAT.md, v1).

Runs on any Keras 3 backend; without TensorFlow use KERAS_BACKEND=torch (this script sets it
when the variable is unset).

Supported models (anything else is refused with an error naming the layer):
    keras.Sequential([
        keras.Input((T, C)),                        # T may be None
        [Dropout(p)],                               # recorded as dropout.input
        LSTM(H, return_sequences=True) or Bidirectional(LSTM(H, return_sequences=True)),
        [Dropout(p)],                               # recorded as dropout.between_layers
        ...                                         # 1-4 LSTM layers, all uni- or all bidirectional,
        LSTM(H) or Bidirectional(LSTM(H)),          # the last with return_sequences=False
        [Dropout(p)],                               # recorded as dropout.head
        Dense(N_j, activation="relu"), [Dropout],   # zero or more hidden layers
        Dense(K, activation="softmax" or "linear"), # the class layer
        [Activation("softmax")],                    # allowed after a linear class layer
    ])
LSTM layers must use activation="tanh", recurrent_activation="sigmoid", no go_backwards /
stateful / return_state; use_bias=False is written as zero biases; Bidirectional needs
merge_mode="concat". All LSTM layers must have the same number of units.

Conversion: Keras stores kernel [C_in, 4H], recurrent_kernel [H, 4H], bias [4H], gate blocks
ordered i, f, c, o; PyTorch/lstmd wants [4H, C_in] rows ordered i, f, g, o. Keras' c block is
PyTorch's g block, so weight_ih = kernel.T, weight_hh = recurrent_kernel.T, bias_ih = bias,
bias_hh = 0. Bidirectional: forward_layer -> "lstm.*_l{k}", backward_layer -> "lstm.*_l{k}_reverse"
(Keras realigns the backward sequence output in time and concatenates forward first, as PyTorch).
The Keras model is taken to see *scaled* input: give the scaler that was applied to its data.

Install with ``pip install "./deploy/python[keras]"`` (from the lstmd repository); without
installing, ``deploy/tools/export_keras.py`` runs this module from the source tree.

Python API
----------
    from lstmd import export_keras          # (old scripts: from export_keras import export_keras)
    export_keras(model, path, classes, mean, std, window, hop=None, scaler="zscore",
                 provenance=None, *, minimum=None, maximum=None, mode=None, verify=True,
                 verbose=False)
With scaler="minmax", mean/std are read as min/max (or pass minimum=/maximum=). hop defaults
to max(1, window // 10). verify: read the file back and check that a numpy float64 forward from
it (lstmd.format.forward_numpy, per MODEL_FORMAT.md) matches model.predict on 3 random windows
(tolerance 1e-4 on probabilities; raises ExportError if not). verbose: print what was written
and verified. The scaler of a training data file: lstmd.scaler.scaler_from_file("train.ts").

Command line
------------
    lstmd-export-keras --model model.keras --out m.safetensors --classes walk,run,rest \\
        --window 100 (--scaler-from train.ts | --scaler-json scaler.json | --mean 0,0,0 --std 1,1,1)
    (or: python3 deploy/tools/export_keras.py ..., python3 -m lstmd.keras_export ...)
--classes also takes @file (one name per line). The scaler is the one the Keras model's
training data was scaled with, given one of three ways:
  --scaler-from FILE  a training data file (.ts or .csv, as lstmctl reads them): per-channel mean
                      and population std over every timestep of every sample, computed as
                      lstmctl train does (--scaler minmax: per-channel min/max instead);
  --scaler-json FILE  {"mean": [...], "std": [...]} or {"min": [...], "max": [...]} (an optional
                      "kind"; lstmctl inspect --json output works too);
  --mean/--std        comma-separated per channel (--min/--max for min-max).
Other options: --hop, --mode, --dataset FILE (sha256 into provenance.dataset_digest; defaults
to the --scaler-from file), --validation JSON, --no-verify.
Write lists starting with a minus sign as --mean=-1.5,2,0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

from . import format as fmt  # noqa: E402
from ._common import (ExportError, Verification, add_scaler_file_options, describe_architecture, floats as _floats,  # noqa: E402
                      provenance_from_options, scaler_from_options, verification_line)

KERAS_MISSING = ("Keras is not installed: pip install keras (it runs on PyTorch: pip install torch), "
                 "or pip install \"./deploy/python[keras]\"")




def _act_name(a):
    if a is None:
        return "linear"
    if isinstance(a, str):
        return a
    if isinstance(a, dict):  # serialized
        return a.get("config", a.get("class_name", "?"))
    return getattr(a, "__name__", str(a))


def _lstm_weights(layer, where):
    cfg = layer.get_config()
    for key, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        got = _act_name(cfg.get(key))
        if got != want:
            raise ExportError(f"{where}: {key}={got!r} is not supported (lstmd needs {want!r})")
    for key in ("go_backwards", "stateful", "return_state"):
        if cfg.get(key) and not (key == "go_backwards" and where.endswith("backward")):
            raise ExportError(f"{where}: {key}=True is not supported")
    H = int(cfg["units"])
    kernel = np.asarray(layer.get_weights()[0], np.float64)
    rec = np.asarray(layer.get_weights()[1], np.float64)
    if cfg.get("use_bias", True):
        bias = np.asarray(layer.get_weights()[2], np.float64)
    else:
        bias = np.zeros(4 * H)
    if kernel.shape[1] != 4 * H or rec.shape != (H, 4 * H) or bias.shape != (4 * H,):
        raise ExportError(f"{where}: unexpected weight shapes {kernel.shape}, {rec.shape}, {bias.shape}")
    return H, {
        "weight_ih": kernel.T.astype(np.float32),
        "weight_hh": rec.T.astype(np.float32),
        "bias_ih": bias.astype(np.float32),
        "bias_hh": np.zeros(4 * H, np.float32),
    }, bool(cfg["return_sequences"])


def convert_keras(model):
    """Return (tensors, architecture-without-num_classes-check) from a Keras Sequential model."""
    import keras
    from keras import layers as KL

    if not isinstance(model, keras.Sequential):
        raise ExportError(f"only keras.Sequential models are supported, got {type(model).__name__}")
    tensors = {}
    lstm_layers = []  # (H, bidirectional, weights...)
    dense = []  # (W [out,in], b, activation)
    final_softmax_layer = False
    dropout = {"input": 0.0, "between_layers": 0.0, "head": 0.0}
    stage = "input"  # input -> lstm -> head
    pending = 0.0
    for idx, layer in enumerate(model.layers):
        where = f"layer {idx} ({layer.name}, {type(layer).__name__})"
        if isinstance(layer, KL.InputLayer):
            continue
        if isinstance(layer, KL.Dropout) and type(layer) is KL.Dropout:
            p = float(layer.rate)
            if stage == "input":
                dropout["input"] = p
            elif stage == "lstm":
                pending = p  # between_layers if another LSTM follows, head if a Dense follows
            else:
                dropout["head"] = max(dropout["head"], p)
            continue
        if isinstance(layer, (KL.LSTM, KL.Bidirectional)):
            if stage == "head":
                raise ExportError(f"{where}: LSTM after Dense layers is not supported")
            if isinstance(layer, KL.Bidirectional):
                if not isinstance(layer.forward_layer, KL.LSTM) or not isinstance(layer.backward_layer, KL.LSTM):
                    raise ExportError(f"{where}: Bidirectional must wrap LSTM")
                if layer.merge_mode != "concat":
                    raise ExportError(f"{where}: merge_mode={layer.merge_mode!r} is not supported (need 'concat')")
                H, wf, rs = _lstm_weights(layer.forward_layer, where + " forward")
                Hb, wb, rsb = _lstm_weights(layer.backward_layer, where + " backward")
                if Hb != H or rsb != rs:
                    raise ExportError(f"{where}: forward and backward LSTMs differ")
                if layer.forward_layer.go_backwards or not layer.backward_layer.go_backwards:
                    raise ExportError(f"{where}: unexpected go_backwards settings")
                lstm_layers.append((H, True, [wf, wb], rs, where))
            else:
                H, w, rs = _lstm_weights(layer, where)
                lstm_layers.append((H, False, [w], rs, where))
            if pending:
                dropout["between_layers"] = max(dropout["between_layers"], pending)
            pending = 0.0
            stage = "lstm"
            continue
        if isinstance(layer, KL.Dense):
            if stage != "lstm" and stage != "head":
                raise ExportError(f"{where}: Dense before any LSTM is not supported")
            if pending:
                dropout["head"] = max(dropout["head"], pending)
            pending = 0.0
            stage = "head"
            cfg = layer.get_config()
            w = layer.get_weights()
            W = np.asarray(w[0], np.float64)
            b = np.asarray(w[1], np.float64) if cfg.get("use_bias", True) else np.zeros(W.shape[1])
            dense.append((W.T.astype(np.float32), b.astype(np.float32), _act_name(cfg.get("activation")), where))
            continue
        if isinstance(layer, KL.Activation) and stage == "head" and idx == len(model.layers) - 1:
            act = _act_name(layer.get_config().get("activation"))
            if act != "softmax":
                raise ExportError(f"{where}: only a final Activation('softmax') is supported, got {act!r}")
            final_softmax_layer = True
            continue
        raise ExportError(f"{where}: layer type not supported by the lstmd format")

    if not lstm_layers:
        raise ExportError("model has no LSTM layer")
    if not dense:
        raise ExportError("model has no final Dense class layer")
    if not 1 <= len(lstm_layers) <= 4:
        raise ExportError(f"{len(lstm_layers)} LSTM layers; lstmd supports 1-4")
    H, bidir = lstm_layers[0][0], lstm_layers[0][1]
    for i, (h, bd, _, rs, where) in enumerate(lstm_layers):
        if h != H or bd != bidir:
            raise ExportError(f"{where}: all LSTM layers must have the same units and directionality")
        last = i == len(lstm_layers) - 1
        if last and rs:
            raise ExportError(f"{where}: the last LSTM must have return_sequences=False")
        if not last and not rs:
            raise ExportError(f"{where}: LSTM layers before the last need return_sequences=True")
    D = 2 if bidir else 1
    C = lstm_layers[0][2][0]["weight_ih"].shape[1]
    for k, (_, _, dirs, _, where) in enumerate(lstm_layers):
        cin = C if k == 0 else H * D
        for d, w in enumerate(dirs):
            if w["weight_ih"].shape != (4 * H, cin):
                raise ExportError(f"{where}: input size {w['weight_ih'].shape[1]}, expected {cin}")
            sfx = "_reverse" if d == 1 else ""
            for name, arr in w.items():
                tensors[f"lstm.{name}_l{k}{sfx}"] = arr
    prev = H * D
    for j, (W, b, act, where) in enumerate(dense):
        final = j == len(dense) - 1
        if W.shape[1] != prev:
            raise ExportError(f"{where}: expects {W.shape[1]} inputs, previous layer gives {prev}")
        if final:
            ok = ("linear",) if final_softmax_layer else ("softmax", "linear")
            if act not in ok:
                raise ExportError(f"{where}: class layer activation {act!r} not supported (need softmax or linear)")
            tensors["classifier.weight"], tensors["classifier.bias"] = W, b
        else:
            if act != "relu":
                raise ExportError(f"{where}: hidden Dense activation {act!r} not supported (need relu)")
            tensors[f"hidden.{j}.weight"], tensors[f"hidden.{j}.bias"] = W, b
        prev = W.shape[0]
    arch = {"input_size": int(C), "hidden_size": int(H), "num_layers": len(lstm_layers), "bidirectional": bidir,
            "head": "last", "dense": [int(d[0].shape[0]) for d in dense[:-1]],
            "num_classes": int(dense[-1][0].shape[0])}
    if any(v > 0 for v in dropout.values()):
        arch["dropout"] = dropout
    return tensors, arch


def export_keras(model, path, classes, mean=None, std=None, window=None, hop=None, scaler="zscore",
                 provenance=None, *, minimum=None, maximum=None, mode=None, verify=True, verbose=False):
    """Write an lstmd model file from a Keras Sequential model. See the module docstring. Returns path."""
    import keras

    if window is None:
        raise ExportError("window is required")
    tensors, arch = convert_keras(model)
    C = arch["input_size"]
    classes = list(classes)
    if len(classes) != arch["num_classes"]:
        raise ExportError(f"{len(classes)} class names but the class layer has {arch['num_classes']} outputs")
    try:
        fmt.write_exported(
            path, tensors, arch, classes, window, hop,
            f"export_keras.py (Keras {keras.__version__}, backend {keras.backend.backend()})",
            provenance, mode, scaler, mean, std, minimum, maximum)
    except ValueError as e:
        raise ExportError(str(e)) from e
    result = _verify(path, model, window) if verify else None
    if verbose:
        print(f"wrote {path}: {describe_architecture(arch)} ({', '.join(map(str, classes))})")
        print(verification_line(result, "Keras model.predict"))
    return path



def keras_probabilities(model, x_scaled):
    """model.predict on scaled input, as probabilities (softmax applied if the model ends linear)."""
    out = np.asarray(model.predict(x_scaled.astype(np.float32), verbose=0), np.float64)
    last = model.layers[-1]
    act = _act_name(last.get_config().get("activation"))
    if act == "linear":
        out = np.exp(out - out.max(1, keepdims=True))
        out /= out.sum(1, keepdims=True)
    return out


def verify_against_keras(path, model, window, tol=1e-4):
    """Check the written file against model.predict; returns the largest probability difference."""
    return _verify(path, model, window, tol).max_error


def _verify(path, model, window, tol=1e-4):
    tensors, md = fmt.read_safetensors(path)
    sc = json.loads(md["scaler"])
    C = json.loads(md["architecture"])["input_size"]
    try:
        T = model.input_shape[1]
    except Exception:  # noqa: BLE001
        T = None
    T = T or min(int(window), 16)
    rng = np.random.default_rng(12345)
    if sc["kind"] == "zscore":
        raw = rng.standard_normal((3, T, C)) * np.asarray(sc["std"]) + np.asarray(sc["mean"])
    else:
        lo, hi = np.asarray(sc["min"]), np.asarray(sc["max"])
        raw = lo + rng.uniform(0, 1, (3, T, C)) * (hi - lo)
    raw = raw.astype(np.float32)
    ref = fmt.forward_numpy(tensors, md, raw)["probabilities"]
    got = keras_probabilities(model, fmt.apply_scaler(sc, raw))
    err = np.abs(ref - got).max()
    if not err < tol:
        raise ExportError(f"verification failed: numpy forward of {path} differs from Keras by {err:.3g}")
    return Verification(float(err), 3, [int(T)] * 3, tol)


def _fail(message) -> int:
    print(f"export_keras: error: {message}", file=sys.stderr)
    return 1


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Export a Keras Sequential LSTM classifier to an lstmd model file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Supported models"):])
    ap.add_argument("--model", required=True, help=".keras (or .h5) model file, loaded with keras.saving.load_model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--classes", required=True, help="comma-separated class names, or @file with one per line")
    ap.add_argument("--window", required=True, type=int)
    ap.add_argument("--hop", type=int, help="default max(1, window // 10)")
    ap.add_argument("--mean", help="comma-separated per-channel means (z-score)")
    ap.add_argument("--std", help="comma-separated per-channel standard deviations (z-score)")
    ap.add_argument("--min", dest="minimum", help="comma-separated per-channel minima (min-max)")
    ap.add_argument("--max", dest="maximum", help="comma-separated per-channel maxima (min-max)")
    ap.add_argument("--scaler", choices=["zscore", "minmax"],
                    help="what --scaler-from fits (default zscore); with --scaler-json, the kind it must hold")
    add_scaler_file_options(ap)
    ap.add_argument("--mode", choices=["window", "continuous"])
    ap.add_argument("--dataset", help="training data file: its sha256 goes into provenance.dataset_digest "
                                      "(default: the --scaler-from file)")
    ap.add_argument("--validation", help="JSON object of validation metrics")
    ap.add_argument("--no-verify", action="store_true", help="skip the numpy-vs-Keras check")
    a = ap.parse_args(argv)

    given = [name for name, on in (("--scaler-from", a.scaler_from), ("--scaler-json", a.scaler_json),
                                   ("--mean/--std", a.mean or a.std), ("--min/--max", a.minimum or a.maximum)) if on]
    if len(given) > 1:
        ap.error(f"give the scaler one way only, not {' and '.join(given)}")
    if not given:
        ap.error("give the scaler: --scaler-from TRAIN.ts|TRAIN.csv, --scaler-json FILE, --mean/--std or --min/--max")
    if a.classes.startswith("@"):
        try:
            with open(a.classes[1:], encoding="utf-8") as f:
                classes = [ln.strip() for ln in f if ln.strip()]
        except OSError as e:
            ap.error(f"--classes: {e}")
    else:
        classes = a.classes.split(",")
    sc = scaler_from_options(ap, a, a.scaler)
    if sc is not None:
        kw = {"scaler": "zscore", "mean": sc["mean"], "std": sc["std"]} if sc["kind"] == "zscore" else \
             {"scaler": "minmax", "minimum": sc["min"], "maximum": sc["max"]}
    elif a.minimum or a.maximum:
        kw = dict(scaler="minmax", minimum=_floats(a.minimum), maximum=_floats(a.maximum))
    elif a.mean and a.std:
        kw = dict(scaler="zscore", mean=_floats(a.mean), std=_floats(a.std))
    else:
        ap.error("--mean and --std go together")
    prov = provenance_from_options(ap, a, {})

    try:
        import keras
    except ImportError as e:
        return _fail(f"{KERAS_MISSING} ({e})")
    try:
        model = keras.saving.load_model(a.model, compile=False)
    except Exception as e:  # noqa: BLE001
        return _fail(f"cannot load {a.model}: {type(e).__name__}: " + " ".join(str(e).split()))
    try:
        export_keras(model, a.out, classes, window=a.window, hop=a.hop, provenance=prov, mode=a.mode,
                     verify=not a.no_verify, verbose=True, **kw)
    except ExportError as e:
        return _fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
