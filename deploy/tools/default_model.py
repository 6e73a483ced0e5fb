#!/usr/bin/env python3
"""Make, or check, the bundled default model with lstmctl itself.

    python3 deploy/tools/default_model.py --lstmctl .build/release/lstmctl          # write model + oracle
    python3 deploy/tools/default_model.py --lstmctl .build/release/lstmctl --check  # same bytes?

The model is the `lstmctl train` command in the README's section "The bundled default model"
(read from there: one place for the recipe), on the UEA BasicMotions training data in the
repository (Tests/LSTMTrainingTests/Fixtures/BasicMotions_TRAIN.ts: 6 channels, accelerometer +
gyroscope, 4 activities, 40 samples of 100 steps). The README says how the recipe was chosen (on
training data only); the test file is read only to report accuracy and write the oracle.

Same bytes on any x86-64 machine with AVX2: one thread, the AVX2 kernels (LSTMD_ISA=avx2) and
BLIS's haswell kernels (BLIS_ARCH_TYPE=haswell) pin every summation order, and SOURCE_DATE_EPOCH
fixes the only wall-clock field (provenance created_at). Debug and release builds agree.

Writes
  Sources/Daemon/Resources/default.safetensors
  Tests/LSTMKitTests/Fixtures/basicmotions_expected.json: for each TEST sample, in file order, the
      predicted class and probabilities of the written model, computed by the numpy float64
      reference forward of the Python package (lstmd.format.forward_numpy), not by lstmd.
--check trains into a temporary directory and exits 1 unless the bytes equal the bundled file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "deploy", "python"))

import numpy as np  # noqa: E402

from lstmd import datasets  # noqa: E402
from lstmd import format as fmt  # noqa: E402

TEST = "Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts"
MODEL = "Sources/Daemon/Resources/default.safetensors"
EXPECTED = "Tests/LSTMKitTests/Fixtures/basicmotions_expected.json"
README = "README.md"
SECTION = "### The bundled default model"


def readme_command() -> tuple[dict, list]:
    """The environment and arguments of the command in the README's section SECTION (its first
    ```sh block): the README is the one place the recipe is written down."""
    with open(os.path.join(REPO, README), encoding="utf-8") as f:
        text = f.read()
    try:
        block = text[text.index(SECTION):].split("```sh\n", 1)[1].split("```", 1)[0]
    except (ValueError, IndexError):
        sys.exit(f"default_model: no ```sh block under '{SECTION}' in {README}")
    words = shlex.split(block.replace("\\\n", " "))
    environment = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        environment[key] = value
    if words[:2] != ["lstmctl", "train"] or "--out" not in words or words[words.index("--out") + 1] != MODEL:
        sys.exit(f"default_model: the README command must be `lstmctl train ... --out {MODEL}`, got {words}")
    return environment, words


def train(lstmctl: str, out: str) -> str:
    """Runs the README command with `lstmctl` and `--out out`; returns it as shown."""
    environment, words = readme_command()
    arguments = [lstmctl if i == 0 else (out if i > 0 and words[i - 1] == "--out" else w) for i, w in enumerate(words)]
    with tempfile.TemporaryDirectory() as directory:  # the HTML report is not bundled
        result = subprocess.run(arguments + ["--report", os.path.join(directory, "report.html")], cwd=REPO,
                                env=dict(os.environ, **environment), capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        sys.exit(f"default_model: lstmctl train failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return " ".join(f"{k}={v}" for k, v in environment.items()) + " " + " ".join(words)


def write_expected(model: str) -> float:
    tensors, metadata = fmt.read_safetensors(model)
    _, info = fmt.read_model(model)
    test = datasets.read_dataset(os.path.join(REPO, TEST))
    raw = np.stack([np.asarray(s, np.float32) for s in test.samples])
    reference = fmt.forward_numpy(tensors, metadata, raw)
    probabilities = reference["probabilities"]
    oracle = "lstmd.format.forward_numpy (numpy float64 reference) on the model's float32 weights and float32-scaled input"
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:  # the recurrent layers cross-checked against PyTorch's nn.LSTM in float64
        arch = info["architecture"]
        lstm = torch.nn.LSTM(arch["input_size"], arch["hidden_size"], arch["num_layers"], batch_first=True,
                             bidirectional=arch["bidirectional"]).double()
        lstm.load_state_dict({k[len("lstm."):]: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items()
                              if k.startswith("lstm.")})
        scaled = torch.from_numpy(fmt.apply_scaler(info["scaler"], raw).astype(np.float64))
        with torch.no_grad():
            outputs = lstm(scaled)[0].numpy()
        error = float(np.abs(outputs - reference["outputs"][-1]).max())
        if error > 1e-9:
            sys.exit(f"default_model: numpy and PyTorch LSTM outputs differ by {error}")
        oracle += f"; its LSTM outputs equal PyTorch {torch.__version__} nn.LSTM (float64) within {max(error, 1e-16):.1e}"
    names = [test.classes[i] for i in test.labels]
    truth = [info["classes"].index(n) for n in names]
    predicted = probabilities.argmax(1)
    accuracy = float(np.mean(predicted == np.array(truth)))
    expected = {
        "model": MODEL,
        "model_sha256": fmt.file_digest(model),
        "test_file": TEST,
        "test_file_sha256": fmt.file_digest(os.path.join(REPO, TEST)),
        "classes": info["classes"],
        "oracle": oracle,
        "tolerance": 1e-5,
        "test_accuracy": accuracy,
        "samples": [
            {"index": i, "label": names[i], "label_index": truth[i], "predicted": int(predicted[i]),
             "probabilities": [float(p) for p in probabilities[i]]}
            for i in range(len(names))
        ],
    }
    path = os.path.join(REPO, EXPECTED)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lstmctl", required=True, help="the lstmctl binary (release is ~300x faster than debug)")
    parser.add_argument("--check", action="store_true", help="train into a temporary file and compare bytes")
    a = parser.parse_args()
    lstmctl = os.path.abspath(a.lstmctl)
    if a.check:
        with tempfile.TemporaryDirectory() as directory:
            out = os.path.join(directory, "default.safetensors")
            shown = train(lstmctl, out)
            with open(out, "rb") as f, open(os.path.join(REPO, MODEL), "rb") as g:
                made, bundled = f.read(), g.read()
        if made != bundled:
            first = next((i for i, (x, y) in enumerate(zip(made, bundled)) if x != y), min(len(made), len(bundled)))
            sys.exit(f"default_model: `{shown}` made a file that differs from the bundled {MODEL} "
                     f"({len(made)} vs {len(bundled)} bytes, first difference at byte {first}); if training changed "
                     f"on purpose, run this script without --check and commit both files")
        print(f"default_model: {MODEL} regenerated byte for byte ({len(made)} bytes)")
        return
    shown = train(lstmctl, os.path.join(REPO, MODEL))
    accuracy = write_expected(os.path.join(REPO, MODEL))
    print(f"ran: {shown}\nwrote {MODEL} and {EXPECTED}; test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
