"""Config sections the core's methods share: the SGD recipe, the embedding head, the classifier.

They declare fields, docs and bounds but no defaults: each method gives all of its values in its
own config (hand2vec's head trains 30 epochs, mediapipe-landmarks's 480), so a value has one
default, the method's, and `--set head.epochs=5` reaches the loop under the same name. They live
here, at the bottom of the house, so `fsbench info` can print a schema without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fsbench.configs.base import Config, option, values
from fsbench.configs.legacy import PRIOR_DEFAULTS

#: n0 of the prior-keeping classifier (`classifier.name = "prior-prototype"`): every method's
#: config and the classifier's own default take it from here; chosen with --dev (docs/baselines.md)
PRIOR_N0: float = PRIOR_DEFAULTS["n0"]


@dataclass(frozen=True, kw_only=True)
class SGDRecipe(Config):
    """SGD with Nesterov momentum, constant warm-up then cosine decay with restarts (§3.1.2)."""

    epochs: int = option(doc="passes over the training set", bounds=(1, None))
    warmup_epochs: int = option(doc="epochs at the constant warm-up rate before the cosine decay", bounds=(0, None))
    warmup_lr: float = option(doc="learning rate during warm-up", bounds=(0, None))
    lr_max: float = option(doc="learning rate at the start of each cosine segment", bounds=(0, None))
    lr_min: float = option(doc="learning rate at the end of each cosine segment", bounds=(0, None))
    batch_size: int = option(doc="examples per SGD step", bounds=(2, None))
    momentum: float = option(doc="Nesterov momentum", bounds=(0, 1))
    weight_decay: float = option(doc="L2 weight decay (none on the heads' α, β)", bounds=(0, None))


def recipe(config: SGDRecipe) -> dict[str, Any]:
    """The recipe's values as the plain mapping the training loop takes (a section may hold more)."""
    return values(config, SGDRecipe)


@dataclass(frozen=True, kw_only=True)
class HeadArchitecture(Config):
    """What the head is: a registered head, f, its layers and the loss's head-side settings."""

    name: str = option(doc="registered head (fsbench list heads)")
    features: int = option(doc="f, the embedding size", bounds=(1, None))
    widths: tuple[int, ...] | None = option(doc="output width of each dual-path layer; null: 8 layers of +16 (Fig 3.9)")
    dropout: float = option(doc="dropout rate before the final projection", bounds=(0, 1))
    input_norm: bool = option(doc="standardise the features first (BatchNorm without affine)")
    squeeze: int | Literal["auto"] = option(doc="project the features to this width first (0: no)", bounds=(0, None))
    alpha_min: float = option(doc="floor on |α| after every step, against the α → 0 saddle (0: free α)", bounds=(0, None))
    beta_weight: float = option(doc="weight of the β regulariser in the pairwise siamese loss", bounds=(0, None))


@dataclass(frozen=True, kw_only=True)
class HeadConfig(SGDRecipe, HeadArchitecture):
    """The embedding head (`head` section): what it is (architecture, f) and how it is trained."""


@dataclass(frozen=True, kw_only=True)
class ClassifierConfig(Config):
    """The low-shot rule each episode's support fits (`classifier` section), and its settings."""

    name: str = option(doc="registered classifier rule (fsbench list classifiers)")
    n0: float = option(doc="prior-prototype only: weight of the training signers' class prototype, "
                           "in support examples", bounds=(0, None))


@dataclass(frozen=True, kw_only=True)
class FinetuneRecipe(Config):
    """How fsbench's one fine-tuning trainer (fsbench.training.finetune) trains a pretrained backbone
    in stages with a method's loss. The defaults, written once here, are the recipe calibrated on a
    GPU (docs/baselines.md); `fsbench.training.finetune.recipe_from` lays the CPU's few differing
    defaults (`CPU_RECIPE`) over them where a run computes on the CPU."""

    epochs: int = option(15, "passes over the training view", bounds=(1, None))
    batch_size: int = option(64, "images per micro-batch", bounds=(2, None))
    accumulate: int = option(1, "micro-batches per optimiser step (gradients summed)", bounds=(1, None))
    lr: float = option(3e-4, "the backbone's peak AdamW rate (linear warm-up, then one cosine to 0)", bounds=(0, None))
    head_lr: float = option(3e-3, "the peak rate of the loss's own parameters (a classifier head)", bounds=(0, None))
    weight_decay: float = option(1e-4, "AdamW's decoupled weight decay", bounds=(0, None))
    warmup_epochs: float = option(1.0, "epochs of linear warm-up", bounds=(0, None))
    label_smoothing: float = option(0.1, "cross-entropy's label smoothing", bounds=(0, 0.99))
    head: Literal["cosine", "linear"] = option("cosine", "the cross-entropy head over the training classes")
    cosine_scale: float = option(10.0, "scale of the cosine head's logits", bounds=(0, None))
    stages: int = option(-1, "trainable last stages of the backbone: -1 all, 0 none (the head alone)", bounds=(-1, None))
    views: int = option(0, "K > 0 with frozen stages: K fixed augmented views per image, frozen trunk run once each",
                        bounds=(0, None))
    size: int = option(224, "the side in pixels the network runs at", bounds=(16, 1024))
    augment: bool = option(True, "rotation, scale, shift and colour jitter (flips only where the card allows)")
