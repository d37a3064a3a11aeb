"""The commands a newcomer types first answer without importing torch (bench/cli_latency.py
measures the time and memory that saves); a dataset card is read without any method plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
from fsbench.cli import main
sys.argv = ["fsbench", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    print("EXIT:", exc.code)
heavy = sorted(m for m in ("torch", "matplotlib", "onnxruntime", "mediapipe", "datasets") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["list"], ["list", "methods"], ["info", "massey"], ["info", "omniglot"],
    ["leaderboard"], ["leaderboard", "massey-224__leave-signer-out"], ["run", "--help"],
    ["info", "hand2vec"], ["info", "protonet"], ["info", "max"], ["info", "leave-signer-out"],
])
def test_light_commands_import_no_heavy_library(args):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and "EXIT:" not in proc.stdout, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY:", proc.stdout[-300:]


@pytest.mark.parametrize("args", [
    ["run", "-m", "protonettt", "-d", "omniglot", "-s", "unseen-class"],
    ["run", "-m", "protonet", "-d", "omniglot", "-s", "unseen-clas"],
    ["sweep", "-m", "pixels,protonettt", "-d", "omniglot", "-s", "unseen-class"],
    ["export", "-m", "hand2vecc", "-d", "massey", "-s", "leave-signer-out"],
    ["predict", "-m", "pixelz", "-d", "massey", "-s", "leave-signer-out", "--support", "x", "--images", "y"],
])
def test_a_name_typo_is_refused_before_torch(args):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "EXIT: 2" in proc.stdout and "Did you mean" in proc.stderr, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY:", proc.stdout[-300:]


def test_info_prints_the_dataset_card_title_first():
    proc = subprocess.run([sys.executable, "-c", PROBE, "info", "massey"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines[1] == "Massey 2D Static ASL Hand Gestures"
    assert lines[2].startswith("2515 colour images")
