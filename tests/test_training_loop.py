"""The one training loop (fsbench.training.loop) and the trained-model cache (fsbench.training.cache)."""

from __future__ import annotations

import copy

import pytest
import torch

from fsbench.device import Placement, resolve
from fsbench.errors import FsbenchError
from fsbench.training.cache import cache_key, train_or_load
from fsbench.training.loop import LOOP_DEFAULTS, Plan, fit, fit_shuffled
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import Constant, StepDecay, schedule_from_config


def test_training_loop_refuses_to_return_a_diverged_network():
    """A NaN loss (e.g. the thesis's lr 0.1 on a small CPU batch) is an error, never a cached net."""
    model = torch.nn.Linear(2, 2)
    cfg = {"epochs": 1, "warmup_epochs": 0, "batch_size": 2}
    with pytest.raises(FsbenchError, match="diverged"):
        fit_shuffled(model, 40, cfg, 0, lambda idx, gen: model.weight.sum() * float("nan"), "toy net")
    # a rare bad step (one in twenty) is skipped: the run goes on and the weights stay finite
    calls = iter(range(100))
    fit_shuffled(model, 40, cfg, 0, lambda idx, gen: model.weight.sum() * (float("nan") if next(calls) == 3 else 1.0),
                 "toy")
    assert torch.isfinite(model.weight).all()


def test_alpha_and_beta_get_no_weight_decay():
    """Decay would pull α to the σ(β + α²·cos) saddle: only the other weights shrink."""
    model = torch.nn.Module()
    model.alpha, model.w = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    cfg = {"epochs": 2, "warmup_epochs": 0, "batch_size": 4, "weight_decay": 0.5, "lr_max": 0.1}
    fit_shuffled(model, 8, cfg, 0, lambda idx, gen: 0.0 * (model.alpha + model.w).sum(), "toy")
    assert model.alpha.item() == 1.0 and model.w.item() < 1.0


def test_train_or_load_trains_once_and_retrains_a_broken_file(tmp_path):
    calls = []

    def train(model):
        calls.append(1)
        torch.nn.init.constant_(model.weight, 3.0)
        return {"score": 0.5}

    path, key = tmp_path / "m.pt", cache_key("toy", {"lr": 0.1}, 0)
    build = lambda meta: torch.nn.Linear(2, 2)  # noqa: E731
    model, meta = train_or_load(path, key, build, train, {"size": 2})
    again, meta2 = train_or_load(path, key, build, train)
    assert len(calls) == 1 and meta == meta2 == {"size": 2, "score": 0.5}
    assert torch.equal(model.weight, again.weight)
    train_or_load(path, cache_key("toy", {"lr": 0.2}, 0), build, train)  # another key: trains
    path.write_bytes(b"truncated")
    train_or_load(path, key, build, train)
    assert len(calls) == 3 and not list(tmp_path.glob("*.tmp"))


# -- one loop for every trainer: each pinned against the plain torch loop it replaced ------------

