"""Pose-backbone throughput: mediapipe-handnet (full, lite) against the thesis pose net.

    python bench/backbone_throughput.py [--quick]

One call of 256 images, fp32, channels_last, 2 torch threads, on random images of each net's
input size (224 px for the MediaPipe nets, 64 px for the Fig 3.1 pose net, untrained: speed does
not depend on the weights): mediapipe-handnet `features()` (its whole graph, so the same cost as
`keypoints()`), the pose net's `features()` (encoder) and `keypoints()` (encoder + decoder).
The variants are timed in interleaved rounds, so load on the shared machine hits them alike;
reported are the median and best round, the ratio of medians to the pose net's features, and the
fraction of the two cores' ~190 GFLOP/s fp32 peak that MACs × 2 × images/s (median) reaches.
MACs are counted by forward hooks on every conv/linear layer.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from fsbench_hand2vec.posenet import PoseNet, PoseNetBackbone  # noqa: E402
from fsbench_pretrained.handnet import HandNetBackbone  # noqa: E402

BATCH = 256
BASELINE = "thesis pose net features"  # hand2vec's frozen-feature path
PEAK_GFLOPS = 190.0  # 2 cores × ~3 GHz × 32 fp32 FLOP/cycle (FMA), the estimate docs/performance.md uses


def count_macs(module: nn.Module, run: Callable[[], object]) -> int:
    """Multiply-accumulates of one `run()`, summed over conv, transposed-conv and linear layers."""
    total = 0

    def hook(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.ConvTranspose2d):
            total += inputs[0].numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Conv2d):
            total += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total


def variants() -> dict[str, tuple[Callable[[Tensor], Tensor], nn.Module, int]]:
    """name → (the call timed, the torch module it runs, input side)."""
    full, lite, pose = HandNetBackbone("full"), HandNetBackbone("lite"), PoseNetBackbone(PoseNet())
    return {"mediapipe-handnet full features": (full.features, full.module, 224),
            "mediapipe-handnet lite features": (lite.features, lite.module, 224),
            BASELINE: (pose.features, pose.net, 64),
            "thesis pose net keypoints": (pose.keypoints, pose.net, 64)}


def measure(rounds: int) -> list[dict]:
    calls = variants()
    inputs = {side: torch.rand(BATCH, 3, side, side).contiguous(memory_format=torch.channels_last)
              for side in {side for _, _, side in calls.values()}}
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(rounds + 1):  # round 0 warms up (oneDNN primitives, allocator) and is dropped
        for name, (fn, _, side) in calls.items():
            t = time.perf_counter()
            fn(inputs[side])
            if r:
                seconds[name].append(time.perf_counter() - t)
    rows = []
    for name, (fn, module, side) in calls.items():
        macs = count_macs(module, lambda: fn(inputs[side][:1]))
        median = BATCH / statistics.median(seconds[name])
        rows.append({"variant": name, "input": f"{side}×{side}", "MMAC/img": round(macs / 1e6, 1),
                     "img/s": round(median, 1), "best img/s": round(BATCH / min(seconds[name]), 1),
                     "% of peak": round(100 * macs * 2 * median / (PEAK_GFLOPS * 1e9), 1)})
    base = next(row["img/s"] for row in rows if row["variant"] == BASELINE)
    for row in rows:
        row["× pose net"] = round(row["img/s"] / base, 3)
    return rows


def main() -> None:
    rounds = 1 if common.quick_flag() else 5
    rows = measure(rounds)
    cols = ["variant", "input", "MMAC/img", "img/s", "best img/s", "× pose net", "% of peak"]
    common.show(f"pose backbones, batch {BATCH}, fp32 channels_last, {common.THREADS} threads", rows, cols)
    path = common.write("backbone_throughput", rows, {"batch": BATCH, "rounds": rounds, "peak_gflops": PEAK_GFLOPS})
    print(f"peak RSS {common.peak_rss_mb()} MB; wrote {path}")


if __name__ == "__main__":
    main()
