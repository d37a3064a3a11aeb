"""Training checkpoints for learning curves: save at chosen steps, resume from the latest one.

The schedules here do not depend on a run's total length, so the state after n steps of any
run is the state of an n-step run. A `Checkpoints` object saves that state (weights, optimiser,
scheduler and both random generators) as the cache entry of the n-step run, and a longer run
resumes from the longest such entry instead of starting over: a curve of k points costs one
training of its longest point. Resumed and uninterrupted runs give the same weights (tested).
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

    def seconds(self) -> float:
        """Training time so far, counting the run this one resumed."""
        return round(self.seconds_before + time.perf_counter() - self.start, 2)

    def restore(self, net: nn.Module, opt: torch.optim.Optimizer, sched: Any,
                rng: np.random.Generator, gen: torch.Generator) -> int:
        """Load the resumed state into the loop's objects; the number of steps already done."""
        if not self.resume:
            return 0
        state = self.resume["loop"]
        net.load_state_dict(self.resume["weights"])
        opt.load_state_dict(state["opt"])
        if sched is not None:
            sched.load_state_dict(state["sched"])
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["gen"])
        return int(state["step"])

    def after(self, step: int, last: int, net: nn.Module, opt: torch.optim.Optimizer, sched: Any,
              rng: np.random.Generator, gen: torch.Generator) -> None:
        """Called after every step: saves wanted intermediate steps, remembers the last one."""
        if step not in self.wanted and step != last:
            return
        loop = {"step": step, "opt": opt.state_dict(), "sched": None if sched is None else sched.state_dict(),
                "rng": rng.bit_generator.state, "gen": gen.get_state()}
        meta = {"train_seconds": self.seconds(), "loop": loop}
        if step == last:
            self.final = meta  # saved with the final weights by train_or_load
        else:
            self.save(step, net, meta)
