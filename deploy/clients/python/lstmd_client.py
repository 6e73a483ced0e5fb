"""Compatibility shim: ``import lstmd_client`` is ``lstmd.client`` (deploy/python/lstmd/client.py).

The client lives in the lstmd Python package (``pip install "./deploy/python[client]"``, then
``from lstmd import Sender, Listener, control``). This shim lets the examples and test_client.py
beside it run from the source tree without installing anything. To vendor the client into
another project, copy deploy/python/lstmd/client.py (self-contained: pyzmq + numpy) as
lstmd_client.py — not this file.
"""

import os
import sys

_PACKAGE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
if os.path.isdir(os.path.join(_PACKAGE_ROOT, "lstmd")) and _PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, _PACKAGE_ROOT)

import lstmd.client as _module  # noqa: E402

sys.modules[__name__] = _module
