"""Reading and writing lstmd model files (the format is specified in deploy/tools/MODEL_FORMAT.md
of the lstmd repository).

Also importable as ``lstmd_format`` with deploy/tools on sys.path (a shim kept for old scripts).
Only numpy and the standard library are needed: safetensors files are written by hand
(8-byte little-endian header length, JSON header padded with spaces to a multiple of 8,
tensors in sorted name order, contiguous, little-endian).

Public API
----------
read_model(path) -> (tensors, info)
    Read and check an lstmd model (format version 1 to 4); info holds architecture, classes,
    window, hop, mode, scaler, preprocessing, provenance, ensemble (decoded).
write_model(path, tensors, architecture, classes, window, hop, scaler, provenance, mode=None)
    Validate and atomically write an lstmd model file (format version 1, or 4 when the
    architecture has a convolutional front end).
read_safetensors(path) -> (tensors, metadata)
    Read any safetensors file with F32/F64/I32/I64 tensors (returned as numpy arrays).
write_tensors(path, tensors, metadata=None)
    Write a plain safetensors file (float arrays as F32, integer arrays as I32).
forward_numpy(tensors, metadata, raw, lengths=None) -> dict
    Pure-numpy float64 reference forward pass of an lstmd model, from the file contents.
    Used to check exporters against the format spec.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import struct
import tempfile

import numpy as np

FORMAT = "lstmd"
FORMAT_VERSION = "1"
#: The version of a file whose architecture has a convolutional front end.
FRONT_END_FORMAT_VERSION = "4"
#: Format versions this reader understands: 2 adds `preprocessing` (per-sample normalisation,
#: downsampling), 3 adds `ensemble` (N members under `ensemble.{i}.`), 4 adds
#: `architecture.front_end` (causal Conv1d + BatchNorm + ReLU layers before the LSTM), which older
#: readers must not ignore.
READABLE_VERSIONS = ("1", "2", "3", "4")
#: The most ensemble members a file may hold.
MAX_ENSEMBLE = 16
#: Front-end limits: layers, filters per layer, kernel width.
MAX_FRONT_END = 4
MAX_FILTERS = 4096
MAX_KERNEL = 64
#: The epsilon of the front end's batch normalisation (PyTorch's BatchNorm1d default).
BATCH_NORM_EPS = 1e-5

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}


# --------------------------------------------------------------------------------------------
# Raw safetensors I/O
# --------------------------------------------------------------------------------------------

#: The metadata key holding the SHA-256 (hex) of the tensor data section (every byte after the
#: header); lstmd verifies it when it loads a model.
TENSOR_SHA256_KEY = "lstmd.tensor_sha256"


def _encode(tensors: dict, metadata: dict | None, tensor_checksum: bool = False) -> bytes:
    """The file's bytes. `tensor_checksum`: store the SHA-256 of the data section in the metadata
    under TENSOR_SHA256_KEY (lstmd model files)."""
    header = {}
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map str to str, got {k!r}: {type(v).__name__}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        arr = tensors[name]
        dtype_name = {"<f4": "F32", "<i4": "I32"}.get(arr.dtype.newbyteorder("<").str
                                                     if arr.dtype.byteorder in "=|" else arr.dtype.str)
        if dtype_name is None:
            raise TypeError(f"tensor {name!r}: only F32 and I32 are written, got {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dtype_name]).tobytes(order="C")
        header[name] = {
            "dtype": dtype_name,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if tensor_checksum:
        digest = hashlib.sha256()
        for blob in blobs:
            digest.update(blob)
        header.setdefault("__metadata__", {})[TENSOR_SHA256_KEY] = digest.hexdigest()
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs)


def _atomic_write(path: str, payload: bytes) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_tensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write a plain safetensors file. Float arrays are stored as F32, integer/bool arrays as I32
    (values must fit). `metadata` (optional) maps str -> str. Written atomically."""
    conv = {}
    for name, value in tensors.items():
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"tensor {name!r} has non-finite values")
            conv[name] = arr.astype("<f4")
        elif arr.dtype.kind in "iub":
            a64 = arr.astype(np.int64)
            if a64.size and (a64.min() < -(2**31) or a64.max() >= 2**31):
                raise ValueError(f"tensor {name!r} does not fit in I32")
            conv[name] = a64.astype("<i4")
        else:
            raise TypeError(f"tensor {name!r}: unsupported dtype {arr.dtype}")
    _atomic_write(path, _encode(conv, metadata))


