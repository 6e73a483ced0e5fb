#!/usr/bin/env python3
"""Tests of the lstmd Python package (deploy/python/lstmd) and its old-path shims.

    python3 deploy/python/tests/test_package.py [-v]        # from any directory

Standard library unittest; needs numpy. The PyTorch parts skip without torch, the Keras parts
without keras, the client-shim identity check without pyzmq. Runs the source tree's package
(deploy/python first on sys.path), installed or not. With LSTMCTL=/path/to/lstmctl it also
trains 1-epoch models with the Swift trainer and compares their scalers bit for bit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent                      # deploy/python
REPO = PACKAGE_ROOT.parents[1]
sys.path.insert(0, str(PACKAGE_ROOT))

import numpy as np  # noqa: E402

import lstmd  # noqa: E402
from lstmd import datasets, scaler  # noqa: E402

DEFAULT_MODEL = REPO / "Sources" / "Daemon" / "Resources" / "default.safetensors"
FIXTURES = REPO / "Tests" / "LSTMTrainingTests" / "Fixtures"
TOOLS = REPO / "deploy" / "tools"
CLIENTS = REPO / "deploy" / "clients" / "python"
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_KERAS = HAS_TORCH and importlib.util.find_spec("keras") is not None
HAS_ZMQ = importlib.util.find_spec("zmq") is not None
BASICMOTIONS = ["Standing", "Running", "Walking", "Badminton"]


def run(args, cwd=None, env=None, timeout=300):
    """Runs python3 ARGS from a neutral directory (no PYTHONPATH: nothing installed is assumed)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(env or {})
    with tempfile.TemporaryDirectory() as neutral:
        return subprocess.run([sys.executable, *map(str, args)], cwd=cwd or neutral, env=environment,
                              capture_output=True, text=True, timeout=timeout)


def f32(values):
    return [float(np.float32(v)) for v in values]


class FormatReader(unittest.TestCase):
    def test_reads_the_default_model(self):
        tensors, info = lstmd.read_model(DEFAULT_MODEL)
        self.assertEqual(info["classes"], BASICMOTIONS)
        self.assertEqual(info["window"], 100)
        self.assertEqual(info["hop"], 10)
        self.assertEqual(info["architecture"]["input_size"], 6)
        self.assertEqual(info["scaler"]["kind"], "zscore")
        self.assertIn("classifier.weight", tensors)

    def test_forward_numpy_on_the_default_model(self):
        tensors, metadata = lstmd.read_safetensors(DEFAULT_MODEL)
        raw = np.random.default_rng(0).standard_normal((2, 100, 6)).astype(np.float32)
        probabilities = lstmd.forward_numpy(tensors, metadata, raw)["probabilities"]
        self.assertEqual(probabilities.shape, (2, 4))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)

    def test_the_tensor_checksum_is_written_and_verified(self):
        from lstmd import format as fmt
        tensors, metadata = lstmd.read_safetensors(DEFAULT_MODEL)
        self.assertIn(fmt.TENSOR_SHA256_KEY, metadata)  # the bundled model carries it
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "m.safetensors")
            with open(path, "wb") as f:
                f.write(fmt._encode(tensors, {k: v for k, v in metadata.items() if k != fmt.TENSOR_SHA256_KEY},
                                    tensor_checksum=True))
            self.assertEqual(lstmd.read_safetensors(path)[1][fmt.TENSOR_SHA256_KEY], metadata[fmt.TENSOR_SHA256_KEY])
            raw = bytearray(pathlib.Path(path).read_bytes())
            raw[-3] ^= 0x01  # one bit of the last weight
            pathlib.Path(path).write_bytes(bytes(raw))
            with self.assertRaisesRegex(ValueError, "checksum"):
                lstmd.read_safetensors(path)

    def test_importing_the_package_needs_no_framework(self):
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import lstmd, lstmd.format, lstmd.scaler; "
                "bad = [m for m in ('torch', 'keras', 'zmq', 'tensorflow') if m in sys.modules]; "
                "print(bad); sys.exit(1 if bad else 0)")
        result = run(["-c", code, PACKAGE_ROOT])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