def _old_sgd_loop(model, n, cfg, seed, step_loss, clip=None, no_decay=("alpha", "beta")):
    """The SGD loop as it was before every trainer shared `fit` (commit ccd65c7), as a reference."""
    from fsbench.training.schedule import LRSchedule

    cfg = {**LOOP_DEFAULTS, **cfg}
    schedule = LRSchedule.from_config(cfg)
    batch = max(2, min(int(cfg["batch_size"]), n))
    steps = max(1, n // batch)
    decayed = [p for name, p in model.named_parameters() if name not in no_decay]
    scalars = [p for name, p in model.named_parameters() if name in no_decay]
    groups = [{"params": decayed, "weight_decay": cfg["weight_decay"]}]
    if scalars:
        groups.append({"params": scalars, "weight_decay": 0.0})
    opt = torch.optim.SGD(groups, lr=schedule(0), momentum=cfg["momentum"], nesterov=True)
    model.to(memory_format=torch.channels_last).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        for epoch in range(int(schedule.epochs)):
            perm = torch.randperm(n, generator=gen)
            for step in range(steps):
                for g in opt.param_groups:
                    g["lr"] = schedule(epoch + step / steps)
                loss = step_loss(perm[step * batch : (step + 1) * batch], gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip or float("inf"))
                opt.step()
    return model.eval()


def _toy(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model.alpha = torch.nn.Parameter(torch.ones(1))
    return model


X, Y = torch.randn(50, 6, generator=torch.Generator().manual_seed(1)), torch.arange(50) % 3


def _step_loss(model):
    def loss(idx, gen):
        noise = 0.01 * torch.randn(len(idx), 6, generator=gen)  # augmentation draws from the loop's gen
        return torch.nn.functional.cross_entropy(model(X[idx] + noise), Y[idx]) + 0.1 * model.alpha.pow(2).sum()
    return loss


@pytest.mark.parametrize("clip", [None, 0.5])
def test_fit_shuffled_gives_the_weights_of_the_sgd_loop_it_replaced(clip):
    cfg = {"epochs": 3, "warmup_epochs": 1, "batch_size": 8, "lr_max": 0.05}
    a, b = _toy(), _toy()
    _old_sgd_loop(a, len(X), cfg, 7, _step_loss(a), clip=clip)
    fit_shuffled(b, len(X), cfg, 7, _step_loss(b), "toy", clip=clip)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_adam_under_step_decay_gives_the_weights_of_torch_adam_and_steplr():
    """The episodic baselines' recipe: Adam, lr halved every `every` steps by StepLR."""
    a, b = _toy(), _toy()
    opt = torch.optim.Adam(a.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    torch.manual_seed(3)
    for step in range(10):
        loss = torch.nn.functional.cross_entropy(a(X[step::5]), Y[step::5])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    draws = iter(range(10))
    torch.manual_seed(3)
    fit(b, Plan.repeat(10, lambda: next(draws)), lambda s: torch.nn.functional.cross_entropy(b(X[s::5]), Y[s::5]),
        optimizer=OptimizerSpec("adam"), schedule=StepDecay(1e-2, 3))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_accumulated_micro_batches_step_like_one_big_batch():
    a, b = torch.nn.Linear(6, 3), torch.nn.Linear(6, 3)
    b.load_state_dict(a.state_dict())
    mse = lambda m, rows: (m(X[rows]) - Y[rows, None].float()).pow(2).mean()  # noqa: E731
    spec, sched = OptimizerSpec("sgd", momentum=0.9), Constant(0.05)
    fit(a, Plan(2, 5, lambda e: [torch.arange(50)[i * 10:(i + 1) * 10] for i in range(5)]), lambda r: mse(a, r),
        optimizer=spec, schedule=sched)
    fit(b, Plan(2, 5, lambda e: torch.arange(50).split(5)), lambda r: mse(b, r), optimizer=spec, schedule=sched,
        accumulate=2)
    assert torch.allclose(a.weight, b.weight, atol=1e-6) and not torch.equal(a.weight, torch.nn.Linear(6, 3).weight)


def test_param_groups_scale_the_rate_and_spare_named_scalars_from_decay():
    model = _toy()
    opt, scales = OptimizerSpec("adamw", weight_decay=0.1, no_decay=("alpha",),
                                lr_scale={"0.": 0.1}).build(model, 1e-3)
    by_id = {id(p): name for name, p in model.named_parameters()}
    seen = [([by_id[id(p)] for p in g["params"]], g["weight_decay"], g["lr"]) for g in opt.param_groups]
    # per scale in order of appearance (alpha, the model's own, comes first), decayed before not
    assert seen == [(["3.weight", "3.bias"], 0.1, 1e-3), (["alpha"], 0.0, 1e-3),
                    (["0.weight", "0.bias"], 0.1, pytest.approx(1e-4))] and scales == [1.0, 1.0, 0.1]
    assert isinstance(opt, torch.optim.AdamW)
    with pytest.raises(FsbenchError, match="optimizer 'lion' is unknown"):
        OptimizerSpec.from_config({"optimizer": "lion"})


def test_schedules_by_name():
    assert schedule_from_config({"schedule": "step", "lr": 1.0, "lr_halve_every": 2})(5) == 0.25
    cos = schedule_from_config({"schedule": "cosine", "epochs": 10, "warmup_epochs": 2, "lr_max": 1.0})
    assert cos(0) == 0.0 and cos(1) == 0.5 and cos(2) == 1.0 and cos(6) == pytest.approx(0.5) and cos(10) == 0.0
    assert schedule_from_config({"lr": 3e-4}, "constant")(7.5) == 3e-4
    with pytest.raises(FsbenchError, match="schedule 'linear' is unknown"):
        schedule_from_config({"schedule": "linear"})


class _Snapshots:
    def __init__(self, resume=None):
        self.saved, self.resume = {}, resume

    def restore(self, model, opt):
        if self.resume is None:
            return 0
        model.load_state_dict(self.resume["model"])
        opt.load_state_dict(self.resume["opt"])
        return self.resume["done"]

    def after_epoch(self, done, epochs, model, opt):
        self.saved[done] = {"model": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict()),
                            "done": done}


def test_hooks_resume_a_run_where_its_snapshot_left_it():
    rows = lambda e: [torch.arange(e, 50, 4)]  # noqa: E731  (deterministic per epoch)
    spec, sched = OptimizerSpec("adam"), StepDecay(1e-2, 2)
    straight, hooks = torch.nn.Linear(6, 3), _Snapshots()
    start = copy.deepcopy(straight.state_dict())
    fit(straight, Plan(4, 1, rows), lambda r: straight(X[r]).pow(2).mean(), optimizer=spec, schedule=sched,
        hooks=hooks)
    resumed = torch.nn.Linear(6, 3)
    resumed.load_state_dict(start)
    fit(resumed, Plan(4, 1, rows), lambda r: resumed(X[r]).pow(2).mean(), optimizer=spec, schedule=sched,
        hooks=_Snapshots(hooks.saved[2]))
    assert torch.equal(resumed.weight, straight.weight) and sorted(hooks.saved) == [1, 2, 3, 4]


def test_bf16_autocast_trains_on_the_cpu_and_fp16_there_is_refused():
    model = torch.nn.Linear(6, 3)
    before = model.weight.clone()
    seen = []

    def loss(rows):
        out = model(X[rows])
        seen.append(out.dtype)
        return torch.nn.functional.cross_entropy(out.float(), Y[rows])

    fit(model, Plan(1, 2, lambda e: [torch.arange(25), torch.arange(25, 50)]), loss, optimizer=OptimizerSpec("adam"),
        schedule=Constant(1e-2), placement=Placement("cpu", "bf16"))
    assert seen == [torch.bfloat16] * 2 and model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)
    with pytest.raises(FsbenchError, match="fp16 needs a GPU"):
        resolve("cpu", "fp16")
