"""Unit tests of the pieces: training episodes, rotation, prototypes, fine-tune head, logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench.errors import FsbenchError
from fsbench_fewshot_baselines.episodic import class_means
from fsbench_fewshot_baselines.finetune import FinetuneHead
from fsbench_fewshot_baselines.protonet import ProtoNet, ProtoNetJoint, squared_distances
from fsbench_fewshot_baselines.sampling import EpisodeSampler, random_affine, rotate_classes
from fsbench_fewshot_baselines.supervised import LogitClassifier


def test_episode_sampler_draws_disjoint_balanced_episodes():
    labels = np.repeat(np.arange(6), 5)  # 6 classes × 5 images
    labels = np.concatenate([labels, [6, 6]])  # class 6 too small for 2+2: never drawn
    sampler = EpisodeSampler(labels, ways=10, shots=2, queries=2)
    assert sampler.ways == 6 and 6 not in sampler.classes
    ep = sampler.sample(np.random.default_rng(0))
    assert len(ep.support) == 12 and len(ep.query) == 12
    assert not set(ep.support) & set(ep.query)
    for way in range(6):  # every way is one real class, in support and query alike
        cls = set(labels[ep.support[ep.support_labels == way]]) | set(labels[ep.query[ep.query_labels == way]])
        assert len(cls) == 1
    again = sampler.sample(np.random.default_rng(0))
    assert np.array_equal(ep.support, again.support) and np.array_equal(ep.query, again.query)


def test_episode_sampler_rejects_impossible_configs():
    with pytest.raises(FsbenchError, match="train_shots"):
        EpisodeSampler(np.repeat(np.arange(3), 3), ways=3, shots=2, queries=2)
    with pytest.raises(FsbenchError, match="ways"):
        EpisodeSampler(np.repeat(np.arange(3), 9), ways=1, shots=2, queries=2)


def test_rotated_classes_are_new_classes():
    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.uint8).reshape(2, 1, 3, 3)
    images, labels = rotate_classes(x, np.array([0, 5]))
    assert labels.tolist() == [0, 20, 1, 21, 2, 22, 3, 23]
    assert torch.equal(images[2], torch.rot90(x[0], 1, dims=(1, 2)))
    assert (labels // 4).tolist() == [0, 5] * 4


def test_random_affine_is_seeded_and_shape_preserving():
    x = torch.rand(4, 3, 16, 16)
    a = random_affine(x, torch.Generator().manual_seed(1))
    b = random_affine(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


def test_prototypes_and_distances_match_a_hand_worked_case():
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    protos = class_means(support, labels, 2)
    assert torch.allclose(protos, torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
    query = torch.tensor([[1.0, 1.0]])  # ‖(1,1)−(1,0)‖² = 1, ‖(1,1)−(0,3)‖² = 1 + 4 = 5
    logits = ProtoNet().episode_logits(support, labels, query, 2)
    assert torch.allclose(logits, torch.tensor([[-1.0, -5.0]]))
    assert torch.allclose(squared_distances(query, protos), torch.tensor([[1.0, 5.0]]))
    clf = ProtoNet().make_classifier().fit(support, torch.tensor([7, 7, 3, 3]))
    assert clf.predict_topk(query).tolist() == [[7]]  # (1,1) is nearer the mean of class 7
    assert torch.allclose(clf.scores(query), torch.tensor([[-5.0, -1.0]]))  # classes_ = [3, 7]


def test_protonet_metric_and_support_source_config():
    assert ProtoNet().make_classifier().metric == "euclidean"
    assert ProtoNet({"metric": "cosine"}).make_classifier().metric == "cosine"
    assert ProtoNet().support_source == "test-signer"
    assert ProtoNet({"support_source": "test-signer+train"}).describe()["support_source"] == "test-signer+train"
    assert ProtoNetJoint.support_source == "test-signer+train" == ProtoNetJoint().support_source
    with pytest.raises(FsbenchError, match="metric"):
        ProtoNet({"metric": "manhattan"})
    with pytest.raises(FsbenchError, match="support_source"):
        ProtoNet({"support_source": "everyone"})
    with pytest.raises(FsbenchError, match="no config key"):
        ProtoNet({"wayz": 5})


@pytest.mark.parametrize("head", ["linear", "cosine"])
def test_finetune_head_fits_the_support_deterministically(head):
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=gen) * 3
    support = centres.repeat_interleave(2, 0) + 0.3 * torch.randn(6, 16, generator=gen)
    labels = torch.tensor([4, 4, 9, 9, 2, 2])
    queries = centres + 0.3 * torch.randn(3, 16, generator=gen)
    a = FinetuneHead(head, steps=50).fit(support, labels)
    assert a.classes_.tolist() == [2, 4, 9]
    assert a.predict_topk(queries).flatten().tolist() == [4, 9, 2]
    with torch.no_grad():  # the evaluator may fit under no_grad; the head must still train
        b = FinetuneHead(head, steps=50).fit(support, labels)
    assert torch.equal(a.scores(queries), b.scores(queries))


def test_finetune_head_rejects_unknown_head():
    with pytest.raises(FsbenchError, match="head"):
        FinetuneHead("mlp")


def test_logit_classifier_reads_episode_logits_and_refuses_unseen_classes():
    logits = torch.tensor([[0.1, 3.0, 0.2, 5.0], [2.0, 0.0, 1.0, 0.0]])
    clf = LogitClassifier([0, 1, 2, 3]).fit(torch.zeros(2, 4), torch.tensor([2, 1]))
    assert torch.equal(clf.scores(logits), logits[:, [1, 2]])
    assert clf.predict_topk(logits).flatten().tolist() == [1, 2]
    with pytest.raises(FsbenchError, match="never trained"):
        LogitClassifier([0, 1]).fit(torch.zeros(1, 4), torch.tensor([3]))
