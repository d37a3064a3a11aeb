"""Every test in this repository (core and plugins) shares fsbench's pytest fixtures."""

import os
from pathlib import Path

# real data beside the checkout, as CI lays it out (../shared/data)
os.environ.setdefault("FSBENCH_DATA", str(Path(__file__).resolve().parent.parent / "shared" / "data"))

pytest_plugins = ("fsbench.testing",)
