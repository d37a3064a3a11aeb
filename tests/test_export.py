"""ONNX export and the ONNX Runtime inference path agree with eager PyTorch on tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from fsbench.errors import FsbenchError  # noqa: E402
from fsbench.deploy.export import ExportError, OrtModel, Pipeline, export_method, export_onnx  # noqa: E402


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )
    for m in net.modules():  # non-trivial BN statistics, so folding them is really tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return Pipeline(lambda x: (x - 0.5) / 0.25, net).eval()


def test_onnx_runtime_matches_eager_for_any_batch(tmp_path):
    model = _tiny_net()
    path = export_onnx(model, torch.rand(2, 3, 16, 16), tmp_path / "m.onnx")
    session = OrtModel(path, threads=1, batch_size=5)
    for n in (1, 7, 12):  # dynamic batch axis, and batches split across session calls
        x = torch.rand(n, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(session(x), model(x), rtol=1e-5, atol=1e-5)


def test_onnx_export_is_atomic_and_checked(tmp_path):
    path = export_onnx(_tiny_net(), torch.rand(1, 3, 16, 16), tmp_path / "sub" / "m.onnx")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["m.onnx"]


def test_hand2vec_features_use_onnx_runtime_within_tolerance(monkeypatch):
    fast = pytest.importorskip("fsbench_hand2vec.fast")
    from fsbench_hand2vec.charnet import CharNetBackbone
    from fsbench_hand2vec.posenet import PoseNetBackbone

    for backbone in (PoseNetBackbone(), PoseNetBackbone(pooling="flatten"), CharNetBackbone()):
        x = torch.rand(3, backbone.channels, *backbone.input_size)
        encode = fast.fast_features(backbone)
        torch.testing.assert_close(encode(x), backbone.features(x), rtol=1e-4, atol=1e-4)
        assert isinstance(fast._SESSIONS.get(backbone.fingerprint()), OrtModel)  # it ran the ORT graph
    monkeypatch.setenv("FSBENCH_ONNX", "0")
    backbone = PoseNetBackbone()
    assert fast.fast_features(backbone) == backbone.features


def test_export_method_fits_one_fold_and_checks_parity(tiny_dir, tmp_path, monkeypatch):
    pytest.importorskip("fsbench_hand2vec")
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    config = {"backbone": {"name": "posenet", "keypoint_source": "none"},
              "head": {"epochs": 2, "warmup_epochs": 0, "batch_size": 16, "widths": [136], "features": 4}}
    info = export_method("hand2vec", str(tiny_dir), "leave-signer-out", 1, tmp_path / "h2v.onnx", config)
    assert (tmp_path / "h2v.onnx").is_file() and info["fold"] == "signer=s2"
    assert info["images_checked"] > 0 and info["max_abs_diff"] < 1e-4
    with pytest.raises(FsbenchError, match="out of range"):  # fsbench.deploy.fit checks --fold
        export_method("hand2vec", str(tiny_dir), "leave-signer-out", 9, tmp_path / "x.onnx", config)
    with pytest.raises(ExportError, match="inference_module"):
        export_method("pixels", str(tiny_dir), "leave-signer-out", 0, tmp_path / "x.onnx")
