"""The input scaler of an lstmd model: fitting it on a training data file, reading it from JSON.

``fit_scaler`` computes what ``lstmctl train`` computes (Sources/LSTMTraining/ScalerFitting.swift)
over every timestep of every sample it is given, each timestep counting once:

- z-score: per-channel mean and *population* standard deviation (divide by the number of
  timesteps, like numpy's ``std`` and scikit-learn's ``StandardScaler``), summed in float64 in
  file order, stored as float32. A constant channel gets mean = its value and std = 1; a std too
  small to divide by also becomes 1.
- min-max: per-channel minimum and maximum; a constant channel gets max = min + 1.

``lstmctl train`` fits on its training split (all of the file unless ``validation_fraction`` > 0),
so pass the file (or split) whose scaling your model was trained with.

Command line (prints the scaler JSON that the exporters' ``--scaler-json`` reads)::

    lstmd-fit-scaler TRAIN.ts|TRAIN.csv [--kind zscore|minmax] [--out scaler.json]
    python3 -m lstmd.scaler ...
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .datasets import Dataset, DatasetError, read_dataset

__all__ = ["fit_scaler", "scaler_from_file", "load_scaler_json", "scaler_keywords"]


def _usable(divisor) -> bool:
    d = np.float32(divisor)
    with np.errstate(divide="ignore", over="ignore"):
        return bool(d > 0 and np.isfinite(d) and np.isfinite(np.float32(1) / d))


def fit_scaler(data, kind: str = "zscore", channels: int | None = None) -> dict:
    """Fit a scaler on a :class:`~lstmd.datasets.Dataset` or a list of T x C arrays.

    Returns the lstmd scaler object: {"kind": "zscore", "mean": [...], "std": [...]} or
    {"kind": "minmax", "min": [...], "max": [...]} (values float32-exact).
    """
    samples = data.samples if isinstance(data, Dataset) else list(data)
    if channels is None:
        if isinstance(data, Dataset):
            channels = data.channels
        elif samples:
            channels = int(np.asarray(samples[0]).shape[-1])
        else:
            raise ValueError("fit_scaler: no samples and no channel count")
    rows = [np.asarray(s, dtype=np.float32).reshape(-1, channels) for s in samples]
    x = np.concatenate(rows, axis=0) if rows else np.zeros((0, channels), np.float32)
    if kind not in ("zscore", "minmax"):
        raise ValueError(f"scaler kind must be 'zscore' or 'minmax', got {kind!r}")
    if x.shape[0] == 0:
        if kind == "zscore":
            return {"kind": "zscore", "mean": [0.0] * channels, "std": [1.0] * channels}
        return {"kind": "minmax", "min": [0.0] * channels, "max": [1.0] * channels}
    lo = x.min(axis=0)
    hi = x.max(axis=0)
    if kind == "minmax":
        lower, upper = lo.copy(), hi.copy()
        for c in range(channels):
            if _usable(hi[c] - lo[c]):
                continue
            upper[c] = lo[c] + np.float32(1)
            if not _usable(upper[c] - lower[c]):
                upper[c] = np.nextafter(lo[c], np.float32(np.inf))
            if not _usable(upper[c] - lower[c]):
                lower[c], upper[c] = np.nextafter(lo[c], np.float32(-np.inf)), lo[c]
        return {"kind": "minmax", "min": [float(v) for v in lower], "max": [float(v) for v in upper]}
    x64 = x.astype(np.float64)
    n = x.shape[0]
    # cumsum adds in file order, one value at a time, like the Swift trainer (np.sum would add
    # pairwise and could differ in the last bits).
    mean = np.cumsum(x64, axis=0)[-1] / n
    squares = np.cumsum((x64 - mean) ** 2, axis=0)[-1]
    offsets = mean.astype(np.float32)
    deviations = np.ones(channels, np.float32)
    for c in range(channels):
        if lo[c] == hi[c]:
            offsets[c] = lo[c]
            continue
        std = np.float32(np.sqrt(squares[c] / n))
        if _usable(std):
            deviations[c] = std
    return {"kind": "zscore", "mean": [float(v) for v in offsets], "std": [float(v) for v in deviations]}


def scaler_from_file(path, kind: str = "zscore") -> dict:
    """Fit a scaler on every sample of a ``.ts`` or ``.csv`` training data file."""
    return fit_scaler(read_dataset(path), kind)


def load_scaler_json(path) -> dict:
    """Read a scaler from a JSON file: {"mean": [...], "std": [...]} (z-score) or {"min": [...],
    "max": [...]} (min-max), with an optional "kind"; an object with a "scaler" member (such as
    ``lstmctl inspect MODEL --json``) is read through it."""
    with open(path, encoding="utf-8") as f:
        obj = json.load(f)
    if isinstance(obj, dict) and isinstance(obj.get("scaler"), dict):
        obj = obj["scaler"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object with mean/std or min/max")
    kind = obj.get("kind") or ("minmax" if "min" in obj and "mean" not in obj else "zscore")
    if kind == "zscore":
        if "mean" not in obj or "std" not in obj:
            raise ValueError(f"{path}: a z-score scaler needs \"mean\" and \"std\" lists")
        return {"kind": "zscore", "mean": [float(v) for v in obj["mean"]], "std": [float(v) for v in obj["std"]]}
    if kind == "minmax":
        if "min" not in obj or "max" not in obj:
            raise ValueError(f"{path}: a min-max scaler needs \"min\" and \"max\" lists")
        return {"kind": "minmax", "min": [float(v) for v in obj["min"]], "max": [float(v) for v in obj["max"]]}
    raise ValueError(f"{path}: scaler kind must be zscore or minmax, got {kind!r}")


def scaler_keywords(scaler: dict) -> dict:
    """The exporters' keyword arguments (scaler=, mean=, std= or minimum=, maximum=) for a scaler object."""
    if scaler["kind"] == "zscore":
        return {"scaler": "zscore", "mean": scaler["mean"], "std": scaler["std"]}
    return {"scaler": "minmax", "minimum": scaler["min"], "maximum": scaler["max"]}


def describe(scaler: dict, source: str) -> str:
    """One line naming where a scaler came from, for the exporters' output."""
    if scaler["kind"] == "zscore":
        parts = ", ".join(f"{m:.6g}/{s:.6g}" for m, s in zip(scaler["mean"], scaler["std"]))
        return f"scaler: z-score from {source} (mean/std per channel: {parts})"
    parts = ", ".join(f"{a:.6g}..{b:.6g}" for a, b in zip(scaler["min"], scaler["max"]))
    return f"scaler: min-max from {source} (per channel: {parts})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="lstmd-fit-scaler",
        description="Fit an lstmd input scaler on a training data file (.ts or .csv) and print it as "
                    "JSON (the format the exporters' --scaler-json reads).")
    ap.add_argument("data", help="training data file, .ts or .csv")
    ap.add_argument("--kind", choices=["zscore", "minmax"], default="zscore")
    ap.add_argument("--out", help="write the JSON here instead of standard output")
    a = ap.parse_args(argv)
    try:
        sc = scaler_from_file(a.data, a.kind)
    except (OSError, DatasetError) as e:
        print(f"lstmd-fit-scaler: error: {e}", file=sys.stderr)
        return 1
    text = json.dumps(sc) + "\n"
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
