"""The typed configs of the two landmark methods (no torch here: `fsbench info` reads them fast).

Both run MediaPipe Hands the same way (`LANDMARKS`, one default per value); `legacy_keys` say
where each key of their flat version-1 configs went, so boards written before keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fsbench.configs import Config, option, section
from fsbench.configs.sections import PRIOR_N0, ClassifierConfig, HeadConfig


@dataclass(frozen=True, kw_only=True)
class LandmarkBackbone(Config):
    """MediaPipe Hands as both methods run it: what it is shown, and how landmarks are normalised."""

    size: int = option(doc="pixels MediaPipe sees (Massey's stored size; upsampling did not help)", bounds=(32, None))
    pad: float = option(doc="black border per side, a fraction of the image (79% → 99% detected on Massey)",
                        bounds=(0, None))
    min_detection_confidence: float = option(doc="MediaPipe's palm-detection threshold", bounds=(0, 1))
    model_complexity: Literal[0, 1] = option(doc="1: the full palm + landmark models; 0: the lite ones")
    scale: Literal["palm", "bbox"] = option(doc="landmarks are scaled by the palm size or the hand's bounding box")
    mirror: bool = option(doc="mirror left hands onto right ones")
    use_z: bool = option(doc="keep MediaPipe's depth coordinate (63 features; 42 without)")


#: the detector both methods use by default (one default per value, shared)
LANDMARKS = LandmarkBackbone(size=128, pad=0.25, min_detection_confidence=0.5, model_complexity=1, scale="palm",
                             mirror=True, use_z=True)
#: where each key of the flat (version 1) configs went
LEGACY_BACKBONE = {k: f"backbone.{k}" for k in (
    "size", "pad", "min_detection_confidence", "model_complexity", "scale", "mirror", "use_z")}


@dataclass(frozen=True, kw_only=True)
class GeometricConfig(Config):
    """Normalised landmarks compared by a registered rule; nothing learned."""

    backbone: LandmarkBackbone = section(LANDMARKS, "MediaPipe Hands and the landmark normalisation")
    classifier: ClassifierConfig = section(ClassifierConfig(name="euclid-prototype", n0=PRIOR_N0),
                                           "the rule that classifies queries against the support")

    legacy_keys = {**LEGACY_BACKBONE, "classifier": "classifier.name", "n0": "classifier.n0"}


@dataclass(frozen=True, kw_only=True)
class HeadClassifier(ClassifierConfig):
    """The low-shot rule on the head's embeddings, with its learned α, β (or the prior's n0)."""

    name: Literal["max", "mean", "softmax", "prior-prototype"] = option(
        doc="max | mean | softmax (eqs 3.24–3.26) | prior-prototype (the training signers' prototype as n0 examples)")


@dataclass(frozen=True, kw_only=True)
class LandmarksConfig(Config):
    """Normalised landmarks → a dual-path head trained on the training signers → a σ(β + α²·cos) rule."""

    backbone: LandmarkBackbone = section(LANDMARKS, "MediaPipe Hands and the landmark normalisation")
    # 63 landmark floats are far fewer than a CNN's 128 features: the thesis's 8-layer head at lr 0.1
    # collapses (α → 0.05). lr 0.003, two layers and f = 32 were selected with `fsbench run --dev`
    # (training signers only); 480 epochs: where top-1 at S=4 stops rising on the `--dev` curve
    # (docs/mediapipe-landmarks.md)
    head: HeadConfig = section(HeadConfig(
        name="dualpath", features=32, widths=(79, 95), dropout=0.1, input_norm=False, squeeze=0, alpha_min=0.0,
        beta_weight=0.25, epochs=480, warmup_epochs=2, warmup_lr=1e-5, lr_max=0.003, lr_min=1e-4, batch_size=256,
        momentum=0.9, weight_decay=5e-4,
    ))
    classifier: HeadClassifier = section(HeadClassifier(name="max", n0=PRIOR_N0))
    threads: int = option(1, "torch threads while training the tiny head (pool wake-ups dominate otherwise)",
                          bounds=(0, None))

    legacy_keys = {
        **LEGACY_BACKBONE, "features": "head.features", "classifier": "classifier.name", "n0": "classifier.n0",
        "beta_weight": "head.beta_weight",
        "threads": "threads", **{f"head_{k}": f"head.{k}" for k in (
            "epochs", "warmup_epochs", "batch_size", "lr_max", "lr_min", "dropout", "widths")},
    }
