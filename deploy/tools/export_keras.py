#!/usr/bin/env python3
"""Compatibility shim for ``lstmd.keras_export`` (deploy/python/lstmd/keras_export.py).

    python3 deploy/tools/export_keras.py --model model.keras --out m.safetensors ...   # --help
    from export_keras import export_keras          # with deploy/tools on sys.path

runs / imports the source tree's lstmd package without installing it; the same as
``lstmd-export-keras`` and ``from lstmd import export_keras`` after
``pip install "./deploy/python[keras]"``.
"""

import os
import sys

_PACKAGE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
if os.path.isdir(os.path.join(_PACKAGE_ROOT, "lstmd")) and _PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, _PACKAGE_ROOT)

import lstmd.keras_export as _module  # noqa: E402

if __name__ == "__main__":
    sys.exit(_module.main())
sys.modules[__name__] = _module
