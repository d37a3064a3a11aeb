"""mediapipe-handnet: the torch port against the TFLite interpreter on real hands, and its contract."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from fsbench.errors import FsbenchError
from fsbench.paths import data_root
from fsbench_pretrained import handnet
from fsbench_pretrained.handnet import NET_SIZE, TENSORS, HandNetBackbone
from fsbench_pretrained.tflite_graph import same_padding

#: measured max |Δ| (torch vs TFLite reference kernels, these 4 Massey images): landmarks 4.6e-5 px
#: (full and lite) on coordinates up to ~200 px, bottleneck 3.6e-6 / 2.1e-6 on values up to ~4,
#: presence 6e-8
LANDMARK_TOL_PX = 1e-3
BOTTLENECK_TOL = 1e-4
PRESENCE_TOL = 1e-5


def massey_images(n: int = 4, size: int = NET_SIZE) -> torch.Tensor:
    """n real Massey images (one per class a, b, c, …) as (n, 3, size, size) floats in [0, 1]."""
    root = data_root() / "massey" / "asl_dataset"
    if not root.is_dir():
        pytest.skip(f"Massey images not found under {root}; set FSBENCH_DATA")
    files = [sorted((root / c).glob("*.jpeg"))[0] for c in "abcd"[:n]]
    arrays = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for f in files]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255


@pytest.fixture(scope="module", params=handnet.VARIANTS)
def backbone(request: pytest.FixtureRequest) -> HandNetBackbone:
    return HandNetBackbone(request.param)


def tflite_reference(variant: str, images: torch.Tensor) -> dict[str, np.ndarray]:
    """The interpreter's outputs and bottleneck per image: reference kernels, XNNPACK off, because
    only then are intermediate tensors (the bottleneck) preserved and readable."""
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="parity needs ai-edge-litert (the test extra)")
    interp = litert.Interpreter(
        model_path=str(handnet.model_path(variant)), experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    index = {d["name"]: d["index"] for d in interp.get_tensor_details()}
    out: dict[str, list[np.ndarray]] = {name: [] for name in TENSORS}
    for x in images.permute(0, 2, 3, 1).numpy():
        interp.set_tensor(interp.get_input_details()[0]["index"], np.ascontiguousarray(x[None]))
        interp.invoke()
        for name in TENSORS:
            out[name].append(interp.get_tensor(index[name])[0].copy())
    return {name: np.stack(v) for name, v in out.items()}


def test_parity_with_tflite_on_real_images(backbone: HandNetBackbone) -> None:
    images = massey_images()
    ref = tflite_reference(backbone.variant, images)
    bottleneck, landmarks, presence = TENSORS[0], TENSORS[1], TENSORS[2]
    feats = backbone.features(images).numpy()
    kp = backbone.keypoints(images).numpy()
    assert np.abs(feats - ref[bottleneck]).max() < BOTTLENECK_TOL
    assert np.abs(kp[..., :2] - ref[landmarks].reshape(-1, 21, 3)[..., :2]).max() < LANDMARK_TOL_PX
    assert np.abs(kp[:, 0, 2] - ref[presence][:, 0]).max() < PRESENCE_TOL
    assert (ref[presence] > 0.5).all()  # real hands: the comparison is not between two failures


@pytest.mark.parametrize(("variant", "dim", "params"), [("full", 1152, 2.7e6), ("lite", 672, 1.0e6)])
def test_both_variants_build(variant: str, dim: int, params: float) -> None:
    bb = HandNetBackbone(variant)
    assert bb.feature_dim == dim and bb.channels == 3 and bb.input_size == (224, 224)
    assert sum(p.numel() for p in bb.module.parameters()) == pytest.approx(params, rel=0.03)
    assert all(p.dtype == torch.float32 for p in bb.module.parameters())
    assert bb.pretrained["sha256"] == hashlib.sha256(handnet.model_path(variant).read_bytes()).hexdigest()


def test_keypoints_are_in_input_pixels_at_any_size(backbone: HandNetBackbone) -> None:
    small = massey_images(2)
    large = torch.nn.functional.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)
    kp_small, kp_large = backbone.keypoints(small), backbone.keypoints(large)
    assert kp_large.shape == (2, 21, 3)
    assert ((kp_large[..., :2] > 0) & (kp_large[..., :2] < 448)).all()
    assert ((kp_large[..., 2] >= 0) & (kp_large[..., 2] <= 1)).all()
    assert (kp_large[..., 2] == kp_large[:, :1, 2]).all()  # one presence per image
    assert (kp_large[..., :2] - 2 * kp_small[..., :2]).abs().max() < 8  # same hand, 2× the pixels


def test_grey_images_are_repeated_to_rgb(backbone: HandNetBackbone) -> None:
    grey = massey_images(1).mean(dim=1, keepdim=True)
    assert torch.allclose(backbone.features(grey), backbone.features(grey.expand(-1, 3, -1, -1)))


def test_fingerprint_identifies_variant_and_weights() -> None:
    full, lite = HandNetBackbone("full"), HandNetBackbone("lite")
    assert full.fingerprint() != lite.fingerprint()
    assert full.fingerprint() == HandNetBackbone("full").fingerprint()
    assert full.fingerprint() != HandNetBackbone("full", input_size=128).fingerprint()
    with torch.no_grad():
        next(full.module.parameters()).add_(1.0)  # a fine-tuned copy must not share cached features
    assert full.fingerprint() != HandNetBackbone("full").fingerprint()


def test_conversion_is_cached_and_copies_are_independent() -> None:
    a, b = handnet.load_handnet("lite")[0], handnet.load_handnet("lite")[0]
    assert sum(k.startswith("lite:") for k in handnet._CONVERTED) == 1
    assert next(a.parameters()).data_ptr() != next(b.parameters()).data_ptr()


def test_module_is_differentiable_and_batched() -> None:
    module = HandNetBackbone("lite").module
    x = massey_images(2).requires_grad_(True)
    out = module(x.contiguous(memory_format=torch.channels_last))
    sum(o.sum() for o in out).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in module.parameters())


def test_missing_mediapipe_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handnet, "find_spec", lambda name: None)
    with pytest.raises(FsbenchError, match=r"pip install mediapipe==0\.10\.14") as e:
        HandNetBackbone()
    assert "\n" not in str(e.value)


def test_missing_tflite_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(handnet, "mediapipe_dir", lambda: tmp_path)
    with pytest.raises(FsbenchError, match=r"hand_landmark_lite\.tflite.*0\.10\.14 and 0\.10\.21") as e:
        HandNetBackbone("lite")
    assert "\n" not in str(e.value)


def test_bad_variant_and_input_are_one_line() -> None:
    with pytest.raises(FsbenchError, match="variant 'heavy' is unknown; choose one of full, lite") as e:
        HandNetBackbone("heavy")
    assert "\n" not in str(e.value)
    with pytest.raises(FsbenchError, match=r"\(N, 1\|3, H, W\)"):
        HandNetBackbone("lite").features(torch.rand(1, 4, 224, 224))


def test_tf_same_padding_puts_the_odd_pixel_after() -> None:
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(7, 3, 1) == (1, 1)
    assert same_padding(5, 5, 1) == (2, 2)
    assert same_padding(112, 2, 2) == (0, 0)


def test_onehand10k_keypoints_are_accurate() -> None:
    """End to end (crop → resize → net → input pixels) on real annotated hands: 64-px crops,
    upsampled inside; measured 9.0 px."""
    kp_mod = pytest.importorskip("fsbench_hand2vec.keypoints", reason="uses hand2vec's keypoint loader")
    from fsbench_hand2vec.evaluate_pose import keypoint_metrics

    root = data_root() / "hand-keypoints"
    if not (root / "onehand10k").is_dir():
        pytest.skip(f"annotated hands not found under {root}; set FSBENCH_DATA")
    samples = kp_mod.load_source("onehand10k", 64)
    images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float() / 255
    metrics = keypoint_metrics(HandNetBackbone("full", input_size=64).keypoints(images).numpy(), samples)
    assert metrics["mean_error_px_at_256"] < 16  # the thesis's own pose net's error