class RunsFromTheRepository(unittest.TestCase):
    """The old paths are shims over the package, and work from any directory without installing."""

    def test_lstmd_format_shim_is_the_package_module(self):
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import lstmd_format, lstmd; "
                "assert lstmd_format is sys.modules['lstmd.format'], lstmd_format; "
                "_, info = lstmd_format.read_model(sys.argv[2]); print(lstmd.__file__); print(info['window'])")
        result = run(["-c", code, TOOLS, DEFAULT_MODEL])
        self.assertEqual(result.returncode, 0, result.stderr)
        path, window = result.stdout.split()
        self.assertTrue(pathlib.Path(path).resolve().is_relative_to(PACKAGE_ROOT), path)
        self.assertEqual(window, "100")

    def test_exporter_scripts_run_from_anywhere(self):
        for script in ("export_pytorch.py", "export_keras.py"):
            result = run([TOOLS / script, "--help"])
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("--scaler-from", result.stdout)
            self.assertIn("--scaler-json", result.stdout)

    def test_exporter_modules_import_under_their_old_names(self):
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import export_pytorch, export_keras; "
                "assert export_pytorch is sys.modules['lstmd.pytorch_export']; "
                "assert export_keras is sys.modules['lstmd.keras_export']; "
                "assert callable(export_pytorch.export_pytorch) and callable(export_keras.export_keras)")
        result = run(["-c", code, TOOLS])
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_client_shim(self):
        code = "import sys; sys.path.insert(0, sys.argv[1]); import lstmd_client; print(lstmd_client.__name__)"
        result = run(["-c", code, CLIENTS])
        if HAS_ZMQ:
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.strip(), "lstmd.client")
        else:
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("zmq", result.stderr)

    def test_fit_scaler_module_cli(self):
        result = run(["-m", "lstmd.scaler", FIXTURES / "small.csv"], env={"PYTHONPATH": str(PACKAGE_ROOT)})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), scaler.scaler_from_file(FIXTURES / "small.csv"))


