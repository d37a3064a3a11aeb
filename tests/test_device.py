"""The one device decision (fsbench/device.py) on a machine without a GPU, as CI is: `--device cpu`
gives today's numbers, every registered plugin computes where the run says (and nowhere else), the
refusals are one line with exit 2, and a sweep asks Ray for GPUs."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from fsbench import registry
from fsbench.api import LowShotClassifier, PoseBackbone
from fsbench.cli import main
from fsbench.device import CPU, DeviceError, Placement, out_of_memory, resolve
from fsbench.evaluation.runner import RunRequest, run
from fsbench.sweep.backends import RayBackend
from fsbench.sweep.spec import CellSpec, SweepError
from fsbench.training.loop import Plan, fit
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import Constant


def fsbench(monkeypatch, capsys, *args: str) -> tuple[int, list[str]]:
    """`fsbench ARGS` in this process (so mocks of torch.cuda hold): exit code, stderr's lines."""
    monkeypatch.setattr(sys, "argv", ["fsbench", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.delenv("FSBENCH_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.delenv("FSBENCH_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


# -- the decision -------------------------------------------------------------------------------

def test_auto_is_the_cpu_without_a_gpu_and_the_environment_stands_in_for_the_flag(no_gpu, monkeypatch):
    assert resolve() == resolve("auto") == resolve("cpu") == CPU == Placement()
    monkeypatch.setenv("FSBENCH_DEVICE", "cpu")
    assert resolve(None, "bf16") == Placement("cpu", "bf16")
    assert CPU.default and not Placement("cpu", "bf16").default and CPU.key_parts() == ()
    from fsbench.training.cache import compute

    assert compute(1, **CPU.compute()) == compute(1)  # the trained-model cache's CPU keys are unchanged


def test_a_gpu_is_cuda_0_and_keys_its_caches(one_gpu):
    assert resolve("auto").device == resolve("cuda").device == resolve("CUDA:0").device == "cuda:0"
    assert resolve("cuda", "fp16").key_parts() == ({"device": "cuda", "precision": "fp16"},)


@pytest.mark.parametrize(("device", "precision", "needle"), [
    ("cuda", "fp32", "torch sees no CUDA GPU here"),
    ("mps", "fp32", "no Apple MPS device"),
    ("tpu", "fp32", "unknown device 'tpu'"),
    ("cuda:x", "fp32", "unknown device 'cuda:x'"),
    ("cpu", "fp16", "fp16 needs a GPU"),
    ("cpu", "fp8", "unknown precision 'fp8'"),
])
def test_what_this_machine_cannot_give_is_refused(no_gpu, monkeypatch, device, precision, needle):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=needle):
        resolve(device, precision)


def test_a_gpu_index_past_the_last_is_refused(one_gpu):
    with pytest.raises(DeviceError, match=r"cuda:3: this machine has 1 CUDA GPU \(cuda:0\)"):
        resolve("cuda:3")


@pytest.mark.parametrize(("args", "needle"), [
    (["--device", "cuda"], "torch sees no CUDA GPU"),
    (["--device", "cpu", "--precision", "fp16"], "fp16 needs a GPU"),
])
def test_run_refuses_in_one_line_with_exit_2(no_gpu, tiny_dir, args, needle, monkeypatch, capsys):
    code, lines = fsbench(monkeypatch, capsys, "run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out",
                          "--episodes", "1", *args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


def test_cuda_3_on_a_one_gpu_machine_exits_2(one_gpu, tiny_dir, monkeypatch, capsys):
    code, lines = fsbench(monkeypatch, capsys, "run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out",
                          "--device", "cuda:3")
    assert code == 2 and len(lines) == 1 and "this machine has 1 CUDA GPU" in lines[0], lines


def _oom(*_args, **_kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_names_the_batch_key_to_lower(monkeypatch, capsys, tiny_dir):
    model = torch.nn.Linear(2, 2)
    with pytest.raises(DeviceError, match=r"lower head_batch_size \(--set head_batch_size=…\)"):
        fit(model, Plan.repeat(1, lambda: None), _oom, optimizer=OptimizerSpec(), schedule=Constant(0.1),
            batch_key="head_batch_size")
    monkeypatch.setattr(registry.get("methods", "pixels"), "embed", _oom)
    code, lines = fsbench(monkeypatch, capsys, "run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out",
                          "--episodes", "1", "--shots", "1", "--device", "cpu")
    assert code == 2 and "out of memory on the device" in lines[-1] and "embed_batch" in lines[-1], lines
    with pytest.raises(DeviceError, match="lower embed_batch"), out_of_memory("embed_batch"):
        _oom()


# -- byte-identical on the CPU, and recorded -----------------------------------------------------

def _numbers(results: dict) -> str:
    kept = {k: v for k, v in results.items() if k not in ("created", "timings", "hardware")}
    for t in kept["method"].get("trainings", []):
        t.pop("train_seconds", None)
    return json.dumps(kept, sort_keys=True)


@pytest.mark.parametrize("name", ["pixels", "protonet"])
def test_device_cpu_gives_the_numbers_of_the_default(no_gpu, tiny, tiny_dir, name, tmp_path, monkeypatch):
    """The demo's protocol (unseen classes, S = 1 and 5), tiny: --device cpu, auto and the API's
    default are one computation, recorded as the CPU in fp32."""
    cfg = registry.get("methods", name).test_config
    base = RunRequest(name, str(tiny_dir), "unseen-class", [1, 5], 2, 0, ways=2, config=dict(cfg))
    runs = []
    for where in ({}, {"device": "cpu"}, {"device": "auto", "precision": "fp32"}):
        monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / str(len(runs))))  # each trains afresh
        runs.append(run(replace(base, **where), tiny))
    assert _numbers(runs[0]) == _numbers(runs[1]) == _numbers(runs[2])
    hw = runs[1]["hardware"]
    assert (hw["device"], hw["precision"], hw["deterministic"]) == ("cpu", "fp32", False) and hw["device_name"]


def test_deterministic_changes_nothing_on_the_cpu(no_gpu, tiny, tiny_dir):
    base = RunRequest("pixels", str(tiny_dir), "leave-signer-out", [1], 2, 0)
    try:
        assert _numbers(run(base, tiny)) == _numbers(run(replace(base, deterministic=True), tiny))
    finally:
        torch.use_deterministic_algorithms(False)


# -- every registered plugin computes where the run says ----------------------------------------

class ForeignDevice(TorchFunctionMode):
    """Records every torch call that names a device other than `allowed` (a hard-coded "cuda" in
    a plugin runs on a CPU-only CI without failing; this makes it fail)."""

    def __init__(self, allowed: str) -> None:
        super().__init__()
        self.allowed, self.seen = allowed, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.device:  # naming a device (e.g. a library's default argument) moves nothing
            return func(*args, **kwargs)
        named = [kwargs.get("device"), *(a for a in args if isinstance(a, (str, torch.device)))]
        for d in named:
            try:
                kind = torch.device(d).type if d is not None else None
            except (RuntimeError, TypeError):
                continue
            if kind is not None and kind != self.allowed:
                self.seen.append((getattr(func, "__name__", str(func)), str(d)))
        if getattr(func, "__name__", "") == "cuda":
            self.seen.append(("cuda", ""))
        return func(*args, **kwargs)


def _modules(obj, depth: int = 0):
    """Every nn.Module a method holds (its nets, heads, backbones' modules), a level or two deep."""
    if isinstance(obj, torch.nn.Module):
        yield obj
        return
    if depth > 2 or not hasattr(obj, "__dict__"):
        return
    for value in vars(obj).values():
        yield from _modules(value, depth + 1)


@pytest.mark.parametrize("name", registry.names("methods"))
def test_every_method_fits_and_embeds_on_the_runs_device(name, tiny):
    cls = registry.get("methods", name)
    if cls.test_data != "tiny":
        pytest.skip(f"{name} needs {cls.test_data} images; its plugin's own tests run it on them")
    method = cls(dict(cls.test_config)).place(CPU)
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    test = tiny.view(np.flatnonzero(tiny.signers == "s1"))
    with ForeignDevice("cpu") as guard:
        method.fit(train, seed=0)
        emb = method.embed(test)
        clf = method.make_classifier().fit(emb[:4], torch.from_numpy(test.labels[:4]))
        scores = clf.scores(emb)
    assert not guard.seen, f"{name} names a device the run did not choose: {guard.seen[:3]}"
    assert method.placement == CPU and emb.device.type == "cpu" and scores.device.type == "cpu"
    for module in _modules(method):
        assert {p.device.type for p in module.parameters()} <= {"cpu"}, type(module).__name__


@pytest.mark.parametrize("name", registry.names("backbones"))
def test_every_backbone_moves_with_its_placement(name):
    """On the meta device (shapes only, no data): parameters and features land where `place` says;
    a tensor made on a hard-coded device mid-forward fails the mixed-device op. A backbone that
    runs natively on the CPU says so by keeping `placement` on the CPU."""
    cls = registry.get("backbones", name)
    try:
        backbone = cls()
    except Exception as exc:  # noqa: BLE001 - weights not installed here: the plugin's own tests cover it
        pytest.skip(f"{name} cannot be built here ({type(exc).__name__})")
    meta = Placement("meta")
    assert isinstance(backbone, PoseBackbone) and backbone.place(meta) is backbone
    if backbone.placement == CPU:
        return  # a CPU-only library (e.g. MediaPipe's native detector)
    assert backbone.placement == meta
    for module in _modules(backbone):
        assert {p.device.type for p in module.parameters()} <= {"meta"}, type(module).__name__
    size = backbone.input_size
    out = backbone.features(meta.put(torch.rand(2, backbone.channels, *size)))
    assert out.device.type == "meta" and tuple(out.shape) == (2, backbone.feature_dim)


@pytest.mark.parametrize("name", registry.names("classifiers"))
def test_every_classifier_scores_on_the_device_of_its_embeddings(name):
    clf = registry.get("classifiers", name)()
    assert isinstance(clf, LowShotClassifier)
    gen = torch.Generator().manual_seed(0)
    support, labels = torch.randn(6, 8, generator=gen), torch.tensor([0, 0, 1, 1, 2, 2])
    with ForeignDevice("cpu") as guard:
        scores = clf.fit(support, labels).scores(torch.randn(3, 8, generator=gen))
    assert not guard.seen and scores.device.type == "cpu"


def test_the_guard_catches_a_hard_coded_device():
    with ForeignDevice("cpu") as guard:
        try:
            torch.zeros(1, device="cuda")
        except (RuntimeError, AssertionError):
            pass
    assert guard.seen


# -- sweeps ------------------------------------------------------------------------------------

def test_a_cuda_sweep_asks_ray_for_gpus_and_fractions_share_one():
    from fsbench.cli.sweep import cell_gpus

    assert cell_gpus("cuda", None, "ray") == 1.0 and cell_gpus("cuda:0", 0.25, "ray") == 0.25
    assert cell_gpus(None, None, "ray") == cell_gpus("cuda", None, "local") == 0.0
    with pytest.raises(SweepError, match="--backend ray"):
        cell_gpus("cuda", 1, "local")
    cells = [SimpleNamespace(spec=CellSpec("pixels", "d", "s", 0, (1,), 1, gpus=0.25))] * 3
    ray = SimpleNamespace(cluster_resources=lambda: {"CPU": 8.0, "GPU": 1.0})
    assert RayBackend._gpu_slots(ray, cells) == 4
    ray = SimpleNamespace(cluster_resources=lambda: {"CPU": 8.0})
    with pytest.raises(SweepError, match="the Ray cluster has 0"):
        RayBackend._gpu_slots(ray, cells)
    spec = CellSpec("pixels", "d", "s", 0, (1,), 1, device="cuda", precision="bf16", gpus=1.0)
    assert (spec.request().device, spec.request().precision) == ("cuda", "bf16")


def test_a_reduced_precision_is_part_of_a_cells_identity_and_fp32_is_not():
    from fsbench.sweep.cells import identity

    spec = CellSpec("pixels", "d", "s", 0, (1,), 1)
    assert "precision" not in identity(spec, "h", "c", "fsbench")
    assert identity(replace(spec, precision="bf16"), "h", "c", "fsbench")["precision"] == "bf16"
    assert identity(replace(spec, device="cuda"), "h", "c", "fsbench") == identity(spec, "h", "c", "fsbench")


@pytest.mark.parametrize("name", ["protonet", "finetune"])
def test_bf16_runs_end_to_end_on_the_cpu_and_is_recorded(no_gpu, tiny, tiny_dir, name):
    """Autocast through training, embedding and the per-episode head (the GPU path minus the GPU)."""
    cfg = registry.get("methods", name).test_config
    results = run(RunRequest(name, str(tiny_dir), "leave-signer-out", [1], 2, 0, config=dict(cfg), device="cpu",
                             precision="bf16"), tiny)
    assert results["hardware"]["precision"] == "bf16" and 0 <= results["metrics"]["S=1"]["top1"]["mean"] <= 1