def read_safetensors(path):
    """Read a safetensors file. Returns (tensors: dict[str, np.ndarray], metadata: dict[str, str]).
    Checks the layout strictly (offsets contiguous in order, within the file, sizes match)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(raw)}")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    body = memoryview(raw)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    spans = []
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * dt.itemsize or begin < 0 or end > len(body):
            raise ValueError(f"{path}: tensor {name!r} has bad data_offsets {begin},{end} for {shape}")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dt).reshape(shape).copy()
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError(f"{path}: tensor data is not contiguous (gap/overlap at {pos})")
        pos = e
    if pos != len(body):
        raise ValueError(f"{path}: {len(body) - pos} trailing bytes after tensor data")
    expected = metadata.get(TENSOR_SHA256_KEY)
    if expected is not None and hashlib.sha256(body).hexdigest() != expected:
        raise ValueError(f"{path}: tensor data does not match its {TENSOR_SHA256_KEY} checksum")
    return tensors, metadata


# --------------------------------------------------------------------------------------------
# lstmd model files
# --------------------------------------------------------------------------------------------

def _f32_list(values, name, count):
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape[0] != count:
        raise ValueError(f"scaler {name} has {arr.shape[0]} values, expected {count} (input_size)")
    arr32 = arr.astype(np.float32)
    if not np.all(np.isfinite(arr32)):
        raise ValueError(f"scaler {name} has non-finite values")
    # Exact decimal of the float32 value, so a reader converting double -> float gets it back.
    return [float(v) for v in arr32], arr32


def normalize_scaler(scaler: dict, input_size: int) -> dict:
    """Validate a scaler dict and return it with float32-exact values:
    {"kind": "zscore", "mean": [...], "std": [...]} or {"kind": "minmax", "min": [...], "max": [...]}."""
    kind = scaler.get("kind")
    if kind == "zscore":
        mean, _ = _f32_list(scaler["mean"], "mean", input_size)
        std, std32 = _f32_list(scaler["std"], "std", input_size)
        if np.any(std32 <= 0):
            raise ValueError("scaler std must be > 0 for every channel")
        return {"kind": "zscore", "mean": mean, "std": std}
    if kind == "minmax":
        lo, lo32 = _f32_list(scaler["min"], "min", input_size)
        hi, hi32 = _f32_list(scaler["max"], "max", input_size)
        if np.any((hi32 - lo32) <= 0):
            raise ValueError("scaler max must be > min for every channel")
        return {"kind": "minmax", "min": lo, "max": hi}
    raise ValueError(f"scaler kind must be 'zscore' or 'minmax', got {kind!r}")


def scaler_spec(kind, mean=None, std=None, minimum=None, maximum=None) -> dict:
    """The scaler metadata object for an exporter's arguments ("zscore": mean/std; "minmax":
    minimum/maximum, falling back to mean/std as min/max). Values may be lists, numpy arrays or
    anything with .tolist(); raises ValueError naming what is missing."""
    def as_list(v):
        if hasattr(v, "detach"):
            v = v.detach().cpu().double().numpy()
        return [float(x) for x in np.asarray(v, dtype=np.float64).reshape(-1)]
    if kind == "zscore":
        if mean is None or std is None:
            raise ValueError("scaler 'zscore' needs mean and std")
        return {"kind": "zscore", "mean": as_list(mean), "std": as_list(std)}
    if kind == "minmax":
        lo = minimum if minimum is not None else mean
        hi = maximum if maximum is not None else std
        if lo is None or hi is None:
            raise ValueError("scaler 'minmax' needs minimum and maximum (or mean=min, std=max)")
        return {"kind": "minmax", "min": as_list(lo), "max": as_list(hi)}
    raise ValueError(f"scaler must be 'zscore' or 'minmax', got {kind!r}")


def write_exported(path, tensors, arch, classes, window, hop, trainer, provenance=None, mode=None,
                   scaler="zscore", mean=None, std=None, minimum=None, maximum=None) -> dict:
    """The common tail of the exporters: build the scaler, default the hop to max(1, window // 10),
    fill provenance for `trainer`, validate and write atomically. Returns the scaler object;
    raises ValueError naming the problem."""
    sc = scaler_spec(scaler, mean, std, minimum, maximum)
    window = int(window)
    hop = max(1, window // 10) if hop is None else int(hop)
    prov = default_provenance(trainer)
    prov.update(provenance or {})
    write_model(path, tensors, arch, classes, window, hop, sc, prov, mode=mode)
    return sc


def expected_tensor_shapes(arch: dict) -> dict:
    """Name -> shape of every tensor an lstmd model with this architecture must contain."""
    C, H, L = arch["input_size"], arch["hidden_size"], arch["num_layers"]
    D = 2 if arch["bidirectional"] else 1
    shapes = {}
    for i, layer in enumerate(arch.get("front_end") or []):
        F, k = layer["filters"], layer["kernel"]
        shapes[f"frontend.{i}.conv.weight"] = (F, C, k)
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"frontend.{i}.norm.{name}"] = (F,)
        C = F  # the next layer's (and finally the LSTM's) input channels
    for k in range(L):
        cin = C if k == 0 else H * D
        for sfx in ([""] if D == 1 else ["", "_reverse"]):
            shapes[f"lstm.weight_ih_l{k}{sfx}"] = (4 * H, cin)
            shapes[f"lstm.weight_hh_l{k}{sfx}"] = (4 * H, H)
            shapes[f"lstm.bias_ih_l{k}{sfx}"] = (4 * H,)
            shapes[f"lstm.bias_hh_l{k}{sfx}"] = (4 * H,)
    if arch["head"] == "attention":
        shapes["attention.weight"] = (1, H * D)
        shapes["attention.bias"] = (1,)
    prev = H * D
    for j, n in enumerate(arch.get("dense", [])):
        shapes[f"hidden.{j}.weight"] = (n, prev)
        shapes[f"hidden.{j}.bias"] = (n,)
        prev = n
    shapes["classifier.weight"] = (arch["num_classes"], prev)
    shapes["classifier.bias"] = (arch["num_classes"],)
    return shapes


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def validate_front_end(front_end) -> list:
    """The checked `front_end` list: 0 to 4 objects {"filters": 1...4096, "kernel": 1...64}
    (nothing else); None means []."""
    if front_end is None:
        return []
    if not isinstance(front_end, (list, tuple)):
        raise ValueError(f"architecture.front_end must be a list, got {type(front_end).__name__}")
    if len(front_end) > MAX_FRONT_END:
        raise ValueError(f"architecture.front_end has {len(front_end)} layers, at most {MAX_FRONT_END} are supported")
    out = []
    for i, layer in enumerate(front_end):
        if not isinstance(layer, dict) or set(layer) != {"filters", "kernel"}:
            raise ValueError(f"architecture.front_end[{i}] must be an object with exactly filters and kernel, "
                             f"got {layer!r}")
        filters, kernel = layer["filters"], layer["kernel"]
        if not _positive_int(filters) or filters > MAX_FILTERS:
            raise ValueError(f"architecture.front_end[{i}].filters must be an integer in 1...{MAX_FILTERS}, "
                             f"got {filters!r}")
        if not _positive_int(kernel) or kernel > MAX_KERNEL:
            raise ValueError(f"architecture.front_end[{i}].kernel must be an integer in 1...{MAX_KERNEL}, "
                             f"got {kernel!r}")
        out.append({"filters": filters, "kernel": kernel})
    return out


def validate_architecture(arch: dict) -> dict:
    """The checked architecture, keys in the order lstmd writes them; `front_end` only when it is
    not empty (a model without a front end is exactly a format version 1-3 model)."""
    a = dict(arch)
    for key in ("input_size", "hidden_size", "num_layers", "num_classes"):
        if not isinstance(a.get(key), int) or isinstance(a.get(key), bool) or a[key] < 1:
            raise ValueError(f"architecture.{key} must be a positive integer, got {a.get(key)!r}")
    if not 1 <= a["num_layers"] <= 4:
        raise ValueError(f"num_layers must be 1-4, got {a['num_layers']}")
    if not isinstance(a.get("bidirectional"), bool):
        raise ValueError("architecture.bidirectional must be a bool")
    if a.get("head") not in ("last", "attention"):
        raise ValueError(f"architecture.head must be 'last' or 'attention', got {a.get('head')!r}")
    dense = [int(n) for n in a.get("dense", [])]
    if any(n < 1 for n in dense):
        raise ValueError("architecture.dense sizes must be positive")
    a["dense"] = dense
    if "dropout" in a:
        d = a["dropout"]
        if set(d) - {"input", "between_layers", "head"}:
            raise ValueError(f"unknown dropout keys {sorted(set(d) - {'input', 'between_layers', 'head'})}")
        a["dropout"] = {k: float(d.get(k, 0.0)) for k in ("input", "between_layers", "head")}
    front_end = validate_front_end(a.get("front_end"))
    out = {k: a[k] for k in ("input_size", "hidden_size", "num_layers", "bidirectional", "head", "dense",
                              "num_classes")}
    if "dropout" in a:
        out["dropout"] = a["dropout"]
    if front_end:
        out["front_end"] = front_end
    return out


def check_running_variances(tensors: dict, where="") -> None:
    """Every front-end `*.norm.running_var` tensor must be >= 0 (finite is checked elsewhere)."""
    for name in sorted(tensors):
        if name.endswith(".norm.running_var") and np.any(np.asarray(tensors[name]) < 0):
            raise ValueError(f"{where}tensor {name!r} holds a negative variance")


def default_provenance(trainer: str, dataset_digest=None, validation=None, **extra) -> dict:
    p = {
        "created_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "trainer": trainer,
        "dataset_digest": dataset_digest,
        "validation": dict(validation or {}),
    }
    p.update(extra)
    return p


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def write_model(path, tensors: dict, architecture: dict, classes, window, hop, scaler: dict,
                provenance: dict, mode=None) -> None:
    """Validate everything against MODEL_FORMAT.md and write the model atomically
    (temp file in the same directory, fsync, os.replace)."""
    arch = validate_architecture(architecture)
    expected = expected_tensor_shapes(arch)
    names = set(tensors)
    if names != set(expected):
        missing = sorted(set(expected) - names)
        extra = sorted(names - set(expected))
        raise ValueError(f"tensor set does not match architecture: missing {missing}, unexpected {extra}")
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(tensors[name])
        if tuple(arr.shape) != shape:
            raise ValueError(f"tensor {name!r} has shape {tuple(arr.shape)}, expected {shape}")
        arr32 = arr.astype("<f4")
        if not np.all(np.isfinite(arr32)):
            raise ValueError(f"tensor {name!r} has non-finite values")
        out[name] = arr32
    check_running_variances(out)
    classes = [str(c) for c in classes]
    if len(classes) != arch["num_classes"]:
        raise ValueError(f"{len(classes)} class names for num_classes={arch['num_classes']}")
    if len(set(classes)) != len(classes):
        raise ValueError("class names must be unique")
    window = int(window)
    hop = int(hop)
    if window < 1:
        raise ValueError("window must be >= 1")
    if hop < 1:
        raise ValueError("hop must be >= 1")
    if mode not in (None, "window", "continuous"):
        raise ValueError(f"mode must be 'window' or 'continuous', got {mode!r}")
    sc = normalize_scaler(scaler, arch["input_size"])
    prov = dict(provenance or {})
    for key in ("created_at", "trainer", "dataset_digest", "validation"):
        if key not in prov:
            raise ValueError(f"provenance lacks {key!r}")
    if not isinstance(prov["validation"], dict):
        raise ValueError("provenance.validation must be an object")

    def js(v):
        return json.dumps(v, separators=(",", ":"), allow_nan=False)

    metadata = {
        "format": FORMAT,
        "format_version": FRONT_END_FORMAT_VERSION if arch.get("front_end") else FORMAT_VERSION,
        "architecture": js(arch),
        "classes": json.dumps(classes, ensure_ascii=False, separators=(",", ":")),
        "window": js(window),
        "hop": js(hop),
        "scaler": js(sc),
        "provenance": json.dumps(prov, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
    }
    if mode is not None:
        metadata["mode"] = mode
    _atomic_write(path, _encode(out, metadata, tensor_checksum=True))


def read_model(path):
    """Read an lstmd model. Returns (tensors, info) where info holds the decoded metadata
    (architecture, classes, window, hop, mode, scaler, preprocessing, provenance, ensemble)."""
    tensors, md = read_safetensors(path)
    if md.get("format") != FORMAT or md.get("format_version") not in READABLE_VERSIONS:
        raise ValueError(f"{path}: not an lstmd model this reader knows (format={md.get('format')!r}, "
                         f"version={md.get('format_version')!r}; readable: {', '.join(READABLE_VERSIONS)})")
    info = {
        "architecture": json.loads(md["architecture"]),
        "classes": json.loads(md["classes"]),
        "window": json.loads(md["window"]),
        "hop": json.loads(md["hop"]),
        "mode": md.get("mode", "window"),
        "scaler": json.loads(md["scaler"]),
        "preprocessing": preprocessing_spec(md),
        "provenance": json.loads(md["provenance"]),
        "ensemble": ensemble_size(md),
    }
    front_end = validate_front_end(info["architecture"].get("front_end"))
    if front_end and md["format_version"] != FRONT_END_FORMAT_VERSION:
        raise ValueError(f"{path}: architecture.front_end needs format_version {FRONT_END_FORMAT_VERSION} "
                         f"(the file says {md['format_version']}): older readers would skip it")
    single = expected_tensor_shapes(info["architecture"])
    exp = {member_prefix(i) + n: s for i in range(info["ensemble"]) for n, s in single.items()}
    if set(exp) != set(tensors) or any(tuple(tensors[n].shape) != s for n, s in exp.items()):
        missing = sorted(set(exp) - set(tensors))
        raise ValueError(f"{path}: tensors do not match the architecture and ensemble {info['ensemble']}"
                         + (f" (missing {missing[0]})" if missing else ""))
    check_running_variances(tensors, f"{path}: ")
    return tensors, info


def member_prefix(i: int) -> str:
    """The tensor-name prefix of ensemble member i: member 0 keeps the plain names."""
    return "" if i == 0 else f"ensemble.{i}."


def ensemble_size(metadata: dict) -> int:
    """Members N of a model's raw metadata (1 when `ensemble` is absent), checked."""
    n = json.loads(metadata.get("ensemble", "1"))
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_ENSEMBLE:
        raise ValueError(f"ensemble must be an integer in 1...{MAX_ENSEMBLE}, got {n!r}")
    if n > 1 and metadata.get("format_version") not in ("3", FRONT_END_FORMAT_VERSION):
        raise ValueError(f"ensemble {n} needs format_version 3 (4 with a front end), "
                         f"got {metadata.get('format_version')!r}")
    return n


def member_tensors(tensors: dict, i: int) -> dict:
    """Ensemble member i's tensors under the plain names (a single model's)."""
    prefix = member_prefix(i)
    if i == 0:
        return {n: t for n, t in tensors.items() if not n.startswith("ensemble.")}
    return {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}


# --------------------------------------------------------------------------------------------
# Reference forward pass (numpy, float64)
# --------------------------------------------------------------------------------------------

def preprocessing_spec(metadata: dict) -> dict:
    """The `preprocessing` of a model's raw metadata, checked; the identity when absent."""
    spec = {"normalize": "global", "downsample": 1}
    if "preprocessing" in metadata:
        given = json.loads(metadata["preprocessing"])
        if not isinstance(given, dict) or set(given) - {"normalize", "downsample"}:
            raise ValueError(f"preprocessing must be an object with normalize and downsample, got {given!r}")
        spec.update(given)
    if spec["normalize"] not in ("global", "per-sample"):
        raise ValueError(f"preprocessing.normalize must be global or per-sample, got {spec['normalize']!r}")
    k = spec["downsample"]
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100000:
        raise ValueError(f"preprocessing.downsample must be an integer in 1...100000, got {k!r}")
    spec["downsample"] = k
    return spec


def apply_preprocessing(spec: dict, raw) -> np.ndarray:
    """Preprocess one raw sample [T, C] exactly as lstmd does (before the scaler): per-sample
    z-normalisation per channel (float64 statistics, population std; a constant channel becomes
    zeros; result float32), then the float32 mean of each block of K timesteps (summed in time
    order, then divided by K; a trailing partial block dropped unless it is the only one)."""
    x = np.asarray(raw, dtype=np.float32)
    if spec["normalize"] == "per-sample":
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=0)
        std = np.sqrt(((x64 - mean) ** 2).mean(axis=0))
        safe = np.where(std > 0, std, 1.0)
        x = np.where(std > 0, (x64 - mean) / safe, 0.0).astype(np.float32)
    k = spec["downsample"]
    if k == 1:
        return x
    blocks = len(x) // k
    groups = [x] if blocks == 0 else [x[b * k:(b + 1) * k] for b in range(blocks)]
    out = np.zeros((len(groups), x.shape[1]), np.float32)
    for b, group in enumerate(groups):
        total = np.zeros(x.shape[1], np.float32)
        for row in group:  # in time order, in float32, like lstmd
            total = (total + row).astype(np.float32)
        out[b] = total / np.float32(len(group))
    return out


