"""Python tools for lstmd, the streaming LSTM classification daemon.

Modules (importing ``lstmd`` itself needs only numpy; each extra is loaded when first used):

``lstmd.format``          read/write lstmd model files (numpy only): read_model, write_model,
                          read_safetensors, forward_numpy, ...
``lstmd.pytorch_export``  export_pytorch(lstm, linear, path, ...)   needs torch   (extra "pytorch")
``lstmd.keras_export``    export_keras(model, path, ...)            needs keras   (extra "keras")
``lstmd.client``          Sender, Listener, control                 needs pyzmq   (extra "client")
``lstmd.datasets``        read .ts / .csv training data files (numpy only)
``lstmd.scaler``          fit a scaler on a training data file as lstmctl train does (numpy only)

The common names are available here directly, e.g. ``from lstmd import read_model,
export_pytorch, Sender``. Command-line tools: ``lstmd-export-pytorch``, ``lstmd-export-keras``,
``lstmd-fit-scaler``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .format import (apply_scaler, forward_numpy, read_model, read_safetensors,  # noqa: E402
                     write_model, write_tensors)
from .scaler import fit_scaler, load_scaler_json, scaler_from_file  # noqa: E402

_LAZY = {
    "export_pytorch": "pytorch_export",
    "export_keras": "keras_export",
    "ExportError": "_common",
    "Sender": "client",
    "Listener": "client",
    "control": "client",
    "ControlError": "client",
    "encode_frame": "client",
    "decode_frame": "client",
    "read_dataset": "datasets",
}

__all__ = ["read_model", "write_model", "read_safetensors", "write_tensors", "forward_numpy", "apply_scaler",
           "fit_scaler", "scaler_from_file", "load_scaler_json", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lstmd' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
