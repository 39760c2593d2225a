"""Offline toy models: prefopt.toy.miniatures, prefopt.toy.real_tokenizers.

Transitional (until issue 15 moves prefopt/toy.py into this package): this package shadows the module
prefopt/toy.py (the embedded addition task), so its names are loaded from that file and re-exported here, and
`from prefopt.toy import AdditionTask` keeps working. Delete this once toy.py lives inside the package.
"""

import importlib.util as _util
import sys as _sys
from pathlib import Path as _Path

_spec = _util.spec_from_file_location("prefopt._toy_task", _Path(__file__).resolve().parent.parent / "toy.py")
_task = _util.module_from_spec(_spec)
_sys.modules[_spec.name] = _task  # dataclasses and pickling look the module up by name
_spec.loader.exec_module(_task)
globals().update({k: v for k, v in vars(_task).items() if not k.startswith("__")})
