"""Where cells run: one after another in this process (`local`), or as Ray tasks (`ray`).

Both run a cell through `execute`, which is `fsbench run` minus the file write: the driver writes
every results file (atomically, as each cell finishes), so workers need no shared --out folder.
A cell's own failure (an FsbenchError, or any exception in the method) comes back as a one-line
error and the sweep goes on; a worker that dies (killed, out of memory, node lost) is Ray's
business: the task is retried up to `max_retries` times before it counts as failed.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import run
from fsbench.runtime import decide_threads, torch_threads, usable_cores, worker_environment
from fsbench.sweep.cells import Cell
from fsbench.sweep.spec import SweepError

#: seconds a Ray address has to accept a connection and answer as a gRPC server
PROBE_S = 5.0
#: the HTTP/2 client preface and an empty SETTINGS frame: any gRPC server answers with its SETTINGS
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
Outcome = dict[str, Any]  # {"status": "done"|"failed", "results"|"error", "host", "pid", "wall_s"}
Started = Callable[[int], None]  # told how many cells are running now


def one_line(exc: BaseException) -> str:
    """An exception as the one line a summary shows (FsbenchErrors already are one)."""
    text = " ".join(str(exc).split()) or "(no message)"
    return text[:400] if isinstance(exc, FsbenchError) else f"{type(exc).__name__}: {text[:300]}"


def execute(cell: Cell) -> Outcome:
    """Run one cell exactly as `fsbench run` would, with torch threads = the cell's CPUs (at most the
    cores this process may use: `fsbench.runtime.decide_threads`)."""
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    t0 = time.perf_counter()
    try:
        with torch_threads(decide_threads(cpus=cell.spec.cpus)):
            results = run(cell.spec.request(), announce=False)  # the sweep said its plan once, for all cells
        got = results["dataset"]["content_hash"]
        if got != cell.dataset_hash:
            raise SweepError(
                f"dataset {cell.spec.dataset!r} on {where['host']} has content hash {got[:12]}…, the sweep "
                f"expected {cell.dataset_hash[:12]}…; give every node the same prepared dataset (docs/sweeps.md)")
    except Exception as exc:  # the cell failed, not the sweep: record it and go on
        return {"status": "failed", "error": one_line(exc), "traceback": traceback.format_exc(),
                "wall_s": round(time.perf_counter() - t0, 3), **where}
    return {"status": "done", "results": results, "wall_s": round(time.perf_counter() - t0, 3), **where}


class LocalBackend:
    """Cells in order, in this process: the default, and the reference the Ray backend must match."""

    name = "local"

    def run(self, cells: list[Cell], started: Started) -> Iterator[tuple[Cell, Outcome]]:
        for cell in cells:
            started(1)
            outcome = execute(cell)
            started(0)
            yield cell, outcome


class RayBackend:
    """Cells as Ray tasks, each declaring `num_cpus` = its CPUs and `num_gpus` = its GPUs (a fraction
    lets small cells share one; Ray sets CUDA_VISIBLE_DEVICES, so a cell's `cuda` is its own GPU).

    `address=None` starts a private Ray on this machine, bound to 127.0.0.1; "auto" or HOST:PORT
    joins a running cluster (`ray start --head` …). Workers keep their node's environment
    (FSBENCH_HOME, FSBENCH_DATA); progress bars inside cells are switched off there.
    """

    name = "ray"

    def __init__(self, address: str | None = None, max_retries: int = 3) -> None:
        self.address = address
        self.max_retries = max_retries

    def connect(self) -> tuple[Any, bool]:
        """(the ray module, whether this call started the connection and so must end it).

        A Ray that this process already joined (e.g. `ray.init()` in a notebook) is used as it is.
        """
        if "ray" in sys.modules and sys.modules["ray"].is_initialized():
            return sys.modules["ray"], False
        local = self.address is None or self.address.split(":")[0] in ("127.0.0.1", "localhost")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports to the outside
        if local:  # every Ray address on the loopback interface, not the machine's network address
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise SweepError("--backend ray needs Ray: pip install 'fsbench[ray]' (or pip install ray)") from None
        if self.address not in (None, "auto"):
            self._check_reachable(self.address)
        try:
            # a private Ray gets the cores this process may use (affinity, cgroup quota), so the cells
            # it runs at once share them; workers sleep, not spin, at OpenMP barriers (fsbench.runtime)
            ray.init(address=self.address, include_dashboard=False if self.address is None else None,
                     **({"num_cpus": usable_cores()} if self.address is None else {}), logging_level=logging.WARNING,
                     runtime_env={"env_vars": {"FSBENCH_QUIET": "1", **worker_environment()}})
        except (ConnectionError, RuntimeError, ValueError, SystemExit) as exc:  # Ray exits when it gives up
            raise SweepError(f"cannot join Ray at {self.address!r} ({one_line(exc)}); start one with `ray start "
                             "--head`, or drop --address to start a local one; a cluster with token authentication "
                             "needs RAY_AUTH_MODE=token and its token here (docs/sweeps.md)") from None
        return ray, True

    @staticmethod
    def _check_reachable(address: str) -> None:
        """Fail in one line now, not after Ray's minutes of retries, when nothing (or not Ray) listens there.

        Ray's head (GCS) is a gRPC server: it answers the HTTP/2 connection preface with a SETTINGS
        frame at once (measured: 2 ms). A port where something else listens (a web server, a silent
        socket) gives another answer or none within PROBE_S, so `ray.init` is never left to retry
        for minutes there.
        """
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise SweepError(f"--address {address!r} must be auto or HOST:PORT, e.g. 127.0.0.1:6379")
        try:
            conn = socket.create_connection((host, int(port)), timeout=PROBE_S)
        except OSError as exc:
            raise SweepError(f"no Ray head answers at {address} ({exc.strerror or exc}); start one there with "
                             f"`ray start --head --port={port}`, or drop --address to start a local one") from None
        try:
            conn.sendall(HTTP2_PREFACE)
            answer = b""
            while len(answer) < 9 and (chunk := conn.recv(9 - len(answer))):
                answer += chunk
        except OSError:  # a timeout or a reset: not a gRPC server
            answer = b""
        finally:
            conn.close()
        if len(answer) < 9 or answer[3] != 0x04:  # frame type 4: SETTINGS
            raise SweepError(f"something listens at {address} but it is not a Ray head (no gRPC answer within "
                             f"{PROBE_S:g} s); give the head's GCS port (`ray status` on the head names it), or "
                             "drop --address to start a local one")

    def run(self, cells: list[Cell], started: Started) -> Iterator[tuple[Cell, Outcome]]:
        if not cells:
            return
        ray, owned = self.connect()
        try:
            task = ray.remote(execute)
            cpus = float(ray.cluster_resources().get("CPU", 1))
            biggest = max(c.spec.cpus for c in cells)
            if biggest > cpus:
                raise SweepError(f"a cell asks for {biggest} CPUs but the Ray cluster has {cpus:g}; lower --cpus")
            slots = max(1, int(cpus // biggest))
            slots = min(slots, self._gpu_slots(ray, cells) or slots)
            refs = {
                task.options(num_cpus=c.spec.cpus, num_gpus=c.spec.gpus, max_retries=self.max_retries,
                             retry_exceptions=False, name=f"fsbench-cell:{c.name}").remote(c): c
                for c in cells
            }
            pending = list(refs)
            while pending:
                started(min(len(pending), slots))  # Ray does not say which queued task has begun
                done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in done:
                    yield refs.pop(ref), self._result(ray, ref)
        finally:
            if owned:
                ray.shutdown()

    @staticmethod
    def _gpu_slots(ray: Any, cells: list[Cell]) -> int:
        """How many cells the cluster's GPUs hold at once (0: the cells ask for none); a cell asking
        for more GPUs than the cluster has is refused in one line instead of waiting forever."""
        biggest = max(c.spec.gpus for c in cells)
        if not biggest:
            return 0
        gpus = float(ray.cluster_resources().get("GPU", 0))
        if biggest > gpus:
            raise SweepError(f"a cell asks for {biggest:g} GPUs but the Ray cluster has {gpus:g}; start GPU nodes "
                             "(`ray start --num-gpus N`, docs/sweeps.md) or lower --gpus (fractions share a GPU)")
        return max(1, int(gpus // biggest))

    def _result(self, ray: Any, ref: Any) -> Outcome:
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:  # retries used up: the worker or its node kept dying
            first = one_line(exc).split(". ")[0]
            return {"status": "failed", "error": f"lost its worker after {self.max_retries} retries ({first})",
                    "host": "?", "pid": 0, "wall_s": 0.0}


def check_local_cpus(specs: list[Any]) -> None:
    """A local cell declares CPUs this process may not have: refused up front, not silently run on
    fewer (`--cpus 100000` once crashed the interpreter or blamed the dataset for 'can't start new
    thread')."""
    biggest, cores = max((s.cpus for s in specs), default=1), usable_cores()
    if biggest > cores:
        raise SweepError(f"a cell asks for {biggest:,} CPUs but this machine has {cores}; a local sweep runs one cell "
                         f"at a time: give --cpus {cores} or less (or use --backend ray on a cluster)")


def make_backend(name: str, address: str | None, max_retries: int) -> LocalBackend | RayBackend:
    if name == "local":
        if address is not None:
            raise SweepError("--address joins a Ray cluster; use it with --backend ray")
        return LocalBackend()
    if name == "ray":
        if max_retries < 0:
            raise SweepError(f"--max-retries {max_retries} must be ≥ 0 (retries of a cell whose worker died)")
        return RayBackend(address, max_retries)
    raise SweepError(f"unknown backend {name!r}; use local or ray")
