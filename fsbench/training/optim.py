"""The optimisers the one loop builds: SGD with Nesterov momentum (the thesis's), Adam, AdamW.

An `OptimizerSpec` is plain data, read from a trainer's config (`optimizer`, `weight_decay`,
`momentum`, `betas`, `eps`, `lr_scale`), and builds the torch optimiser for a model with its
parameter groups:

- `no_decay`: parameters (by exact name) that get no weight decay, e.g. the heads' α, β;
- `lr_scale`: {name prefix: factor} multiplies the scheduled rate for those parameters, e.g.
  `{"backbone.": 0.1}` fine-tunes a pretrained backbone ten times slower than a new head.

Groups are built in the order (decayed, then no-decay) per scale, parameters in `named_parameters`
order, so a spec without scales gives exactly the optimiser fsbench built before (same groups,
same state_dict layout: saved snapshots resume).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fsbench.errors import FsbenchError

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimiser, its hyper-parameters and its parameter groups."""

    name: str = "sgd"  # sgd (Nesterov momentum) | adam | adamw (decoupled weight decay)
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd
    nesterov: bool = True  # sgd
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    eps: float = 1e-8  # adam, adamw
    no_decay: tuple[str, ...] = ()
    lr_scale: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise FsbenchError(f"optimizer {self.name!r} is unknown; use one of {', '.join(OPTIMIZERS)}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default: str = "sgd", **fixed: Any) -> "OptimizerSpec":
        """From a trainer config's keys (missing ones: this class's defaults, `default` optimiser);
        `fixed` are what the trainer decides itself (e.g. no_decay)."""
        kw: dict[str, Any] = {"name": str(config.get("optimizer", default))}
        for key in ("weight_decay", "momentum", "eps"):
            if key in config:
                kw[key] = float(config[key])
        if "nesterov" in config:
            kw["nesterov"] = bool(config["nesterov"])
        if "betas" in config:
            kw["betas"] = tuple(float(b) for b in config["betas"])
        if config.get("lr_scale"):
            kw["lr_scale"] = {str(k): float(v) for k, v in dict(config["lr_scale"]).items()}
        return cls(**{**kw, **fixed})

    def scale_of(self, name: str) -> float:
        """The lr factor of parameter `name`: its longest matching prefix's, else 1."""
        best = max((p for p in self.lr_scale if name.startswith(p)), key=len, default=None)
        return 1.0 if best is None else float(self.lr_scale[best])

    def groups(self, model: nn.Module) -> tuple[list[dict[str, Any]], list[float]]:
        """(param groups, the lr scale of each group)."""
        keyed: dict[tuple[float, bool], list[nn.Parameter]] = {}
        for name, p in model.named_parameters():  # frozen ones too: they get no gradient, so no step
            keyed.setdefault((self.scale_of(name), name not in self.no_decay), []).append(p)
        scales = list(dict.fromkeys(s for s, _ in keyed))
        groups, group_scales = [], []
        for scale in scales:
            for decayed in (True, False):
                if (scale, decayed) in keyed:
                    groups.append({"params": keyed[scale, decayed],
                                   "weight_decay": self.weight_decay if decayed else 0.0})
                    group_scales.append(scale)
        return groups, group_scales

    def build(self, model: nn.Module, lr: float) -> tuple[torch.optim.Optimizer, list[float]]:
        """The optimiser over `model`'s trainable parameters at rate `lr`, and each group's scale."""
        groups, scales = self.groups(model)
        if not groups:
            raise FsbenchError("nothing to train: the model has no parameters")
        for g, s in zip(groups, scales):
            if s != 1.0:
                g["lr"] = lr * s
        if self.name == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=lr, momentum=self.momentum,
                                                         nesterov=self.nesterov)
        elif self.name == "adam":
            opt = torch.optim.Adam(groups, lr=lr, betas=self.betas, eps=self.eps)
        else:
            opt = torch.optim.AdamW(groups, lr=lr, betas=self.betas, eps=self.eps)
        return opt, scales
