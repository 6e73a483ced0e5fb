"""Compatibility shim: ``import lstmd_format`` (with deploy/tools on sys.path) is ``lstmd.format``.

The code lives in the lstmd Python package, deploy/python/lstmd/format.py (installable with
``pip install ./deploy/python``). This file puts deploy/python first on sys.path, so scripts in
the source tree use the source tree's package whether or not one is installed, and makes this
module the very same module object as ``lstmd.format`` (private names included).
"""

import os
import sys

_PACKAGE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
if os.path.isdir(os.path.join(_PACKAGE_ROOT, "lstmd")) and _PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, _PACKAGE_ROOT)

import lstmd.format as _module  # noqa: E402

sys.modules[__name__] = _module
