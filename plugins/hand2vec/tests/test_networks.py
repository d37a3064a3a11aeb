"""Pose net (Fig 3.1) and character net (Fig 3.7): shapes, size, cost, init, heatmap loss."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.mobilenetv2 import InvertedResidual

from fsbench import registry
from fsbench.training.cache import save_model
from fsbench_hand2vec.blocks import count_macs
from fsbench_hand2vec.charnet import CharNet, CharNetBackbone
from fsbench_hand2vec.checkpoint import CheckpointError, load_checkpoint
from fsbench_hand2vec.posenet import PoseNet, PoseNetBackbone, decode_heatmaps, gaussian_targets, heatmap_loss


def test_posenet_shapes_params_and_macs():
    net = PoseNet().eval()
    x = torch.rand(2, 3, 64, 64)
    assert net.encode(x).shape == (2, 128, 4, 4)
    assert net(x).shape == (2, 21, 64, 64)
    params = sum(p.numel() for p in net.parameters())
    assert 0.85e6 < params < 0.95e6  # thesis: ~0.9 M
    assert count_macs(net, x) == pytest.approx(124e6, rel=0.03)  # thesis: ~124 MMAC


def test_charnet_shapes_and_size():
    net = CharNet(40).eval()
    x = torch.rand(3, 1, 28, 28)
    assert net.encode(x).shape == (3, 32)
    assert net(x).shape == (3, 40)
    assert sum(isinstance(m, InvertedResidual) for m in net.modules()) == 11


def test_backbones_registered_and_features():
    pose = registry.get("backbones", "hand2vec-posenet")()
    assert isinstance(pose, PoseNetBackbone)
    assert pose.features(torch.rand(2, 3, 64, 64)).shape == (2, 128)
    assert pose.keypoints(torch.rand(2, 3, 64, 64)).shape == (2, 21, 3)
    assert PoseNetBackbone(pooling="flatten").features(torch.rand(1, 3, 64, 64)).shape == (1, 2048)
    char = registry.get("backbones", "hand2vec-charnet")()
    assert isinstance(char, CharNetBackbone) and char.features(torch.rand(2, 1, 28, 28)).shape == (2, 32)
    assert pose.fingerprint() != PoseNetBackbone().fingerprint()  # fresh weights differ


def test_xavier_and_zero_bn_init():
    net = PoseNet()
    residual = [m for m in net.modules() if isinstance(m, InvertedResidual) and m.use_res_connect]
    assert residual and all(torch.all(m.conv[-1].weight == 0) for m in residual)
    plain = [m for m in net.modules() if isinstance(m, InvertedResidual) and not m.use_res_connect]
    assert all(torch.all(m.conv[-1].weight == 1) for m in plain)
    conv = net.encoder[0][0]
    fan_in, fan_out = conv.in_channels * 9, conv.out_channels * 9
    bound = math.sqrt(6 / (fan_in + fan_out))  # Xavier-uniform bound
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.8 * bound


def test_gaussian_targets_and_heatmap_loss_hand_computed():
    kp = torch.tensor([[[0.0, 0.0]]])
    y = gaussian_targets(kp, size=2, radius=1.0)
    e = math.exp
    torch.testing.assert_close(y[0, 0], torch.tensor([[1.0, e(-0.5)], [e(-0.5), e(-1.0)]]))
    # σ(0) = 0.5 everywhere: loss = mean over the 4 pixels of (0.5 − y)²
    expected = ((0.5 - 1) ** 2 + 2 * (0.5 - e(-0.5)) ** 2 + (0.5 - e(-1)) ** 2) / 4
    assert heatmap_loss(torch.zeros(1, 1, 2, 2), y).item() == pytest.approx(expected, rel=1e-6)
    # an invisible keypoint (weight 0) does not count
    y2 = torch.cat([y, torch.zeros_like(y)], dim=1)
    w = torch.tensor([[1.0, 0.0]])
    assert heatmap_loss(torch.zeros(1, 2, 2, 2), y2, w).item() == pytest.approx(expected, rel=1e-6)


def test_decode_heatmaps_argmax():
    logits = torch.full((1, 2, 8, 8), -5.0)
    logits[0, 0, 3, 6] = 4.0
    logits[0, 1, 7, 1] = 0.0
    kp = decode_heatmaps(logits)
    torch.testing.assert_close(kp[0, :, :2], torch.tensor([[6.0, 3.0], [1.0, 7.0]]))
    assert kp[0, 1, 2].item() == pytest.approx(0.5)


def test_checkpoint_with_incompatible_config_is_one_line_error(tmp_path):
    """A trained-model cache file loads as a user checkpoint, checked against its meta."""
    path = tmp_path / "net.pt"
    save_model(path, "any-key", CharNet(5), {"arch": "charnet", "num_classes": 5})
    load_checkpoint(path, CharNet(5), {"arch": "charnet", "num_classes": 5})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, CharNet(7), {"arch": "charnet", "num_classes": 7})
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "delete it" in msg
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, PoseNet(), {"arch": "charnet"})


def test_the_onnx_session_is_built_on_first_use_only(monkeypatch):
    """A run whose features all come from the cache never exports a graph (issue 15)."""
    pytest.importorskip("onnxruntime")
    from fsbench_hand2vec import fast

    exports = []
    real = fast.to_onnx_bytes
    monkeypatch.setattr(fast, "to_onnx_bytes", lambda *a, **k: exports.append(1) or real(*a, **k))
    monkeypatch.setattr(fast, "_SESSIONS", {})
    backbone = PoseNetBackbone()
    encode = fast.fast_features(backbone)
    assert exports == []
    images = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(encode(images), backbone.features(images), atol=1e-4, rtol=1e-4)
    encode(images)
    assert exports == [1]
