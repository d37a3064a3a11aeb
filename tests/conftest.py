"""Core tests import shared fixture writers (`fixtures.raw_layouts`) from this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
