"""The typed configs of the core's own methods (torch-free, so `fsbench info` reads them fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fsbench.configs import Config, option, section
from fsbench.configs.sections import PRIOR_N0, ClassifierConfig


@dataclass(frozen=True, kw_only=True)
class PixelsConfig(Config):
    """What `pixels` compares: images at one size and colour mode, by one classifier rule."""

    size: int = option(32, "side (pixels) every image is resized to before flattening", bounds=(2, 256))
    mode: Literal["RGB", "L"] = option("RGB", "colour mode of the pixels compared")
    classifier: ClassifierConfig = section(ClassifierConfig(name="prototype", n0=PRIOR_N0),
                                           "the rule that classifies queries against the support")

    legacy_keys = {"size": "size", "mode": "mode", "classifier": "classifier.name", "n0": "classifier.n0"}
