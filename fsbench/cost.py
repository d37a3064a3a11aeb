"""The cost before the work: what a run will do and about how long it will take, said before it starts.

A method counts its own training in three units (`Method.training_work`): optimiser steps,
images forwarded and back-propagated, and images run through a frozen network. The evaluation
adds images embedded for the test folds and episodes classified. `cost_model.json` beside this
file prices each unit per method; bench/cost_model.py measured it on the reference machine (its
CPU, cores and load average are recorded there) by fitting the units of short cold runs to their
timings. The estimate is for a cold cache (a trained model already cached costs nothing) and is
an estimate: a loaded machine runs slower, a bigger one faster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

MODEL = Path(__file__).with_name("cost_model.json")
#: an estimate above this says how to shorten the run
LONG_S = 600.0


@dataclass(frozen=True)
class TrainingWork:
    """What fitting one fold costs, in the units `cost_model.json` prices (from `Method.training_work`)."""

    steps: int = 0  # optimiser steps
    images: int = 0  # images forwarded and back-propagated
    trunk: int = 0  # images run once through frozen stages before training (fine-tuning's cached views)
    #: the method embeds through a frozen network whose features are cached per image (fsbench.features):
    #: every image it touches costs one frozen pass, once across folds and runs
    frozen: bool = False
    frozen_train: bool = False  # ... and `fit` runs the training rows through it
    variant: str = ""  # the priced variant, e.g. the frozen backbone ("hand2vec/mediapipe-handnet")
    what: str = "nothing to train"  # "1000 episodes, 4-way", said in the plan line
    shorten: str = ""  # how to shorten it, e.g. "a shorter training (--set episodes=200)"
    cached: bool = False  # a trained model for this fold is cached already: fitting loads it


@dataclass
class RunWork:
    """Everything one `fsbench run` will do, counted before it starts."""

    method: str
    target: str  # "letters/leave-signer-out"
    folds: int
    trainings: list[TrainingWork | None]  # one per fold; None: the method does not count its work
    frozen_images: int  # distinct images a frozen network must see (train and test, all folds)
    embedded: int  # test-fold images the fitted method embeds (plus S=0 support rows), frozen ones not counted
    episodes: int
    shots: list[int] = field(default_factory=list)
    size: str = ""  # the episodes' size as the runner states it (folds, episode groups × S × episodes)

    def describe(self) -> str:
        """'m on d/s: 5 fold(s), … = 100 episodes … · 1 training per fold (1000 episodes, 4-way)'."""
        shots = ", ".join(map(str, self.shots))
        size = self.size or f"{self.folds} fold(s), {self.episodes:,} evaluation episodes (S={shots})"
        counted = [t for t in self.trainings if t is not None]
        if not counted:
            training = "1 training per fold"
        elif not any(t.steps or t.images for t in counted):
            training = counted[0].what
        else:
            what = counted[0].what if len({t.what for t in counted}) == 1 else f"{counted[0].what} in the first"
            cached = sum(t.cached for t in counted)
            training = f"1 training per fold ({what}" + (f"; {cached} cached)" if cached else ")")
        return f"{self.method} on {self.target}: {size} · {training}"


@cache
def model() -> dict[str, Any]:
    try:
        return json.loads(MODEL.read_text())
    except (OSError, ValueError):
        return {"methods": {}}


def estimate(work: RunWork) -> float | None:
    """Seconds the run should take on the reference machine, cold; None without a price or a count."""
    doc = model()
    if not work.trainings or any(t is None for t in work.trainings):
        return None
    variant = work.trainings[0].variant  # type: ignore[union-attr]
    price = doc["methods"].get(f"{work.method}/{variant}" if variant else work.method)
    if price is None:
        return None
    fit = sum(t.steps * price["step_s"] + t.images * price["image_s"] + t.trunk * price.get("trunk_image_s", 0.0)
              for t in work.trainings if t and not t.cached)
    return (doc.get("startup_s", 0.0) + fit + work.frozen_images * price["frozen_image_s"]
            + work.embedded * price["embed_image_s"] + work.episodes * price["episode_s"])


def duration(seconds: float) -> str:
    """≈ 40 s, ≈ 3 min, ≈ 1.4 h: the precision an estimate has."""
    if seconds < 90:
        return f"≈ {max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 5400:
        return f"≈ {round(seconds / 60):.0f} min"
    return f"≈ {seconds / 3600:.1f} h"


def shortenings(works: list[RunWork]) -> str:
    """How to make a long run shorter, in the flags of the commands that run it."""
    sets = sorted({t.shorten for w in works for t in w.trainings if t is not None and t.shorten})
    ways = [*sets[:2], "fewer evaluation episodes (--episodes 3) or fewer S (--shots 1)",
            "--dev (one fold inside the training signers, for tuning)"]
    return "to shorten it: " + "; ".join(ways)


def where() -> str:
    """The machine the prices were measured on, as the plan line names it."""
    return model().get("machine", "the reference machine")


def time_phrase(works: list[RunWork], parallel: int = 1) -> str:
    """'estimate ≈ 6 min if nothing is cached (…)', with how to shorten it past `LONG_S`, for
    `works` run `parallel` at a time; or why there is no estimate."""
    seconds = [estimate(w) for w in works]
    if any(s is None for s in seconds):
        missing = sorted({w.method for w, s in zip(works, seconds) if s is None})
        return f"no time estimate: no measured cost for {', '.join(missing)} in this configuration"
    total = sum(seconds) if parallel <= 1 else max(max(seconds), sum(seconds) / parallel)  # type: ignore[arg-type]
    line = f"estimate {duration(total)} if nothing is cached (costs measured on {where()}; an estimate)"
    if total > LONG_S:
        line += " · " + shortenings(works)
    return line


def plan_line(works: list[RunWork], what: str | None = None, parallel: int = 1) -> str:
    """One line said before the work: what it will do (`what`, else the one run's own description)
    and, where every method is priced, for how long with `parallel` runs at a time."""
    what = what or (works[0].describe() if len(works) == 1 else
                    f"{len(works)} runs, {sum(w.folds for w in works)} folds in all")
    return f"{what} · {time_phrase(works, parallel)}"
