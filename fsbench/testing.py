"""Pytest fixtures for fsbench and its plugins: a private FSBENCH_HOME, quiet bars, a tiny dataset.

A plugin's own tests load it with `pytest_plugins = ("fsbench.testing",)` in their conftest, so
they run wherever the plugin is installed (this repository's root conftest.py does the same).
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Before fsbench is imported anywhere: caches go to a throwaway home, bars stay quiet.
if "FSBENCH_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="fsbench-test-home-")
    os.environ["FSBENCH_HOME"] = _home
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ.setdefault("FSBENCH_QUIET", "1")

TINY_CLASSES = ("a", "b", "c", "d")
TINY_SIGNERS = ("s1", "s2", "s3")
TINY_CONDITIONS = ("top", "left")


def tiny_image(label: int, signer: int, k: int, size: int = 24) -> bytes:
    """A class-specific bar pattern, shifted per signer and jittered per image: learnable, not trivial."""
    rng = np.random.default_rng([label, signer, k])
    img = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
    offset = signer + int(rng.integers(0, 2))
    if label % 2 == 0:
        img[:, 4 + 4 * (label // 2) + offset : 7 + 4 * (label // 2) + offset] = 220
    else:
        img[4 + 4 * (label // 2) + offset : 7 + 4 * (label // 2) + offset, :] = 220
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def tiny_rows(per_cell: int = 4) -> list[dict]:
    rows = []
    for s_i, signer in enumerate(TINY_SIGNERS):
        for c_i, cls in enumerate(TINY_CLASSES):
            for k in range(per_cell):
                rows.append({
                    "id": f"{signer}-{cls}-{k}",
                    "label": cls,
                    "signer": signer,
                    "condition": TINY_CONDITIONS[k % 2],
                    "image": tiny_image(c_i, s_i, k),
                })
    return rows


def write_tiny(out: Path, per_cell: int = 4) -> Path:
    from fsbench.data.records import PrepareReport
    from fsbench.data.cards import DatasetCard
    from fsbench.data.store import write_prepared

    card = DatasetCard(
        name="tiny", title="Tiny synthetic bars", description="test fixture", license="CC0",
        citation="none", classes=TINY_CLASSES, signers=TINY_SIGNERS, raw_layout="synthetic",
        image_size=24, condition_column="condition",
    )
    write_prepared(tiny_rows(per_cell), out, card, {}, PrepareReport(dataset="tiny", raw="synthetic"))
    return out


def real_omniglot(alphabet: str, n_chars: int, drawers: int, per_signer: int) -> "FsDataset":
    """A few real characters of one alphabet from the Omniglot zip inside fsbench: the first
    `n_chars` of `alphabet`, drawers 1..`drawers`, `per_signer` consecutive drawers as one
    "signer". Real strokes for tests that must learn something, in a fraction of a second."""
    import hashlib
    import zipfile

    import datasets

    from fsbench.data.dataset import FsDataset
    from fsbench.paths import embedded

    with zipfile.ZipFile(embedded("omniglot") / "images_background_small1.zip") as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png") and f"/{alphabet}/" in n)
        chars = sorted({n.split("/")[2] for n in names})[:n_chars]
        rows: dict[str, list] = {"id": [], "image": [], "label": [], "signer": []}
        h = hashlib.sha256()
        for n in names:
            char, drawer = n.split("/")[2], int(n.rsplit("_", 1)[1][:2])
            if char in chars and drawer <= drawers:
                data = z.read(n)
                h.update(data)
                rows["id"].append(n.rsplit("/", 1)[1][:-4])
                rows["image"].append({"bytes": data, "path": None})
                rows["label"].append(chars.index(char))
                rows["signer"].append(f"s{(drawer - 1) // per_signer}")
    features = datasets.Features({
        "id": datasets.Value("string"), "image": datasets.Image(),
        "label": datasets.Value("int64"), "signer": datasets.Value("string"),
    })
    return FsDataset("tiny-omniglot", datasets.Dataset.from_dict(rows, features=features), chars, h.hexdigest())


@contextmanager
def named_pixels(names: Sequence[str]) -> Iterator[None]:
    """Installed methods `names`, each the pixels method under another name (a throwaway
    distribution, `fsbench-test-variants`, on sys.path): real identities for tests that need
    several entries on one board, since publish recomputes every config hash through the
    installed method and refuses a method it cannot find."""
    from fsbench import registry

    root = Path(tempfile.mkdtemp(prefix="fsbench-variants-"))
    module = "fsbench_test_variants"
    classes = "".join(f"\n\nclass M{i}(Pixels):\n    name = {n!r}\n" for i, n in enumerate(names))
    (root / f"{module}.py").write_text(f"from fsbench.methods.pixels import Pixels{classes}")
    info = root / "fsbench_test_variants-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fsbench-test-variants\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[fsbench.methods]\n" + "".join(f"{n} = {module}:M{i}\n" for i, n in enumerate(names)))
    sys.path.insert(0, str(root))
    registry.refresh()
    try:
        yield
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module, None)
        registry.refresh()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    from fsbench.data.loader import load_prepared

    return load_prepared(tiny_dir)


def tiny_staged(input_size: int = 24):
    """A two-conv backbone with fixed "pretrained" weights, in three stages: what the fine-tuning
    trainer and the methods on it are tested with in seconds (registered as `tiny-staged` by the
    `tiny_backbone` fixture). A PoseBackbone and a `fsbench.api.Finetunable`; built lazily so
    importing fsbench.testing needs no torch."""
    return _tiny_staged_class()(input_size)


def _tiny_staged_class():
    import hashlib

    import torch
    from torch import nn
    from torch.nn import functional as F

    from fsbench.api import PoseBackbone

    class _TinyStaged(PoseBackbone):
        """Two 3×3 convolutions and 2×2 average pooling, fixed seeded weights, three stages."""

        channels = 3
        feature_dim = 64  # 16 channels pooled to 2×2: the bars' positions survive

        def __init__(self, input_size: int = 24) -> None:
            self.input_size = (input_size, input_size)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1),
                                            nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
            self.module.eval()

        def prepare(self, images, size=None):
            side = size or self.input_size[0]
            x = images.float().expand(-1, 3, -1, -1)
            return x if x.shape[-1] == side else F.interpolate(x, size=(side, side), mode="bilinear")

        def stages(self):
            m = self.module
            return [m[0:2], m[2:4], m[4:]]

        @torch.no_grad()
        def features(self, images):
            return self.module.eval()(self.prepare(images))

        def fingerprint(self) -> str:
            return hashlib.sha256(b"tiny-staged-1").hexdigest()

    return _TinyStaged


@pytest.fixture
def tiny_backbone(monkeypatch):
    """Registers `tiny_staged` as the backbone `tiny-staged` for one test; returns its name."""
    from fsbench import registry

    discover = registry._discover

    def patched(kind):
        unique, clashes = discover(kind)
        if kind == "backbones":
            unique = {**unique, "tiny-staged": registry.Plugin("backbones", "tiny-staged", "fsbench.testing:tiny_staged",
                                                               "fsbench")}
        return unique, clashes

    monkeypatch.setattr(registry, "_discover", patched)
    return "tiny-staged"