def apply_scaler(scaler: dict, raw) -> np.ndarray:
    """Scale raw input exactly as lstmd does: in float32."""
    x = np.asarray(raw, dtype=np.float32)
    if scaler["kind"] == "zscore":
        return (x - np.asarray(scaler["mean"], np.float32)) / np.asarray(scaler["std"], np.float32)
    lo = np.asarray(scaler["min"], np.float32)
    hi = np.asarray(scaler["max"], np.float32)
    return (x - lo) / (hi - lo)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lstm_dir(x, n, w_ih, w_hh, b, reverse):
    """x [T, Cin] float64, first n steps valid. Returns outputs [T, H] (zeros beyond n)."""
    H = w_hh.shape[1]
    h = np.zeros(H)
    c = np.zeros(H)
    out = np.zeros((x.shape[0], H))
    steps = range(n - 1, -1, -1) if reverse else range(n)
    pre = x @ w_ih.T + b
    for t in steps:
        z = pre[t] + w_hh @ h
        i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
    return out


def front_end_numpy(tensors: dict, front_end, x) -> np.ndarray:
    """The convolutional front end (eval mode) on one scaled sample x [T, C] (float64): per layer
    i a causal convolution (k - 1 zeros before t = 0), BatchNorm with the running statistics
    (eps 1e-5), ReLU. Returns the last layer's output [T, F_last] (x itself without a front end)."""
    x = np.asarray(x, dtype=np.float64)
    for i, layer in enumerate(front_end or []):
        k = layer["kernel"]
        w = np.asarray(tensors[f"frontend.{i}.conv.weight"], np.float64)        # [F, Cin, k]
        padded = np.concatenate([np.zeros((k - 1, x.shape[1])), x], axis=0)    # [T + k - 1, Cin]
        z = np.zeros((x.shape[0], w.shape[0]))
        for j in range(k):  # tap j reads x[t - (k - 1) + j]
            z += padded[j:j + x.shape[0]] @ w[:, :, j].T
        gamma, beta, mean, var = (np.asarray(tensors[f"frontend.{i}.norm.{n}"], np.float64)
                                  for n in ("weight", "bias", "running_mean", "running_var"))
        x = np.maximum(gamma * (z - mean) / np.sqrt(var + BATCH_NORM_EPS) + beta, 0.0)
    return x


