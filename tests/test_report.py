"""`fsbench report`: every model-free figure from a results file, and the embedding figures."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import Method
from fsbench.evaluation.classifiers import PrototypeClassifier
from fsbench.report.embedding_figures import (
    CapabilityError,
    gradient_maps_png,
    kernel_pca,
    kernel_pca_png,
    similarity_gradients,
)
from fsbench.errors import ResultsError
from fsbench.evaluation.runner import RunRequest, run
from fsbench.report.report import make_report


@pytest.fixture(scope="module")
def results_path(tiny, tmp_path_factory):
    req = RunRequest(method="pixels", dataset="tiny", split="leave-signer-out", shots=[1, 2], episodes=3,
                     config={"size": 16})
    path = tmp_path_factory.mktemp("rep") / "r.json"
    path.write_text(json.dumps(run(req, tiny)))
    return path


def _is_png(path) -> bool:
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 100 and im.size[1] > 100


def test_report_writes_every_model_free_figure(results_path, tmp_path):
    paths = make_report(results_path, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == sorted(["accuracy_vs_S.png", "per_signer.png", "confusion_S1.png", "confusion_S2.png", "summary.md"])
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
        if p.suffix == ".png":
            assert _is_png(p)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| 2 |" in summary and "Confused pairs at S=1" in summary
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_report_per_signer_ci_fallback_from_episode_rows(results_path, tmp_path):
    # an older results file without per-signer CIs still gets bars with CIs from its episode rows
    from fsbench.report.figures import per_signer_intervals

    r = json.loads(results_path.read_text())
    for m in r["metrics"].values():
        for v in m["per_signer"].values():
            v.pop("top1_ci95", None)
    got = per_signer_intervals(r, "S=1", seed=0)
    assert set(got) == set(r["metrics"]["S=1"]["per_signer"])
    for mean, lo, hi in got.values():
        assert lo <= mean + 1e-9 and mean <= hi + 1e-9


def test_report_refuses_corrupt_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsError, match="not valid JSON"):
        make_report(bad, tmp_path / "out")


class TinyConv(Method):
    """A tiny differentiable torch embedding: enough to exercise the gradient figure."""

    name: ClassVar[str] = "tiny-conv"
    default_config: ClassVar[dict[str, Any]] = {"size": 16, "mode": "RGB"}

    def __init__(self, config=None) -> None:
        super().__init__(config)
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                                 nn.Linear(64, 8)).eval()

    def embed_tensor(self, images: Tensor) -> Tensor:
        return F.normalize(self.net(images), dim=1)

    def embed(self, view) -> Tensor:
        with torch.no_grad():
            return self.embed_tensor(view.tensor(16))

    def make_classifier(self):
        return PrototypeClassifier()


def test_kernel_pca_equals_pca_of_unit_vectors():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(50, 6))
    coords = kernel_pca(e)
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    u = u - u.mean(axis=0)
    _, _, vt = np.linalg.svd(u, full_matrices=False)
    ref = u @ vt[:2].T
    for k in range(2):  # equal up to sign
        assert np.allclose(np.abs(coords[:, k]), np.abs(ref[:, k]), atol=1e-8)


def test_similarity_gradients_match_finite_differences(tiny):
    method = TinyConv()
    images = tiny.view(np.arange(3)).tensor(16).double()
    method.net.double()
    grads = similarity_gradients(method, images)
    assert grads.shape == (3, 3, *images.shape[1:])
    a, b, (c, y, x) = 1, 2, (0, 5, 7)
    eps = 1e-6
    target = method.embed_tensor(images[b : b + 1]).detach()[0]

    def s(img):
        with torch.no_grad():
            return float(method.embed_tensor(img[None])[0] @ target)

    plus, minus = images[a].clone(), images[a].clone()
    plus[c, y, x] += eps
    minus[c, y, x] -= eps
    assert float(grads[a, b, c, y, x]) == pytest.approx((s(plus) - s(minus)) / (2 * eps), rel=1e-4, abs=1e-8)


def test_embedding_figures_render(tiny, tmp_path):
    method = TinyConv()
    view = tiny.view()
    for name, png in (("kpca", kernel_pca_png(method, view, seed=0)), ("grad", gradient_maps_png(method, view, n=4))):
        path = tmp_path / f"{name}.png"
        path.write_bytes(png)
        assert _is_png(path)


def test_gradient_maps_need_embed_tensor(tiny):
    class NoGrad(TinyConv):
        embed_tensor = None  # type: ignore[assignment]

    with pytest.raises(CapabilityError, match="embed_tensor"):
        similarity_gradients(NoGrad(), tiny.view(np.arange(2)).tensor(16))


def test_report_with_embeddings_refits_from_results(results_path, tmp_path, tiny, monkeypatch):
    import fsbench.data.hub as hub

    monkeypatch.setattr(hub, "resolve_dataset", lambda name, *a, **k: tiny)
    paths = make_report(results_path, tmp_path / "out", with_embeddings=True)
    names = {p.name for p in paths}
    assert {"kernel_pca.png", "similarity_gradients.png"} <= names  # pixels has embed_tensor
    r = json.loads(results_path.read_text())
    r["dataset"]["content_hash"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(r))
    with pytest.raises(ResultsError, match="content hash"):
        make_report(other, tmp_path / "out2", with_embeddings=True)
