"""The one device and precision decision: where a run computes and in which float format.

`resolve("auto" | "cpu" | "cuda" | "cuda:N" | "mps", "fp32" | "bf16" | "fp16", deterministic)`
checks the request against the machine once (one-line errors, exit 2) and returns a `Placement`
that travels with the run — through `RunRequest` to methods, backbones, heads, trainers,
classifiers and the evaluator, never through a global. A `Placement` is also the one helper that
moves modules and batches (`module`, `put`) and opens autocast (`autocast`, `scaler`).

`Placement()` is the CPU in fp32: what fsbench did before it had a device switch, bit for bit.
`auto` is CUDA when torch sees a GPU, else MPS, else the CPU; `FSBENCH_DEVICE` stands in for a
missing `--device`. fp16 needs a gradient scaler and a GPU; on the CPU it is refused (bf16 is the
CPU's reduced format). `--deterministic` sets torch's flags (cuDNN, deterministic algorithms, the
cuBLAS workspace): needed for bitwise reruns on a GPU, a no-op for results on the CPU.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsbench.errors import FsbenchError

if TYPE_CHECKING:  # type-only: torch is imported when a placement is used, not by `fsbench --help`
    import torch

DEVICE_ENV = "FSBENCH_DEVICE"
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")


class DeviceError(FsbenchError):
    """A device or precision the machine cannot give, or a device that ran out of memory."""


@dataclass(frozen=True)
class Placement:
    """Where and how a run computes; hashable, so it can key caches and be compared."""

    device: str = "cpu"  # canonical: "cpu", "cuda:0", "mps"
    precision: str = "fp32"
    deterministic: bool = False

    @property
    def type(self) -> str:
        return self.device.split(":")[0]

    @property
    def default(self) -> bool:
        """The CPU in fp32: the placement every result before `--device` was computed with."""
        return self.type == "cpu" and self.precision == "fp32"

    def torch_device(self) -> "torch.device":
        import torch

        return torch.device(self.device)

    def dtype(self) -> "torch.dtype":
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    def module(self, module: Any) -> Any:
        """`module` with its parameters and buffers on this device (a no-op when already there)."""
        return module.to(self.torch_device())

    def put(self, x: "torch.Tensor") -> "torch.Tensor":
        """A batch on this device: CPU tensors go to a GPU pinned and without blocking the host;
        on the CPU it is the tensor itself (no copy)."""
        if self.type == "cpu" or x.device.type == self.type:
            return x
        if self.type == "cuda" and x.device.type == "cpu":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)

    def autocast(self) -> Any:
        """Autocast to bf16/fp16 for the forward pass; nothing at all for fp32."""
        if self.precision == "fp32":
            return nullcontext()
        import torch

        return torch.autocast(self.type, dtype=self.dtype())

    def scaler(self) -> Any:
        """A gradient scaler when fp16 needs one (small gradients underflow in fp16), else None."""
        if self.precision != "fp16":
            return None
        import torch

        return torch.amp.GradScaler(self.type)

    def compute(self) -> dict[str, str]:
        """The device and precision keywords of `fsbench.training.cache.cache_key`: device type and
        torch's dtype name (the CPU in fp32 gives the keys' defaults)."""
        return {"device": self.type, "precision": str(self.dtype()).removeprefix("torch.")}

    def key_parts(self) -> tuple[dict[str, str], ...]:
        """What to add to a cache key (the feature cache's): nothing on the CPU in fp32 (today's keys
        stay valid), else the device type and precision, so bf16 GPU features never serve an fp32 run."""
        return () if self.default else ({"device": self.type, "precision": self.precision},)

    def describe(self) -> dict[str, Any]:
        """The manifest's record: device, its name, precision, determinism."""
        return {"device": self.device, "device_name": device_name(self.device), "precision": self.precision,
                "deterministic": self.deterministic}

    def apply(self) -> None:
        """Set torch's process flags that `deterministic` asks for (called once per run)."""
        if not self.deterministic:
            return
        import torch

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)


CPU = Placement()


def device_name(device: str) -> str:
    """The hardware's own name: the GPU's model, Apple's MPS, or the CPU's processor string."""
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    if kind == "mps":
        return "Apple MPS"
    return platform.processor() or platform.machine() or "cpu"


def _mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve(device: str | None = None, precision: str | None = None, deterministic: bool = False) -> Placement:
    """Check a requested device and precision against this machine; the `Placement` to run on.

    `device` None reads FSBENCH_DEVICE, then "auto". Every refusal is one line naming the fix.
    """
    import torch

    asked = (device or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if asked == "auto":
        asked = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    kind, _, index = asked.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise DeviceError(f"unknown device {asked!r}; use one of {', '.join(DEVICES)}")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {asked}: torch sees no CUDA GPU here (torch {torch.__version__}, "
                              f"CUDA build {torch.version.cuda or 'none'}); use --device cpu or auto")
        count = torch.cuda.device_count()
        n = int(index or 0)
        if n >= count:
            raise DeviceError(f"--device {asked}: this machine has {count} CUDA GPU{'s' if count != 1 else ''} "
                              f"(cuda:0{f'…cuda:{count - 1}' if count > 1 else ''})")
        asked = f"cuda:{n}"
    if kind == "mps" and not _mps_available():
        raise DeviceError("--device mps: torch sees no Apple MPS device here; use --device cpu or auto")
    precision = (precision or "fp32").strip().lower()
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and kind == "cpu":
        raise DeviceError("--precision fp16 needs a GPU (the CPU has no fast fp16 and no use for grad "
                          "scaling); use bf16 or fp32 on the CPU")
    return Placement(asked, precision, bool(deterministic))


def as_placement(where: Placement | str | None) -> Placement:
    """A `Placement` from what a caller passed: one, a device string (fp32), or None (the CPU)."""
    if where is None:
        return CPU
    if isinstance(where, Placement):
        return where
    return resolve(str(where))


@contextmanager
def out_of_memory(lower: str) -> Iterator[None]:
    """Turn a device out-of-memory error into one line saying what to lower: a config key
    (`batch_key`) or a description of the keys."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError as exc:
        raise DeviceError(f"out of memory on the device ({str(exc).splitlines()[0][:120]}); lower {lower} "
                          f"or use --precision bf16") from None


def key_hint(key: str) -> str:
    """How an out-of-memory line names one config key: `head_batch_size (--set head_batch_size=…)`."""
    return f"{key} (--set {key}=…)"


def library_versions(placement: Placement) -> dict[str, str]:
    """The versions that decide a GPU run's numbers besides torch's: CUDA and cuDNN (or nothing)."""
    if placement.type != "cuda":
        return {}
    import torch

    return {"cuda": str(torch.version.cuda), "cudnn": str(torch.backends.cudnn.version())}
