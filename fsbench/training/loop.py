"""The one training loop: every trainer in fsbench and its plugins steps its optimiser here.

    fit(model, plan, loss_fn, optimizer=OptimizerSpec(...), schedule=..., placement=...,
        accumulate=1, clip=None, seed=None, after_step=None, hooks=None, desc="training …")

- `plan` (`Plan`): how many epochs, how many optimiser steps per epoch, and `batches(epoch)`, the
  epoch's micro-batches (drawn when the epoch starts, so random draws keep their order).
  `Plan.shuffled(n, batch, epochs, gen)` is a seeded permutation of n examples per epoch;
  `Plan.repeat(steps, draw)` is one batch per step that `draw()` makes (an episode, a full batch).
- `loss_fn(batch) -> Tensor`: one micro-batch's loss. It puts its tensors on the device with
  `placement.put`; the loop puts the model there (`placement.module`) and runs `loss_fn` under
  the placement's autocast (bf16/fp16; nothing for fp32) with a GradScaler for fp16.
- `optimizer` (`optim.OptimizerSpec`: sgd-Nesterov, adam, adamw; param groups with `no_decay`
  names and `lr_scale` prefixes) and `schedule` (`schedule.py`: the rate of a fractional epoch),
  both read from plain config mappings by `OptimizerSpec.from_config` / `schedule_from_config`.
- `accumulate`: micro-batches per optimiser step (gradients summed, each loss divided by it).
- A step whose loss or gradient norm is not finite is skipped, not applied (small CPU batches at
  the thesis's rates spike now and then); more than `MAX_BAD_STEPS` and the run is called
  diverged (`advice` says which key to change), so a NaN network is never cached as trained.
  `guard=False` drops these checks (two host syncs a step) for loops too small to pay for them
  whose result is never cached (a classifier fitted per episode).
- `hooks` (`Hooks`): `restore(model, optimizer) -> epochs already done` before the first step and
  `after_epoch(done, epochs, model, optimizer)` after each epoch — snapshots for learning curves.
- `seed`: torch's global generator is seeded inside a fork (the caller's is left as it was);
  None leaves it alone (the caller seeded already).
- `desc`: the progress bar's text (None: no bar, e.g. a per-episode classifier), counting `unit`;
  `show_loss` appends the last loss.

Config keys every trainer reads the same way (LOOP_DEFAULTS: the SGD trainers' values):
epochs, batch_size, accumulate, optimizer, weight_decay, momentum, nesterov, betas, eps, lr_scale,
schedule (restarts | step | cosine | constant) and its keys (warmup_epochs, warmup_lr, lr_max,
lr_min, restarts; lr, lr_halve_every, lr_gamma). Device and precision are the run's
(`fsbench.device.Placement`), not a method's.

`fit_shuffled` is the SGD trainers' entry (heads, hand2vec's nets, hand2vec-ft): epochs of a
seeded permutation of n examples under warm-up + cosine restarts (thesis §3.1.2). Scalars named in
`no_decay` (the heads' α, β) get no weight decay: decay pulls α to 0, a saddle of σ(β + α²·cos)
where every gradient through the embedding vanishes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from fsbench.device import Placement, as_placement, key_hint, out_of_memory
from fsbench.errors import FsbenchError
from fsbench.progress import progress_bar
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import Schedule, schedule_from_config

LOOP_DEFAULTS: dict[str, Any] = {
    "epochs": 20, "warmup_epochs": 5, "warmup_lr": 1e-5, "lr_max": 0.1, "lr_min": 1e-4,
    "batch_size": 1024, "momentum": 0.9, "weight_decay": 4e-5,
}
#: steps with a non-finite loss or gradient that a run may skip before it counts as diverged
MAX_BAD_STEPS = 10


@dataclass(frozen=True)
class Plan:
    """How long a training runs and what each optimiser step is fed."""

    epochs: int
    steps: int  # optimiser steps per epoch
    #: epoch → its micro-batches (steps × accumulate of them), called when the epoch starts
    batches: Callable[[int], Iterable[Any]]

    @classmethod
    def shuffled(cls, n: int, batch: int, epochs: int, gen: torch.Generator, accumulate: int = 1) -> "Plan":
        """A `gen`-seeded permutation of range(n) per epoch in index batches of `batch`, the ragged
        end dropped (BatchNorm needs > 1 row); at least one step per epoch."""
        steps = max(1, n // (batch * accumulate))
        return cls(epochs, steps, lambda epoch: torch.randperm(n, generator=gen).split(batch)[: steps * accumulate])

    @classmethod
    def repeat(cls, steps: int, draw: Callable[[], Any], epochs: int = 0) -> "Plan":
        """`steps` optimiser steps, each fed one `draw()`; as `steps` one-step epochs (hooks see
        every step) unless `epochs` says otherwise."""
        if epochs:
            return cls(epochs, steps, lambda epoch: (draw() for _ in range(steps)))
        return cls(steps, 1, lambda epoch: (draw(),))


class Hooks(Protocol):
    """Checkpointing: where a run resumes from and what it saves after each epoch."""

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> int: ...

    def after_epoch(self, done: int, epochs: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...


def _rng(seed: int | None, placement: Placement) -> Any:
    """A fork of torch's generators seeded with `seed` (None: no fork, nothing seeded)."""
    if seed is None:
        return nullcontext()
    stack = ExitStack()
    devices = [placement.torch_device().index or 0] if placement.type == "cuda" else []
    stack.enter_context(torch.random.fork_rng(devices=devices))
    torch.manual_seed(seed)
    return stack


