"""Episodic (meta-)training shared by ProtoNet and MatchingNet.

Each step draws one N-way K-shot training episode from the fold's training view (optionally
with every 90° class rotation as a new class), embeds support and query, and minimises the
cross-entropy of the method's episode logits, in fsbench's one training loop: Adam, learning
rate halved every `lr_halve_every` episodes (Snell et al.: 2000).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.training.finetune import Recipe
from fsbench.training.loop import Plan, fit
from fsbench.training.objectives import Episodic, Objective
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import schedule_from_config

from fsbench_fewshot_baselines.backbones import build_backbone
from fsbench_fewshot_baselines.base import COMMON_CONFIG, COMMON_TRAIN_KEYS, Input, TrainedMethod, as_float
from fsbench_fewshot_baselines.checkpoints import Checkpoints
from fsbench_fewshot_baselines.sampling import EpisodeSampler, TrainEpisode, random_affine, rotate_classes, rotation_on

EPISODIC_CONFIG: dict[str, Any] = {
    **COMMON_CONFIG,
    # Snell et al. 2017 on Omniglot: 60-way episodes, 5 queries per class, Adam 1e-3 halved
    # every 2000 episodes; the length is where protonet's --dev learning curve plateaus on
    # Omniglot (500-1500 episodes within 1.2 points; docs/baselines.md)
    "episodes": 1000,
    # ... at most this many episodes per training class (each 90° rotation a class): the length
    # follows the data — four letters of your own train 120 episodes, while Massey's 36 letters and
    # Omniglot's 964 characters keep `episodes` (the boards' runs); 0 turns the cap off
    "episodes_per_class": 30,
    "train_ways": 60,
    "train_shots": 1,
    "train_queries": 5,
    "lr": 1e-3,
    "lr_halve_every": 2000,
    "rotate_classes": "auto",  # auto: on for grayscale (character) data, off for hands
    "augment": False,  # small random affine jitter per image
}
EPISODIC_TRAIN_KEYS = (
    *COMMON_TRAIN_KEYS, "episodes", "episodes_per_class", "train_ways", "train_shots", "train_queries", "lr",
    "lr_halve_every", "rotate_classes", "augment",
)


class EpisodicMethod(TrainedMethod):
    """Base for metric-learning methods trained on episodes; the network is the backbone."""
    #: seconds on the tiny synthetic dataset, for the contract test over every installed method
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "conv4", "width": 8, "size": 28, "mode": "L", "episodes": 6,
        "train_ways": 4, "train_shots": 2, "train_queries": 2,
    }

    default_config: ClassVar[dict[str, Any]] = EPISODIC_CONFIG
    train_keys: ClassVar[tuple[str, ...]] = EPISODIC_TRAIN_KEYS
    #: added after the boards were published: at its default it stays out of the config hash
    #: (on every board's data the cap is above `episodes`, so those runs are unchanged)
    late_keys: ClassVar[dict[str, Any]] = {**TrainedMethod.late_keys, "episodes_per_class": 30}
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **TrainedMethod.config_ranges, "episodes_per_class": (0, None)}
    config_auto: ClassVar[dict[str, str]] = {
        **TrainedMethod.config_auto,
        "episodes": "capped at episodes_per_class × the fold's training classes (each 90° rotation a class; "
                    "0: no cap): 4 classes train 120 episodes, Massey's 36 letters and Omniglot keep the "
                    "configured length; each training's count is in the results file (method.trainings)",
    }

    def episode_logits(self, support: Tensor, support_labels: Tensor, query: Tensor, ways: int) -> Tensor:
        """(Nq, ways) logits of each query over the episode's classes."""
        raise NotImplementedError

    def objective(self, recipe: Recipe, dim: int, classes: int) -> Objective:
        """On a pretrained backbone: this method's episode logits on N-way K-shot episodes."""
        cfg = self.config
        return Episodic(self.episode_logits, int(cfg["train_ways"]), int(cfg["train_shots"]),
                        int(cfg["train_queries"]), self.name)

    def length(self, labels: np.ndarray, mode: str) -> tuple[int, int]:
        """(episodes, ways) of one fold's training. Classes count when they have enough images for
        an episode (as the sampler caps `ways`), every 90° rotation a class of its own on characters;
        the length is `episodes`, capped at `episodes_per_class` × those classes."""
        cfg = self.config
        counts = np.unique(labels, return_counts=True)[1]
        eligible = int((counts >= cfg["train_shots"] + cfg["train_queries"]).sum())
        eligible *= 4 if rotation_on(cfg, mode) else 1
        episodes = int(cfg["episodes"])
        if cfg["episodes_per_class"]:
            episodes = max(1, min(episodes, int(cfg["episodes_per_class"]) * eligible))
        return episodes, max(2, min(int(cfg["train_ways"]), eligible))

    def work_units(self, labels: np.ndarray, inp: Input) -> tuple[int, int, str]:
        """One episode per step: `ways` classes × (shots + queries) images."""
        steps, ways = self.length(labels, inp.mode)
        return steps, steps * ways * (self.config["train_shots"] + self.config["train_queries"]), f"{steps} episodes, {ways}-way"

    def resolved(self, labels: np.ndarray, inp: Input) -> dict[str, Any]:
        return {"episodes": self.length(labels, inp.mode)[0]}

    def build(self, meta: dict[str, Any]) -> nn.Module:
        return build_backbone(self.config["backbone"], meta["channels"], self.config)

    def train_net(self, net: nn.Module, images: Tensor, labels: np.ndarray, seed: int, ckpt: Checkpoints) -> None:
        cfg = self.config
        episodes = self.length(labels, self.meta["mode"])[0]
        if rotation_on(cfg, self.meta["mode"]):
            images, labels = rotate_classes(images, labels)
        sampler = EpisodeSampler(labels, cfg["train_ways"], cfg["train_shots"], cfg["train_queries"])
        rng = np.random.default_rng([seed, 2017])
        gen = torch.Generator().manual_seed(seed)

        where = self.placement

        def loss_fn(ep: TrainEpisode) -> Tensor:
            x = as_float(where.put(images[np.concatenate([ep.support, ep.query])]))  # uint8 to the device
            if cfg["augment"]:
                x = random_affine(x, gen)
            emb = net(x)
            ns = len(ep.support)
            logits = self.episode_logits(emb[:ns], where.put(torch.from_numpy(ep.support_labels)), emb[ns:],
                                         sampler.ways)
            return F.cross_entropy(logits, where.put(torch.from_numpy(ep.query_labels)))

        # Adam under a fixed halving period (not a fraction of the run): a prefix of a long run is a short run
        fit(net, Plan.repeat(episodes, lambda: sampler.sample(rng)), loss_fn,
            optimizer=OptimizerSpec.from_config(cfg, "adam"), schedule=schedule_from_config(cfg, "step"),
            placement=where, hooks=ckpt.bind(rng, gen), desc=f"{self.name}: training episodes", show_loss=True,
            unit="episodes", advice="lower lr or raise train_ways", batch_key="train_ways")


def class_means(x: Tensor, labels: Tensor, ways: int) -> Tensor:
    """(ways, D) mean of the rows of each class 0..ways-1: the prototypes of eq. 1 (Snell)."""
    sums = x.new_zeros(ways, x.shape[1]).index_add(0, labels, x)
    return sums / torch.bincount(labels, minlength=ways).clamp_min(1)[:, None].to(x.dtype)