class ScalerFromFile(unittest.TestCase):
    def write(self, name, text):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_by_hand_ts_and_csv(self):
        # As ScalerFittingTests.swift: channel 0 = 1, 3 | 5, 7, 9 -> mean 5, population variance 8;
        # channel 1 = 10, 20 | 30, 40, 50 -> mean 30, variance 200 (each timestep counts once).
        ts = self.write("a.ts", "@problemName t\n@dimensions 2\n@classLabel true a b\n@data\n"
                                "1,3:10,20:a\n# comment\n5,7,9:30,40,50:b\n")
        csv = self.write("a.csv", "sample,x,y,label\ns1,1,10,a\ns1,3,20,a\ns2,5,30,b\ns2,7,40,b\ns2,9,50,b\n")
        expected = {"kind": "zscore", "mean": [5.0, 30.0], "std": f32([8 ** 0.5, 200 ** 0.5])}
        self.assertEqual(scaler.scaler_from_file(ts), expected)
        self.assertEqual(scaler.scaler_from_file(csv), expected)
        self.assertEqual(scaler.scaler_from_file(ts, "minmax"), {"kind": "minmax", "min": [1.0, 10.0], "max": [9.0, 50.0]})
        data = datasets.read_ts(ts)
        self.assertEqual((data.channels, data.classes, data.labels, data.timesteps), (2, ["a", "b"], [0, 1], 5))

    def test_constant_channel_gets_divisor_one(self):
        csv = self.write("c.csv", "sample,x,y\ns1,0.1,1\ns1,0.1,2\ns2,0.1,3\n")
        z = scaler.scaler_from_file(csv)
        self.assertEqual((z["mean"][0], z["std"][0]), (f32([0.1])[0], 1.0))
        self.assertNotEqual(z["std"][1], 1.0)
        m = scaler.scaler_from_file(csv, "minmax")
        self.assertEqual((m["min"][0], m["max"][0]), (f32([0.1])[0], float(np.float32(0.1) + np.float32(1))))

    def test_matches_the_swift_trainer(self):
        # Scalers of `lstmctl train --train FILE --scaler KIND` models (read from their files).
        known = {
            ("small.csv", "zscore"): {"kind": "zscore", "mean": [0.5519999861717224, -1.1340000629425049, 0.23999999463558197],
                                      "std": [0.34810343384742737, 0.1611955165863037, 0.16970562934875488]},
            ("small.csv", "minmax"): {"kind": "minmax", "min": [0.11999999731779099, -1.399999976158142, 0.019999999552965164],
                                      "max": [0.9100000262260437, -0.9700000286102295, 0.4099999964237213]},
            ("variable_length.ts", "zscore"): {"kind": "zscore", "mean": [3.5833332538604736, 5.583333492279053],
                                               "std": [2.892759084701538, 3.445004463195801]},
            ("variable_length.ts", "minmax"): {"kind": "minmax", "min": [0.5, -0.5], "max": [8.0, 10.0]},
        }
        for (name, kind), expected in known.items():
            with self.subTest(name=name, kind=kind):
                self.assertEqual(scaler.scaler_from_file(FIXTURES / name, kind), expected)

    def test_basicmotions_matches_the_default_model(self):
        # default.safetensors was trained by lstmctl train (deploy/tools/default_model.py): its
        # scaler is the mean/std over every timestep of BasicMotions_TRAIN.ts.
        _, info = lstmd.read_model(DEFAULT_MODEL)
        fitted = scaler.scaler_from_file(FIXTURES / "BasicMotions_TRAIN.ts")
        np.testing.assert_allclose(fitted["mean"], info["scaler"]["mean"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fitted["std"], info["scaler"]["std"], rtol=1e-6)

    @unittest.skipUnless(os.environ.get("LSTMCTL"), "set LSTMCTL=/path/to/lstmctl to compare with the Swift trainer")
    def test_bit_for_bit_with_lstmctl_train(self):
        for name in ("BasicMotions_TRAIN.ts", "small.csv", "variable_length.ts"):
            for kind in ("zscore", "minmax"):
                with self.subTest(name=name, kind=kind), tempfile.TemporaryDirectory() as out:
                    model = os.path.join(out, "m.safetensors")
                    subprocess.run([os.environ["LSTMCTL"], "train", "--train", str(FIXTURES / name), "--out", model,
                                    "--epochs", "1", "--hidden-size", "4", "--layers", "1", "--bidirectional", "false",
                                    "--scaler", kind], check=True, capture_output=True, timeout=600)
                    self.assertEqual(scaler.scaler_from_file(FIXTURES / name, kind), lstmd.read_model(model)[1]["scaler"])

    @unittest.skipUnless(os.environ.get("LSTMCTL"), "set LSTMCTL=/path/to/lstmctl to compare with the Swift trainer")
    def test_preprocessed_models_forward_like_lstmctl_predict(self):
        """Format versions 2 (preprocessing in the model) and 3 (ensembles): this reader and its
        numpy forward agree with `lstmctl predict` on every test sample."""
        test_data = FIXTURES / "BasicMotions_TEST.ts"
        for options in (["--normalize", "per-sample"], ["--downsample", "4"],
                        ["--normalize", "per-sample", "--downsample", "7"], ["--ensemble", "3"],
                        ["--ensemble", "2", "--normalize", "per-sample"]):
            with self.subTest(options=options), tempfile.TemporaryDirectory() as out:
                model = os.path.join(out, "m.safetensors")
                subprocess.run([os.environ["LSTMCTL"], "train", "--train", str(FIXTURES / "BasicMotions_TRAIN.ts"),
                                "--out", model, "--epochs", "2", "--hidden-size", "6", "--layers", "1",
                                "--bidirectional", "false", *options], check=True, capture_output=True, timeout=600)
                tensors, info = lstmd.read_model(model)
                expected = {"normalize": "global", "downsample": 1}
                given = {k.lstrip("-"): (int(v) if v.isdigit() else v) for k, v in zip(options[0::2], options[1::2])}
                expected.update({k: v for k, v in given.items() if k in expected})
                self.assertEqual(info["preprocessing"], expected)
                self.assertEqual(info["ensemble"], given.get("ensemble", 1))
                self.assertEqual(lstmd.read_safetensors(model)[1]["format_version"], "3" if "ensemble" in given else "2")
                predicted = subprocess.run([os.environ["LSTMCTL"], "predict", "--model", model, "--data", str(test_data),
                                            "--json"], check=True, capture_output=True, text=True, timeout=600)
                swift = [json.loads(line) for line in predicted.stdout.splitlines()]
                raw = self.samples(test_data)
                _, metadata = lstmd.read_safetensors(model)
                reference = lstmd.forward_numpy(tensors, metadata, raw)["probabilities"]
                self.assertEqual(len(swift), len(raw))
                for row, probabilities in zip(swift, reference):
                    got = [row["probabilities"][name] for name in info["classes"]]
                    np.testing.assert_allclose(got, probabilities, atol=1e-5)

    @staticmethod
    def samples(path):
        """The samples of an equal-length .ts file as [N, T, C] float32 (via the package's reader)."""
        data = datasets.read_dataset(path)
        return np.stack([np.asarray(sample, np.float32) for sample in data.samples])

    def test_refuses_what_lstmctl_refuses(self):
        for name, text in (("missing.ts", "@classLabel false\n@data\n1,?,3\n"),
                           ("nan.ts", "@classLabel false\n@data\n1,nan,3\n"),
                           ("label.ts", "@classLabel true a\n@data\n1,2:b\n"),
                           ("ragged.ts", "@classLabel false\n@data\n1,2:3\n"),
                           ("split.csv", "sample,x\ns1,1\ns2,2\ns1,3\n"),
                           ("empty.csv", "sample,x,label\ns1,,a\n")):
            with self.subTest(name=name), self.assertRaises(datasets.DatasetError):
                scaler.scaler_from_file(self.write(name, text))

    def test_scaler_json(self):
        plain = self.write("s.json", json.dumps({"mean": [1, 2], "std": [3, 4]}))
        self.assertEqual(scaler.load_scaler_json(plain), {"kind": "zscore", "mean": [1.0, 2.0], "std": [3.0, 4.0]})
        minmax = self.write("m.json", json.dumps({"min": [0], "max": [5]}))
        self.assertEqual(scaler.load_scaler_json(minmax), {"kind": "minmax", "min": [0.0], "max": [5.0]})
        inspect = self.write("i.json", json.dumps({"classes": ["a"], "scaler": {"kind": "zscore", "mean": [0], "std": [1]}}))
        self.assertEqual(scaler.load_scaler_json(inspect)["mean"], [0.0])
        with self.assertRaises(ValueError):
            scaler.load_scaler_json(self.write("bad.json", json.dumps({"mean": [1]})))


class KerasCommandLine(unittest.TestCase):
    """Argument checks that run before Keras is imported (no Keras needed)."""

    def test_scaler_given_twice_or_not_at_all(self):
        base = [TOOLS / "export_keras.py", "--model", "m.keras", "--out", "o.safetensors", "--classes", "a,b",
                "--window", "10"]
        twice = run(base + ["--scaler-from", FIXTURES / "small.csv", "--mean", "0", "--std", "1"])
        self.assertEqual(twice.returncode, 2)
        self.assertIn("one way only", twice.stderr)
        none = run(base)
        self.assertEqual(none.returncode, 2)
        self.assertIn("--scaler-from", none.stderr)


def _tiny_lstm_checkpoint(path, proj_size=0, whole_module=False):
    import torch
    from torch import nn
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 5, batch_first=True, proj_size=proj_size)
    linear = nn.Linear(proj_size or 5, 2)
    torch.save({"lstm": lstm if whole_module else lstm.state_dict(), "linear": linear.state_dict(),
                "classes": ["walking", "running"], "window": 20}, path)
    return lstm, linear


