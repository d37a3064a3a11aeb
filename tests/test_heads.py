"""Core embedding heads: dual-path head, siamese loss, LR schedule, head training, rules."""

from __future__ import annotations

import math

import pytest
import torch

from fsbench import registry
from fsbench.evaluation.classifiers import SimilarityClassifier
from fsbench.heads import DualPathHead, HeadConfig, LRSchedule, LinearDualPathLayer, pairwise_siamese_loss, train_head


def test_dual_path_layer_keeps_residual_and_appends_channels():
    layer = LinearDualPathLayer(4, 2).eval()
    x = torch.randn(5, 4)
    y = layer.body(x)
    out = layer(x)
    assert out.shape == (5, 6)
    torch.testing.assert_close(out[:, :4], x + y[:, :4])
    torch.testing.assert_close(out[:, 4:], y[:, 4:])


def test_head_shapes_unit_norm_and_default_widths():
    head = DualPathHead(128, 10).eval()
    assert [l.channels + l.new_channels for l in head.layers] == [144, 160, 176, 192, 208, 224, 240, 256]
    z = head(torch.randn(7, 128))
    assert z.shape == (7, 10)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(7))
    with pytest.raises(ValueError):
        DualPathHead(32, 10, widths=[48, 40])


def test_head_registered_through_entry_point():
    assert registry.get("heads", "dualpath") is DualPathHead


def test_similarity_is_sigmoid_of_beta_plus_alpha_squared_cosine():
    head = DualPathHead(8, 2, alpha=3.0, beta=-1.0)
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    expected = torch.sigmoid(torch.tensor([[-1 + 9 * 0.6, -1.0]]))
    torch.testing.assert_close(head.similarity(a, b), expected)


def test_siamese_loss_hand_computed():
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    alpha, beta = torch.tensor(1.0), torch.tensor(0.5)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # off-diagonal pairs: 2 positives with logit 1.5, 4 negatives with logit 0.5; pos_weight 3-1=2
    bce = (2 * 2 * -math.log(sig(1.5)) + 4 * -math.log(1 - sig(0.5))) / 6
    loss = pairwise_siamese_loss(emb, labels, alpha, beta, num_classes=3)
    assert loss.item() == pytest.approx(bce + 0.25 * 0.5, rel=1e-6)
    # the β term is what makes the loss depend on |β| beyond the BCE
    no_beta = pairwise_siamese_loss(emb, labels, alpha, beta, num_classes=3, beta_weight=0.0)
    assert (loss - no_beta).item() == pytest.approx(0.125, rel=1e-6)
    # pos_weight: with |C| = 2 the positives count once
    bce2 = (2 * -math.log(sig(1.5)) + 4 * -math.log(1 - sig(0.5))) / 6
    assert pairwise_siamese_loss(emb, labels, alpha, beta, 2, 0.0).item() == pytest.approx(bce2, rel=1e-6)


def test_lr_schedule_key_epochs():
    s = LRSchedule()
    assert s(0) == s(4.99) == 1e-5
    assert s(5) == pytest.approx(0.1)
    assert s(7.5) == pytest.approx((0.1 + 1e-4) / 2)
    assert s(9.999) == pytest.approx(1e-4, abs=1e-6)
    assert s(10) == pytest.approx(0.1)  # the warm restart
    assert s(15) == pytest.approx((0.1 + 1e-4) / 2)
    assert s(20) == pytest.approx(1e-4)
    scaled = LRSchedule.from_config({"epochs": 8, "warmup_epochs": 2})
    assert scaled.restarts == (2, 4.0) and scaled(4) == pytest.approx(0.1)


