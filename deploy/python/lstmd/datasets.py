"""Reading the training data files lstmctl reads: UEA/UCR ``.ts`` and the lstmd CSV layout.

Only numpy and the standard library are needed. The rules follow the Swift parsers
(Sources/LSTMTraining/TSFileParser.swift, CSVDatasetParser.swift), so a file lstmctl trains on
reads the same here, and a file it refuses is refused here too (with a shorter message):

``.ts``  a header (``@problemName``, ``@dimensions``, ``@classLabel true NAMES`` ...), ``@data``,
         then one sample per line: dimensions separated by ``:``, values by ``,``, the class
         label last when ``@classLabel true``. Missing values (``?``), NaN/Inf, ``@timeStamps
         true`` and ``@targetLabel true`` are refused.
``.csv`` a header ``sample,<channel>...[,label]``, then one row per timestep; a sample's rows are
         contiguous and in time order; RFC 4180 quoting.

Both return a :class:`Dataset`: ``samples`` (each a T x C float32 array, timestep-major),
``labels`` (class index per sample, or None), ``classes`` and ``channels``.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "DatasetError", "read_ts", "read_csv", "read_dataset"]


class DatasetError(ValueError):
    """A data file that cannot be read; the message names the file and line."""


@dataclass
class Dataset:
    samples: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    channels: int = 0

    @property
    def timesteps(self) -> int:
        """The number of timesteps over all samples."""
        return sum(int(s.shape[0]) for s in self.samples)


def _value(token: str, where: str) -> float:
    text = token.strip()
    if text == "?":
        raise DatasetError(f"{where}: missing value '?' (missing values are not supported)")
    if not text:
        raise DatasetError(f"{where}: empty value; expected a number")
    try:
        v = float(text)
    except ValueError:
        raise DatasetError(f"{where}: '{text}' is not a number") from None
    low = text.lower().lstrip("+-")
    if not math.isfinite(v) or low.startswith(("nan", "inf")) or low.startswith("0x"):
        raise DatasetError(f"{where}: '{text}' is not a finite decimal number")
    if not math.isfinite(float(np.float32(v))):
        raise DatasetError(f"{where}: '{text}' is out of range for float32")
    return v


def read_ts(path) -> Dataset:
    """Read a UEA/UCR ``.ts`` file (see the module docstring)."""
    name = os.path.basename(os.fspath(path))
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.decode("utf-8")
    header: dict = {}
    class_names: list = []
    labelled = None
    dims = None
    equal_length = None
    in_data = False
    ds = Dataset()
    index = {}
    saw_content = False
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        saw_content = True
        where = f"{name}:{number}"
        if line.startswith("@"):
            if in_data:
                raise DatasetError(f"{where}: header line after @data")
            words = line.split()
            key, args = words[0].lower(), words[1:]
            if key in header:
                raise DatasetError(f"{where}: duplicate header {words[0]}")
            header[key] = args
            if key == "@classlabel":
                if not args or args[0].lower() not in ("true", "false"):
                    raise DatasetError(f"{where}: @classLabel must be true or false")
                labelled = args[0].lower() == "true"
                class_names = args[1:] if labelled else []
                if labelled and not class_names:
                    raise DatasetError(f"{where}: @classLabel true must list the class names")
                if len(set(class_names)) != len(class_names):
                    raise DatasetError(f"{where}: @classLabel lists a class twice")
            elif key in ("@timestamps", "@targetlabel"):
                if args and args[0].lower() == "true":
                    raise DatasetError(f"{where}: {words[0]} true is not supported")
                if key == "@targetlabel" and labelled is None:
                    labelled = False
            elif key == "@dimensions":
                try:
                    dims = int(args[0])
                except (IndexError, ValueError):
                    raise DatasetError(f"{where}: @dimensions must be one positive integer") from None
            elif key == "@univariate":
                if args and args[0].lower() == "true" and dims is None:
                    dims = 1
            elif key == "@data":
                if labelled is None:
                    raise DatasetError(f"{where}: @data before @classLabel")
                in_data = True
                index = {n: i for i, n in enumerate(class_names)}
                if (header.get("@equallength") or ["false"])[0].lower() == "true":
                    sl = header.get("@serieslength")
                    equal_length = int(sl[0]) if sl else -1
            continue
        if not in_data:
            raise DatasetError(f"{where}: expected a header line starting with '@' before @data")
        fields = line.split(":")
        label = None
        if labelled:
            if len(fields) < 2:
                raise DatasetError(f"{where}: sample has no class label")
            label_name = fields.pop().strip()
            if label_name not in index:
                raise DatasetError(f"{where}: unknown class label '{label_name}'")
            label = index[label_name]
        if dims is not None and len(fields) != dims:
            raise DatasetError(f"{where}: sample has {len(fields)} dimensions, expected {dims}")
        dims = len(fields)
        channels = [[_value(v, where) for v in f.split(",")] for f in fields]
        length = len(channels[0])
        if any(len(c) != length for c in channels):
            raise DatasetError(f"{where}: all dimensions of a sample must have the same length")
        if equal_length is not None:
            if equal_length > 0 and length != equal_length:
                raise DatasetError(f"{where}: sample has length {length}, expected {equal_length}")
            equal_length = length
        ds.samples.append(np.asarray(channels, dtype=np.float32).T.copy())
        ds.labels.append(label)
    if not saw_content:
        raise DatasetError(f"{name}: file is empty")
    if not in_data:
        raise DatasetError(f"{name}: missing @data line")
    if not ds.samples:
        raise DatasetError(f"{name}: no samples after @data")
    ds.classes = list(class_names)
    ds.channels = int(dims)
    return ds


def read_csv(path) -> Dataset:
    """Read an lstmd CSV dataset (header ``sample,<channels>...[,label]``, one row per timestep)."""
    name = os.path.basename(os.fspath(path))
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [(n, [c.strip() for c in r]) for n, r in enumerate(csv.reader(f), 1) if r and any(c.strip() for c in r)]
    if not rows:
        raise DatasetError(f"{name}: file is empty")
    line, head = rows[0]
    if head[0].lower() != "sample":
        raise DatasetError(f"{name}:{line}: header must start with 'sample', found '{head[0]}'")
    has_label = len(head) >= 2 and head[-1].lower() == "label"
    width = len(head)
    channels = width - 1 - (1 if has_label else 0)
    if channels < 1:
        raise DatasetError(f"{name}:{line}: header names no channels between 'sample' and 'label'")
    ds = Dataset(channels=channels)
    seen = set()
    current = None
    values: list = []
    cur_label = None

    def finish():
        if current is None:
            return
        label = None
        if cur_label is not None:
            if cur_label not in ds.classes:
                ds.classes.append(cur_label)
            label = ds.classes.index(cur_label)
        ds.samples.append(np.asarray(values, dtype=np.float32).reshape(-1, channels))
        ds.labels.append(label)

    for line, row in rows[1:]:
        where = f"{name}:{line}"
        if len(row) != width:
            raise DatasetError(f"{where}: row has {len(row)} fields, expected {width} as in the header")
        sid = row[0]
        if not sid:
            raise DatasetError(f"{where}: empty sample id")
        label = (row[-1] or None) if has_label else None
        if sid != current:
            if sid in seen:
                raise DatasetError(f"{where}: sample '{sid}' reappears after other samples")
            finish()
            seen.add(sid)
            current, values, cur_label = sid, [], label
        elif label != cur_label:
            raise DatasetError(f"{where}: sample '{sid}' changes its label")
        for c in range(1, channels + 1):
            if not row[c]:
                raise DatasetError(f"{where}: empty value in column '{head[c]}' (missing values are not supported)")
            values.append(_value(row[c], where))
    finish()
    if not ds.samples:
        raise DatasetError(f"{name}: no rows after the header")
    return ds


def read_dataset(path) -> Dataset:
    """Read a training data file by its extension, as lstmctl does: ``.csv`` is CSV, anything
    else is read as ``.ts``."""
    if os.path.splitext(os.fspath(path))[1].lower() == ".csv":
        return read_csv(path)
    return read_ts(path)