def fit(
    model: nn.Module,
    plan: Plan,
    loss_fn: Callable[[Any], Tensor],
    *,
    optimizer: OptimizerSpec,
    schedule: Schedule,
    placement: Placement | str | None = None,
    accumulate: int = 1,
    clip: float | None = None,
    seed: int | None = None,
    after_step: Callable[[], None] | None = None,
    hooks: Hooks | None = None,
    desc: str | None = None,
    show_loss: bool = False,
    unit: str = "steps",
    advice: str = "lower the learning rate",
    guard: bool = True,
    batch_key: str = "batch_size",
    channels_last: bool = False,
) -> nn.Module:
    """Train `model` in place by `plan`; return it in eval mode (see the module docstring)."""
    where = as_placement(placement)
    accumulate = max(1, int(accumulate))
    model = where.module(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt, scales = optimizer.build(model, schedule(0.0))
    first = hooks.restore(model, opt) if hooks is not None else 0
    scaler = where.scaler()
    params = list(model.parameters())  # the norm sums in this order, as it always did
    model.train()
    bad = 0
    with _rng(seed, where), torch.enable_grad(), out_of_memory(key_hint(batch_key)), \
            (progress_bar() if desc else nullcontext()) as bar:
        task = bar.add_task(desc, total=plan.epochs * plan.steps, completed=first * plan.steps,
                            unit=unit) if bar is not None else None
        show_loss = show_loss and bar is not None
        for epoch in range(first, plan.epochs):
            micro: Iterator[Any] = iter(plan.batches(epoch))
            for step in range(plan.steps):
                lr = schedule(epoch + step / plan.steps)
                for g, s in zip(opt.param_groups, scales):
                    g["lr"] = lr * s
                opt.zero_grad(set_to_none=True)
                finite, last = True, math.nan
                for _ in range(accumulate):
                    with where.autocast():
                        loss = loss_fn(next(micro))
                    if guard and not bool(torch.isfinite(loss)):
                        finite = False  # the step is lost; its remaining batches are still drawn
                        continue
                    if finite:
                        part = loss / accumulate if accumulate > 1 else loss
                        (scaler.scale(part) if scaler is not None else part).backward()
                        last = float(loss.detach()) if show_loss else last
                if finite and (guard or clip is not None):
                    if scaler is not None:
                        scaler.unscale_(opt)
                    norm = nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
                    if clip is not None:
                        nn.utils.clip_grads_with_norm_(params, clip, norm)
                    finite = not guard or bool(torch.isfinite(norm)) or scaler is not None  # fp16: the scaler's to skip
                if bar is not None:
                    bar.update(task, advance=1, description=f"{desc}, loss {last:.3f}" if show_loss else None)
                if not finite:  # skip the step, not the run
                    bad += 1
                    if bad > MAX_BAD_STEPS:
                        raise FsbenchError(f"{desc or 'training'} diverged ({bad} steps with a non-finite loss or "
                                           f"gradient, last at epoch {epoch}); {advice}")
                    continue
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                if after_step is not None:
                    after_step()
            if hooks is not None:
                hooks.after_epoch(epoch + 1, plan.epochs, model, opt)
    return model.eval()


def fit_shuffled(
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
    placement: Placement | str | None = None,
) -> nn.Module:
    """Train `model` on `n` examples, `step_loss(indices, gen)` giving one mini-batch's loss:
    `cfg` (missing keys: LOOP_DEFAULTS) under "restarts" with SGD-Nesterov unless it says
    otherwise, one `seed`ed permutation per epoch, channels_last. `prefix` names the method
    config keys `cfg` came from, for the error messages."""
    cfg = {**LOOP_DEFAULTS, **cfg}
    batch = max(2, min(int(cfg["batch_size"]), n))
    accumulate = max(1, min(int(cfg.get("accumulate", 1)), n // batch))
    gen = torch.Generator().manual_seed(seed)
    plan = Plan.shuffled(n, batch, int(cfg["epochs"]), gen, accumulate)
    return fit(model, plan, lambda idx: step_loss(idx, gen),
               optimizer=OptimizerSpec.from_config(cfg, "sgd", no_decay=no_decay),
               schedule=schedule_from_config(cfg, "restarts"), placement=placement, accumulate=accumulate, clip=clip,
               seed=seed, after_step=after_step, desc=desc, advice=f"lower {prefix}lr_max or raise {prefix}batch_size",
               batch_key=f"{prefix}batch_size", channels_last=True)
