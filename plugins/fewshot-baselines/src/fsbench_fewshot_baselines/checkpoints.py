"""Training checkpoints for learning curves: save at chosen steps, resume from the latest one.

The schedules here do not depend on a run's total length, so the state after n steps of any
run is the state of an n-step run. A `Checkpoints` object saves that state (weights, optimiser
and both random generators; a schedule is a function of the step and has no state) as the cache
entry of the n-step run, and a longer run resumes from the longest such entry instead of
starting over: a curve of k points costs one training of its longest point. Resumed and
uninterrupted runs give the same weights (tested). Bound to a trainer's generators (`bind`), it
is the one loop's `Hooks` (`fsbench.training.loop`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

#: saves (step, net, meta) as the cache entry of a run that is `step` long
Saver = Callable[[int, nn.Module, dict[str, Any]], None]


class Checkpoints:
    """Where a training loop restores its state from and reports each finished step to."""

    def __init__(self, save: Saver, wanted: set[int], resume: dict[str, Any] | None = None) -> None:
        self.save, self.wanted, self.resume = save, wanted, resume
        self.seconds_before = float(resume["train_seconds"]) if resume else 0.0
        self.start = time.perf_counter()
        self.final: dict[str, Any] = {}
        self.rng: np.random.Generator | None = None
        self.gen: torch.Generator | None = None

    def bind(self, rng: np.random.Generator, gen: torch.Generator) -> "Checkpoints":
        """The trainer's generators, saved and restored with the weights; returns self."""
        self.rng, self.gen = rng, gen
        return self

    def seconds(self) -> float:
        """Training time so far, counting the run this one resumed."""
        return round(self.seconds_before + time.perf_counter() - self.start, 2)

    def restore(self, net: nn.Module, opt: torch.optim.Optimizer) -> int:
        """Load the resumed state into the loop's objects; the number of steps already done."""
        if not self.resume:
            return 0
        assert self.rng is not None and self.gen is not None, "bind() the trainer's generators first"
        state = self.resume["loop"]
        net.load_state_dict(self.resume["weights"])
        opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = state["rng"]
        self.gen.set_state(state["gen"])
        return int(state["step"])

    def after_epoch(self, step: int, last: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Called after every step (epoch): saves wanted intermediate ones, remembers the last one."""
        if step not in self.wanted and step != last:
            return
        assert self.rng is not None and self.gen is not None, "bind() the trainer's generators first"
        loop = {"step": step, "opt": opt.state_dict(), "rng": self.rng.bit_generator.state,
                "gen": self.gen.get_state()}
        meta = {"train_seconds": self.seconds(), "loop": loop}
        if step == last:
            self.final = meta  # saved with the final weights by train_or_load
        else:
            self.save(step, net, meta)
