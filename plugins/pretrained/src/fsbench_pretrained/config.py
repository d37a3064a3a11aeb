"""frozen-prototypes's typed config (no torch here: `fsbench info` reads it fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fsbench.configs import Config, option, section
from fsbench.configs.sections import PRIOR_N0, ClassifierConfig


@dataclass(frozen=True, kw_only=True)
class FrozenBackbone(Config):
    """Which registered backbone embeds the images, built with which options."""

    name: str = option("imagenet-efficientnet-lite0", "any registered backbone (fsbench list backbones)")
    options: dict[str, Any] = option({}, "keyword arguments for the backbone, e.g. {\"input_size\": 160}")


@dataclass(frozen=True, kw_only=True)
class FrozenConfig(Config):
    """A registered backbone, frozen, and the rule that classifies its L2-normalised features."""

    backbone: FrozenBackbone = section(FrozenBackbone())
    classifier: ClassifierConfig = section(ClassifierConfig(name="prototype", n0=PRIOR_N0),
                                           "any registered classifier rule: prototype, prior-prototype (n0), max, ...")
    # on an oversubscribed CPU one thread can be several times faster than two
    threads: int = option(0, "torch intra-op threads while embedding (0: torch's default)", bounds=(0, None))

    legacy_keys = {"backbone": "backbone.name", "backbone_options": "backbone.options", "classifier": "classifier.name",
                   "n0": "classifier.n0", "threads": "threads"}