def _blobs(n_per=30, classes=4, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 3
    labels = torch.arange(classes).repeat_interleave(n_per)
    return centres[labels] + torch.randn(len(labels), dim, generator=g), labels


def head_config(**values) -> HeadConfig:
    """A complete head section (every value given, as a method's config gives it)."""
    base = dict(name="dualpath", features=6, widths=None, dropout=0.5, input_norm=False, squeeze=0, alpha_min=0.0,
                beta_weight=0.25, epochs=20, warmup_epochs=5, warmup_lr=1e-5, lr_max=0.1, lr_min=1e-4, batch_size=256,
                momentum=0.9, weight_decay=5e-4)
    return HeadConfig(**{**base, **values})


def test_train_head_learns_and_is_deterministic():
    x, y = _blobs()
    cfg = head_config(epochs=6, warmup_epochs=1, batch_size=40, lr_max=0.05)
    torch.manual_seed(0)
    h1 = train_head(DualPathHead(16, 6, widths=[24, 32]), x, y, cfg, seed=3)
    torch.manual_seed(0)
    h2 = train_head(DualPathHead(16, 6, widths=[24, 32]), x, y, cfg, seed=3)
    for p1, p2 in zip(h1.parameters(), h2.parameters()):
        torch.testing.assert_close(p1, p2)
    with torch.no_grad():
        z = h1(x)
    clf = SimilarityClassifier("max", h1.alpha.item(), h1.beta.item()).fit(z[::2], y[::2])
    acc = (clf.predict_topk(z[1::2])[:, 0] == y[1::2]).float().mean().item()
    assert acc > 0.9


def test_three_rules_hand_worked():
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.6, 0.8]])
    labels = torch.tensor([0, 0, 1, 1])
    q = torch.tensor([[1.0, 0.0]])
    sig = torch.sigmoid
    s_max = SimilarityClassifier("max").fit(support, labels).scores(q)  # max logit (σ is monotone)
    torch.testing.assert_close(s_max, torch.tensor([[1.0, 0.6]]))
    s_mean = SimilarityClassifier("mean").fit(support, labels).scores(q)
    torch.testing.assert_close(s_mean[0, 0], (sig(torch.tensor(1.0)) + 0.5) / 2)
    s_soft = SimilarityClassifier("softmax").fit(support, labels).scores(q)
    z = math.e + 1 + 2 * math.exp(0.6)
    torch.testing.assert_close(s_soft[0], torch.tensor([(math.e + 1) / z, 2 * math.exp(0.6) / z]))
    # the rules disagree on this case: max and softmax pick class 0, mean picks class 1
    assert [r(support, labels, q) for r in (_top("max"), _top("mean"), _top("softmax"))] == [0, 1, 0]


def _top(rule):
    return lambda s, l, q: int(SimilarityClassifier(rule).fit(s, l).predict_topk(q)[0, 0])


def test_max_rule_does_not_tie_when_sigma_saturates():
    """With a large learned α², σ(β + α²·cos) is 1.0 for every close prototype; ranking by the
    logit keeps the nearer class first instead of falling back to the lowest label."""
    support = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    clf = SimilarityClassifier("max", alpha=10.0, beta=0.0).fit(support, torch.tensor([0, 1]))
    assert int(clf.predict_topk(torch.tensor([[0.8, 0.6]]))[0, 0]) == 1


def test_alpha_floor_keeps_the_head_off_the_alpha_zero_saddle():
    head = DualPathHead(16, 4, alpha=0.01)
    head.bound_alpha(1.0)
    assert head.alpha.item() == 1.0
    head.bound_alpha(0.0)  # floor 0: the thesis's free α, left as it is
    assert head.alpha.item() == 1.0
    x, y = _blobs()
    x = x * 0 + torch.randn(1, 16)  # no signal at all: the loss alone shrinks α towards 0
    free = train_head(DualPathHead(16, 4), x, y, head_config(epochs=3, warmup_epochs=0, alpha_min=0.0), seed=0)
    bounded = train_head(DualPathHead(16, 4), x, y, head_config(epochs=3, warmup_epochs=0, alpha_min=1.5), seed=0)
    assert abs(free.alpha.item()) < 1.5 <= abs(bounded.alpha.item())


def test_input_norm_makes_the_head_blind_to_a_feature_offset_and_scale():
    x = torch.randn(32, 8)
    head = DualPathHead(8, 4, dropout=0.0, input_norm=True).train()
    torch.manual_seed(0)
    a = head(x)
    torch.manual_seed(0)  # the layers' dropout masks repeat
    b = head(3 * x + 7)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_squeeze_projects_wide_features_to_the_thesis_width():
    from fsbench.heads.method import resolve_squeeze

    head = DualPathHead(1152, 10, squeeze=128)
    assert head.layers[0].channels == 128 and head(torch.randn(4, 1152)).shape == (4, 10)
    assert sum(p.numel() for p in head.parameters()) < 3_000_000  # ~86 M without the squeeze
    assert resolve_squeeze("auto", 1152) == 128 and resolve_squeeze("auto", 128) == 0
    assert resolve_squeeze(64, 1152) == 64
