"""Learning-rate schedules of the one loop: the rate as a function of the (fractional) epoch.

- `LRSchedule` ("restarts", the SGD trainers' default): §3.1.2's constant warm-up, then cosine
  decay with warm restarts;
- `StepDecay` ("step", the episodic baselines'): the rate times `gamma` every `every` epochs, as
  torch's StepLR stepped once per optimiser step (an episodic run's epoch is one episode);
- `WarmupCosine` ("cosine", for fine-tuning): linear warm-up to `lr_max`, one cosine to `lr_min`;
- `Constant` ("constant", the classification baselines').

`schedule_from_config` picks one by the config's `schedule` key. A schedule is a pure function of
the epoch, so a resumed run needs no saved scheduler state.

Eq. 3.7 decays from lr_max to lr_min within each segment between restarts (SGDR [80]); the
rate jumps back to lr_max at each restart. As printed, eq. 3.7 has 2π in the cosine, which
would climb back to lr_max smoothly and make the restart a no-op; we use SGDR's π.
Epochs are fractional so the rate can change every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsbench.errors import FsbenchError

#: a schedule: epoch (fractional: epoch + step / steps per epoch) → learning rate
Schedule = Callable[[float], float]


@dataclass(frozen=True)
class LRSchedule:
    """§3.1.2: constant `warmup_lr`, then cosine from `lr_max` to `lr_min` restarting at `restarts`."""

    epochs: float = 20
    warmup_epochs: float = 5
    warmup_lr: float = 1e-5
    lr_max: float = 0.1
    lr_min: float = 1e-4
    #: epochs at which a cosine segment starts (the first is the end of warm-up)
    restarts: Sequence[float] = field(default=(5, 10))

    @classmethod
    def from_config(cls, config: dict, prefix: str = "") -> "LRSchedule":
        """Build from config keys `{prefix}epochs`, `{prefix}warmup_epochs`, … (missing: defaults)."""
        kw = {}
        for name in ("epochs", "warmup_epochs", "warmup_lr", "lr_max", "lr_min", "restarts"):
            if prefix + name in config:
                kw[name] = config[prefix + name]
        if "restarts" in kw:
            kw["restarts"] = tuple(kw["restarts"])
        elif "warmup_epochs" in kw or "epochs" in kw:  # scale the 5/10-of-20 pattern
            w = kw.get("warmup_epochs", cls.warmup_epochs)
            e = kw.get("epochs", cls.epochs)
            kw["restarts"] = (w, w + (e - w) / 3)
        return cls(**kw)

    def segments(self) -> list[tuple[float, float]]:
        starts = sorted({max(float(r), float(self.warmup_epochs)) for r in self.restarts} | {float(self.warmup_epochs)})
        starts = [s for s in starts if s < self.epochs]
        return [(s, e) for s, e in zip(starts, [*starts[1:], float(self.epochs)])]

    def __call__(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            return self.warmup_lr
        for start, end in reversed(self.segments()):
            if epoch >= start:
                t = min((epoch - start) / max(end - start, 1e-12), 1.0)
                return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * t))
        return self.lr_min


@dataclass(frozen=True)
class Constant:
    lr: float = 1e-3

    def __call__(self, epoch: float) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay:
    """`lr · gamma^k` after k whole periods of `every` epochs, multiplied out one period at a time
    as torch's StepLR does, so the rates are the same floats."""

    lr: float = 1e-3
    every: int = 2000
    gamma: float = 0.5

    def __call__(self, epoch: float) -> float:
        lr = self.lr
        for _ in range(int(epoch) // max(1, int(self.every))):
            lr *= self.gamma
        return lr


@dataclass(frozen=True)
class WarmupCosine:
    """Linear warm-up from `warmup_lr` to `lr_max` over `warmup_epochs`, then one cosine to
    `lr_min` at `epochs` (the usual recipe for fine-tuning a pretrained net)."""

    epochs: float = 10
    warmup_epochs: float = 1
    lr_max: float = 1e-3
    lr_min: float = 0.0
    warmup_lr: float = 0.0

    def __call__(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            return self.warmup_lr + (self.lr_max - self.warmup_lr) * epoch / self.warmup_epochs
        t = min((epoch - self.warmup_epochs) / max(self.epochs - self.warmup_epochs, 1e-12), 1.0)
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * t))


SCHEDULES = ("restarts", "step", "cosine", "constant")


def schedule_from_config(config: Mapping[str, Any], default: str = "restarts") -> Schedule:
    """The schedule named by `config["schedule"]` (else `default`), from the config's keys:

    restarts: epochs, warmup_epochs, warmup_lr, lr_max, lr_min, restarts (LRSchedule.from_config);
    cosine: epochs, warmup_epochs, warmup_lr, lr_max, lr_min; step: lr, lr_halve_every, lr_gamma;
    constant: lr.
    """
    name = str(config.get("schedule", default))
    if name == "restarts":
        return LRSchedule.from_config(dict(config))
    if name == "step":
        return StepDecay(float(config["lr"]), int(config["lr_halve_every"]), float(config.get("lr_gamma", 0.5)))
    if name == "constant":
        return Constant(float(config["lr"]))
    if name == "cosine":
        fields = ("epochs", "warmup_epochs", "lr_max", "lr_min", "warmup_lr")
        return WarmupCosine(**{k: float(config[k]) for k in fields if k in config})
    raise FsbenchError(f"schedule {name!r} is unknown; use one of {', '.join(SCHEDULES)}")