@unittest.skipUnless(HAS_TORCH, "PyTorch is not installed")
class PyTorchExporter(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.dir = pathlib.Path(self.directory.name)

    def assert_clean_refusal(self, result, out):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("export_pytorch: error: proj_size is not supported"), lines[0])
        self.assertFalse(out.exists())

    def test_proj_size_state_dict_is_refused_in_one_line(self):
        _tiny_lstm_checkpoint(self.dir / "p.pt", proj_size=2)
        out = self.dir / "p.safetensors"
        self.assert_clean_refusal(run([TOOLS / "export_pytorch.py", "--checkpoint", self.dir / "p.pt", "--out", out,
                                       "--mean", "0,0,0", "--std", "1,1,1"]), out)

    def test_proj_size_module_is_refused_in_one_line(self):
        _tiny_lstm_checkpoint(self.dir / "p.pt", proj_size=2, whole_module=True)
        out = self.dir / "p.safetensors"
        self.assert_clean_refusal(run([TOOLS / "export_pytorch.py", "--checkpoint", self.dir / "p.pt", "--out", out,
                                       "--mean", "0,0,0", "--std", "1,1,1", "--allow-pickle"]), out)

    def test_cli_export_with_scaler_from_file_says_verified(self):
        _tiny_lstm_checkpoint(self.dir / "c.pt")
        out = self.dir / "c.safetensors"
        result = run([TOOLS / "export_pytorch.py", "--checkpoint", self.dir / "c.pt", "--out", out,
                      "--scaler-from", FIXTURES / "small.csv"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("scaler: z-score from", result.stdout)
        verified = [ln for ln in result.stdout.splitlines() if ln.startswith("verified: ")]
        self.assertEqual(len(verified), 1, result.stdout)
        self.assertIn("matches PyTorch within", verified[0])
        _, info = lstmd.read_model(out)
        self.assertEqual(info["scaler"], scaler.scaler_from_file(FIXTURES / "small.csv"))
        self.assertEqual(info["provenance"]["dataset_digest"], lstmd.format.file_digest(FIXTURES / "small.csv"))
        self.assertEqual(info["classes"], ["walking", "running"])

    def test_no_verify_says_so(self):
        _tiny_lstm_checkpoint(self.dir / "c.pt")
        json_path = self.dir / "s.json"
        json_path.write_text(json.dumps({"mean": [0, 0, 0], "std": [1, 1, 1]}))
        result = run([TOOLS / "export_pytorch.py", "--checkpoint", self.dir / "c.pt", "--out", self.dir / "n.safetensors",
                      "--scaler-json", json_path, "--no-verify"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("not verified", result.stdout)
        self.assertNotIn("\nverified:", "\n" + result.stdout)

    def test_api_verbose_and_quiet(self):
        lstm, linear = _tiny_lstm_checkpoint(self.dir / "c.pt")
        for verbose in (False, True):
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                lstmd.export_pytorch(lstm, linear, self.dir / "a.safetensors", ["x", "y"], [0, 0, 0], [1, 1, 1],
                                     window=20, verbose=verbose)
            self.assertEqual("verified: " in buffer.getvalue(), verbose, buffer.getvalue())
        self.assertEqual(lstmd.read_model(self.dir / "a.safetensors")[1]["window"], 20)


def _front_end_model(rng, C=3, H=5, K=3, front_end=((4, 3), (6, 2))):
    """Random tensors and architecture of a small model with a convolutional front end (running
    statistics far from the identity)."""
    arch = {"input_size": C, "hidden_size": H, "num_layers": 1, "bidirectional": False, "head": "attention",
            "dense": [], "num_classes": K, "front_end": [{"filters": f, "kernel": k} for f, k in front_end]}
    tensors = {}
    for name, shape in lstmd.format.expected_tensor_shapes(arch).items():
        low, high = ((0.5, 2.0) if name.endswith("running_var") else (0.5, 1.5) if name.endswith("norm.weight")
                     else (-0.5, 0.5))
        tensors[name] = rng.uniform(low, high, shape).astype(np.float32)
    return arch, tensors


class FrontEnd(unittest.TestCase):
    """The convolutional front end (format version 4) in lstmd.format."""

    def write(self, directory, arch, tensors, name="m.safetensors"):
        path = os.path.join(directory, name)
        lstmd.write_model(path, tensors, arch, [f"c{i}" for i in range(arch["num_classes"])], 10, 1,
                          {"kind": "zscore", "mean": [0.0] * arch["input_size"], "std": [1.0] * arch["input_size"]},
                          lstmd.format.default_provenance("test"))
        return path

    def test_architecture_and_shapes(self):
        from lstmd import format as fmt
        arch, _ = _front_end_model(np.random.default_rng(0))
        shapes = fmt.expected_tensor_shapes(fmt.validate_architecture(arch))
        self.assertEqual(shapes["frontend.0.conv.weight"], (4, 3, 3))
        self.assertEqual(shapes["frontend.1.conv.weight"], (6, 4, 2))
        self.assertEqual(shapes["frontend.1.norm.running_var"], (6,))
        self.assertEqual(shapes["lstm.weight_ih_l0"], (20, 6))
        self.assertEqual(len([n for n in shapes if n.startswith("frontend.")]), 10)
        plain = {k: v for k, v in arch.items() if k != "front_end"}
        self.assertEqual(fmt.validate_architecture({**plain, "front_end": []}), fmt.validate_architecture(plain))
        self.assertNotIn("front_end", fmt.validate_architecture({**plain, "front_end": []}))
        for bad in ([{"filters": 0, "kernel": 3}], [{"filters": 4, "kernel": 65}], [{"filters": 4}],
                    [{"filters": 4, "kernel": 3, "stride": 1}], [{"filters": True, "kernel": 3}],
                    [{"filters": 4, "kernel": 3}] * 5, {"filters": 4, "kernel": 3}):
            with self.assertRaises(ValueError, msg=repr(bad)):
                fmt.validate_architecture({**plain, "front_end": bad})

    def test_version_4_written_read_and_required(self):
        from lstmd import format as fmt
        arch, tensors = _front_end_model(np.random.default_rng(1))
        with tempfile.TemporaryDirectory() as directory:
            path = self.write(directory, arch, tensors)
            read, info = lstmd.read_model(path)
            self.assertEqual(lstmd.read_safetensors(path)[1]["format_version"], "4")
            self.assertEqual(info["architecture"]["front_end"], arch["front_end"])
            self.assertEqual(set(read), set(tensors))
            plain = {k: v for k, v in arch.items() if k != "front_end"}
            plain_tensors = {k: v for k, v in tensors.items() if not k.startswith("frontend.")}
            plain_tensors["lstm.weight_ih_l0"] = np.zeros((20, 3), np.float32)
            self.assertEqual(lstmd.read_safetensors(self.write(directory, plain, plain_tensors, "p.safetensors"))[1]
                             ["format_version"], "1")
            # a front end in a version-3 file: refused, as lstmd refuses it
            t, m = lstmd.read_safetensors(path)
            m = {k: v for k, v in m.items() if k != fmt.TENSOR_SHA256_KEY}
            old = os.path.join(directory, "old.safetensors")
            pathlib.Path(old).write_bytes(fmt._encode(t, {**m, "format_version": "3"}))
            with self.assertRaisesRegex(ValueError, "format_version 4"):
                lstmd.read_model(old)
            with self.assertRaisesRegex(ValueError, "negative variance"):
                self.write(directory, arch, {**tensors, "frontend.1.norm.running_var": -tensors["frontend.1.norm.running_var"]})

    def test_front_end_is_causal_and_uses_the_running_statistics(self):
        arch, tensors = _front_end_model(np.random.default_rng(2))
        with tempfile.TemporaryDirectory() as directory:
            t, metadata = lstmd.read_safetensors(self.write(directory, arch, tensors))
        raw = np.random.default_rng(3).standard_normal((3, 8, 3)).astype(np.float32)
        lengths = np.array([8, 5, 1])
        full = lstmd.forward_numpy(t, metadata, raw, lengths)
        changed = raw.copy()
        changed[1, 5:] += 50.0  # padding after sample 1's 5 valid steps
        again = lstmd.forward_numpy(t, metadata, changed, lengths)
        np.testing.assert_array_equal(full["probabilities"], again["probabilities"])
        # the valid prefix alone, as one sample, gives the same front-end output
        alone = lstmd.forward_numpy(t, metadata, raw[1:2, :5], [5])
        np.testing.assert_allclose(alone["front_end"][0], full["front_end"][1, :5], rtol=0, atol=1e-12)
        identity = dict(t, **{n: np.ones_like(v) if n.endswith("running_var") else np.zeros_like(v)
                              for n, v in t.items() if ".running_" in n})
        self.assertGreater(np.abs(lstmd.forward_numpy(identity, metadata, raw, lengths)["logits"]
                                  - full["logits"]).max(), 1e-3)

    @unittest.skipUnless(HAS_TORCH, "PyTorch is not installed")
    def test_forward_numpy_matches_torch_and_export(self):
        import torch
        from torch import nn
        torch.manual_seed(4)
        C, H, K = 3, 6, 4
        front = nn.Sequential(nn.Conv1d(C, 5, 4), nn.BatchNorm1d(5), nn.ReLU(),
                              nn.Conv1d(5, 7, 2, bias=False), nn.BatchNorm1d(7), nn.ReLU())
        with torch.no_grad():
            for m in front:
                if isinstance(m, nn.BatchNorm1d):
                    for name, low, high in (("weight", 0.5, 1.5), ("bias", -0.5, 0.5), ("running_mean", -0.5, 0.5),
                                            ("running_var", 0.5, 2.0)):
                        getattr(m, name).uniform_(low, high)
        lstm = nn.LSTM(7, H, batch_first=True, bidirectional=True)
        attention, linear = nn.Linear(2 * H, 1), nn.Linear(2 * H, K)
        mean, std = [0.5, -1.0, 2.0], [1.5, 0.5, 2.0]
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "f.safetensors")
            lstmd.export_pytorch(lstm, linear, path, ["a", "b", "c", "d"], mean, std, window=9,
                                 attention=attention, front_end=front)  # verifies (raises if not)
            tensors, metadata = lstmd.read_safetensors(path)
        self.assertEqual(metadata["format_version"], "4")
        self.assertEqual(json.loads(metadata["architecture"])["front_end"],
                         [{"filters": 5, "kernel": 4}, {"filters": 7, "kernel": 2}])
        # the oracle: float64, eval mode, manual causal pad + F.conv1d (the conv's own bias) + BatchNorm1d
        raw = np.random.default_rng(5).standard_normal((3, 9, C)).astype(np.float32)
        lengths = [9, 4, 2]
        x = torch.from_numpy(lstmd.apply_scaler({"kind": "zscore", "mean": mean, "std": std}, raw).astype(np.float64))
        model = [m.double().eval() for m in (front, lstm, attention, linear)]
        with torch.no_grad():
            h = x.transpose(1, 2)
            for conv, norm in ((front[0], front[1]), (front[3], front[4])):
                k = conv.kernel_size[0]
                h = torch.relu(norm(nn.functional.conv1d(nn.functional.pad(h, (k - 1, 0)), conv.weight, conv.bias)))
            packed = nn.utils.rnn.pack_padded_sequence(h.transpose(1, 2), torch.tensor(lengths), batch_first=True,
                                                       enforce_sorted=False)
            y = nn.utils.rnn.pad_packed_sequence(model[1](packed)[0], batch_first=True, total_length=9)[0]
            s = model[2](y).squeeze(-1).masked_fill(torch.arange(9)[None, :] >= torch.tensor(lengths)[:, None],
                                                    float("-inf"))
            logits = model[3]((torch.softmax(s, 1).unsqueeze(-1) * y).sum(1)).numpy()
        got = lstmd.forward_numpy(tensors, metadata, raw, lengths)["logits"]
        # float32 storage (and the conv bias folded into running_mean) only
        np.testing.assert_allclose(got, logits, rtol=0, atol=1e-5)


@unittest.skipUnless(HAS_KERAS, "Keras (with PyTorch) is not installed")
class KerasExporter(unittest.TestCase):
    def test_cli_export_with_scaler_from_file_says_verified(self):
        env = {"KERAS_BACKEND": "torch"}
        with tempfile.TemporaryDirectory() as directory:
            model = os.path.join(directory, "m.keras")
            build = ("import sys, keras; keras.utils.set_random_seed(0); "
                     "m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4), "
                     "keras.layers.Dense(2, activation='softmax')]); m.save(sys.argv[1])")
            made = run(["-c", build, model], env=env)
            self.assertEqual(made.returncode, 0, made.stderr)
            out = os.path.join(directory, "k.safetensors")
            result = run([TOOLS / "export_keras.py", "--model", model, "--out", out, "--classes", "walking,running",
                          "--window", "20", "--scaler-from", FIXTURES / "small.csv"], env=env)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("verified: ", result.stdout)
            self.assertIn("matches Keras model.predict within", result.stdout)
            self.assertEqual(lstmd.read_model(out)[1]["scaler"], scaler.scaler_from_file(FIXTURES / "small.csv"))


if __name__ == "__main__":
    unittest.main()
