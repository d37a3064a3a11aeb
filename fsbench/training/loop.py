"""The one SGD loop every trainer in fsbench runs (thesis §3.1.2).

SGD with Nesterov momentum under warm-up + cosine warm restarts (`LRSchedule`), one seeded
permutation per epoch, a rich progress bar. A step whose loss or gradient is not finite is
skipped, not applied (small CPU batches at the thesis's rates spike now and then); more than
`MAX_BAD_STEPS` of them and the run is called diverged, so a NaN network is never cached as if
it were trained. Scalars named in `no_decay` (the heads' α, β) get no weight decay: decay pulls
α to 0, a saddle of σ(β + α²·cos) where every gradient through the embedding vanishes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from fsbench.errors import FsbenchError
from fsbench.progress import progress_bar
from fsbench.training.schedule import LRSchedule

LOOP_DEFAULTS: dict[str, Any] = {
    "epochs": 20, "warmup_epochs": 5, "warmup_lr": 1e-5, "lr_max": 0.1, "lr_min": 1e-4,
    "batch_size": 1024, "momentum": 0.9, "weight_decay": 4e-5,
}
#: steps with a non-finite loss or gradient that a run may skip before it counts as diverged
MAX_BAD_STEPS = 10


def _optimizer(model: nn.Module, cfg: dict[str, Any], lr: float, no_decay: tuple[str, ...]) -> torch.optim.SGD:
    decayed = [p for n, p in model.named_parameters() if n not in no_decay]
    scalars = [p for n, p in model.named_parameters() if n in no_decay]
    groups = [{"params": decayed, "weight_decay": cfg["weight_decay"]}]
    if scalars:
        groups.append({"params": scalars, "weight_decay": 0.0})
    return torch.optim.SGD(groups, lr=lr, momentum=cfg["momentum"], nesterov=True)


def sgd_loop(
    model: nn.Module,
    n: int,
    cfg: dict[str, Any],
    seed: int,
    step_loss: Callable[[Tensor, torch.Generator], Tensor],
    desc: str,
    *,
    clip: float | None = None,
    after_step: Callable[[], None] | None = None,
    no_decay: tuple[str, ...] = ("alpha", "beta"),
    prefix: str = "",
) -> nn.Module:
    """Train `model` on `n` examples; `step_loss(indices, gen)` returns one mini-batch's loss.

    `prefix` names the method config keys `cfg` came from, for the divergence error.
    """
    cfg = {**LOOP_DEFAULTS, **cfg}
    schedule = LRSchedule.from_config(cfg)
    batch = max(2, min(int(cfg["batch_size"]), n))
    steps = max(1, n // batch)
    opt = _optimizer(model, cfg, schedule(0), no_decay)
    model.to(memory_format=torch.channels_last).train()
    bad = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        with progress_bar() as bar:
            task = bar.add_task(desc, total=int(schedule.epochs) * steps, unit="steps")
            for epoch in range(int(schedule.epochs)):
                perm = torch.randperm(n, generator=gen)
                for step in range(steps):
                    for g in opt.param_groups:
                        g["lr"] = schedule(epoch + step / steps)
                    loss = step_loss(perm[step * batch : (step + 1) * batch], gen)
                    opt.zero_grad(set_to_none=True)
                    finite = bool(torch.isfinite(loss))
                    if finite:
                        loss.backward()
                        finite = bool(torch.isfinite(nn.utils.clip_grad_norm_(model.parameters(), clip or float("inf"))))
                    bar.advance(task)
                    if not finite:  # skip the step, not the run
                        bad += 1
                        if bad > MAX_BAD_STEPS:
                            raise FsbenchError(
                                f"{desc} diverged ({bad} steps with a non-finite loss or gradient, last at "
                                f"epoch {epoch}); lower {prefix}lr_max or raise {prefix}batch_size"
                            )
                        continue
                    opt.step()
                    if after_step is not None:
                        after_step()
    return model.eval()