def forward_numpy(tensors: dict, metadata: dict, raw, lengths=None) -> dict:
    """Float64 forward pass from a model file's tensors and raw metadata (as returned by
    read_safetensors). raw: [B, T, C] unscaled input; lengths: [B] valid raw steps (default T).
    The model's preprocessing (format version 2), if any, is applied to each sample first.
    A convolutional front end (format version 4) runs on the scaled input, in eval mode (running
    statistics); "front_end" in the result is its output [B,T,F_last] (zeros at padded steps), or
    None without a front end.
    Returns {"outputs": [per-layer [B,T,H*D]], "pooled": [B,H*D], "logits": [B,K], "probabilities": [B,K],
    "front_end": ...}.
    An ensemble (format version 3) returns the mean of its members' probabilities, their logarithms
    as logits, and member 0's outputs and pooled features."""
    n = ensemble_size(metadata)
    if n > 1:
        single = {k: v for k, v in metadata.items() if k != "ensemble"}
        results = [forward_numpy(member_tensors(tensors, i), single, raw, lengths) for i in range(n)]
        probs = sum(r["probabilities"] for r in results) / n
        return {"outputs": results[0]["outputs"], "pooled": results[0]["pooled"],
                "logits": np.log(probs), "probabilities": probs, "front_end": results[0]["front_end"]}
    arch = json.loads(metadata["architecture"])
    scaler = json.loads(metadata["scaler"])
    spec = preprocessing_spec(metadata)
    raw = np.asarray(raw, dtype=np.float32)
    lengths = np.full(raw.shape[0], raw.shape[1]) if lengths is None else np.asarray(lengths)
    if spec != {"normalize": "global", "downsample": 1}:
        # Each sample on its own valid length, then padded again (lengths in model steps now).
        steps = [apply_preprocessing(spec, raw[b, :int(lengths[b])]) for b in range(raw.shape[0])]
        lengths = np.array([len(s) for s in steps])
        padded = np.zeros((raw.shape[0], int(lengths.max()), raw.shape[2]), np.float32)
        for b, s in enumerate(steps):
            padded[b, :len(s)] = s
        raw = padded
    x_all = apply_scaler(scaler, raw).astype(np.float64)
    B, T, _ = x_all.shape
    L = arch["num_layers"]
    D = 2 if arch["bidirectional"] else 1
    H = arch["hidden_size"]
    W = {k: v.astype(np.float64) for k, v in tensors.items()}
    front_end = arch.get("front_end") or []
    front_out = np.zeros((B, T, front_end[-1]["filters"])) if front_end else None
    layer_outputs = [np.zeros((B, T, H * D)) for _ in range(L)]
    pooled = np.zeros((B, H * D))
    for bi in range(B):
        n = int(lengths[bi])
        assert 1 <= n <= T
        x = x_all[bi]
        if front_end:
            # causal: the valid steps alone give the same outputs at t < n as the whole padded row
            front_out[bi, :n] = front_end_numpy(W, front_end, x[:n])
            x = front_out[bi]
        for k in range(L):
            outs = []
            for d, sfx in enumerate([""] if D == 1 else ["", "_reverse"]):
                outs.append(_lstm_dir(x, n, W[f"lstm.weight_ih_l{k}{sfx}"], W[f"lstm.weight_hh_l{k}{sfx}"],
                                      W[f"lstm.bias_ih_l{k}{sfx}"] + W[f"lstm.bias_hh_l{k}{sfx}"], d == 1))
            x = np.concatenate(outs, axis=1)
            layer_outputs[k][bi] = x
        y = x[:n]
        if arch["head"] == "last":
            if D == 1:
                pooled[bi] = y[n - 1]
            else:
                pooled[bi] = np.concatenate([y[n - 1, :H], y[0, H:]])
        else:
            s = y @ W["attention.weight"][0] + W["attention.bias"][0]
            a = np.exp(s - s.max())
            a /= a.sum()
            pooled[bi] = a @ y
    z = pooled
    for j in range(len(arch.get("dense", []))):
        z = np.maximum(z @ W[f"hidden.{j}.weight"].T + W[f"hidden.{j}.bias"], 0.0)
    logits = z @ W["classifier.weight"].T + W["classifier.bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return {"outputs": layer_outputs, "pooled": pooled, "logits": logits, "probabilities": probs,
            "front_end": front_out}
