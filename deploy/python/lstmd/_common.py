"""Helpers shared by the exporters' command lines (no framework imports here)."""

from __future__ import annotations

import json
from collections import namedtuple

from . import format as fmt
from . import scaler as _scaler

class ExportError(ValueError):
    """An exporter cannot represent the model, or its output failed verification."""


Verification = namedtuple("Verification", "max_error windows lengths tolerance")
Verification.__doc__ = ("The result of checking a written file against the source framework: the largest "
                        "absolute difference of any class probability, the number of random windows, their "
                        "lengths and the tolerance.")


def describe_architecture(arch) -> str:
    """One line: "input 6, hidden 64 x 1 layer, head last, 4 classes" (with a front end:
    "input 6, front end conv 64 k5 + conv 64 k3, hidden ...")."""
    front = "".join(f"{' +' if i else ', front end'} conv {layer['filters']} k{layer['kernel']}"
                    for i, layer in enumerate(arch.get("front_end") or []))
    text = (f"input {arch['input_size']}{front}, hidden {arch['hidden_size']} x {arch['num_layers']} "
            f"layer{'s' if arch['num_layers'] > 1 else ''}{' bidirectional' if arch['bidirectional'] else ''}, "
            f"head {arch['head']}")
    if arch.get("dense"):
        text += f", dense {arch['dense']}"
    return text + f", {arch['num_classes']} classes"


def verification_line(result, framework) -> str:
    """What the exporter checked, as one line (honest about a skipped check)."""
    if result is None:
        return f"not verified: the check against {framework} was skipped (--no-verify / verify=False)"
    return (f"verified: read back, the file's numpy reference forward (MODEL_FORMAT.md) matches {framework} "
            f"within {result.max_error:.2g} on {result.windows} random windows ({'/'.join(map(str, result.lengths))} "
            f"steps; largest class-probability difference, tolerance {result.tolerance:g})")


def add_scaler_file_options(ap):
    """--scaler-from and --scaler-json (shared with the Keras exporter)."""
    ap.add_argument("--scaler-from", metavar="TRAIN.ts|TRAIN.csv",
                    help="fit the scaler on this training data file, as lstmctl train does (z-score: "
                         "per-channel mean and population std over every timestep; --scaler minmax: min/max)")
    ap.add_argument("--scaler-json", metavar="FILE",
                    help='read the scaler from JSON: {"mean": [...], "std": [...]} or {"min": [...], '
                         '"max": [...]} (optional "kind"; lstmctl inspect --json output works too)')


def scaler_from_options(ap, a, kind=None, fit_kind=None):
    """The scaler object given by --scaler-from / --scaler-json (None when neither is given);
    prints where it came from. kind: the kind asked for on the command line (a JSON scaler of
    another kind is refused); fit_kind: what --scaler-from fits (default kind, else zscore).
    Errors exit through ap.error."""
    if a.scaler_from and a.scaler_json:
        ap.error("give either --scaler-from or --scaler-json, not both")
    try:
        if a.scaler_from:
            sc = _scaler.scaler_from_file(a.scaler_from, kind or fit_kind or "zscore")
            source = a.scaler_from
        elif a.scaler_json:
            sc = _scaler.load_scaler_json(a.scaler_json)
            source = a.scaler_json
            if kind and sc["kind"] != kind:
                ap.error(f"--scaler {kind} but {a.scaler_json} holds a {sc['kind']} scaler")
        else:
            return None
    except (OSError, ValueError) as e:
        ap.error(str(e))
    print(_scaler.describe(sc, source))
    return sc


def floats(text):
    """"1,2.5,-3" (or ;-separated) -> [1.0, 2.5, -3.0]; None stays None."""
    if text is None:
        return None
    return [float(x) for x in text.replace(";", ",").split(",") if x.strip()]


def provenance_from_options(ap, a, prov):
    """Fill prov from --dataset / --validation; without --dataset, a --scaler-from file is the
    training data, so its digest is recorded unless prov already has one."""
    prov = dict(prov or {})
    try:
        if a.dataset:
            prov["dataset_digest"] = fmt.file_digest(a.dataset)
        elif getattr(a, "scaler_from", None) and not prov.get("dataset_digest"):
            prov["dataset_digest"] = fmt.file_digest(a.scaler_from)
        if a.validation:
            prov["validation"] = json.loads(a.validation)
    except OSError as e:
        ap.error(f"--dataset: {e}")
    except ValueError as e:
        ap.error(f"--validation: not a JSON object ({e})")
    return prov
