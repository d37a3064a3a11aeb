"""The §3.1.2 learning-rate schedule: constant warm-up, then cosine decay with warm restarts.

Eq. 3.7 decays from lr_max to lr_min within each segment between restarts (SGDR [80]); the
rate jumps back to lr_max at each restart. As printed, eq. 3.7 has 2π in the cosine, which
would climb back to lr_max smoothly and make the restart a no-op; we use SGDR's π.
Epochs are fractional so the rate can change every step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LRSchedule:
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
