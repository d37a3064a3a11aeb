"""ONNX export of a frozen backbone + embedding head, and an ONNX Runtime session to run it.

Inference on 2 CPU cores is dominated by framework overhead on small convolutions; ONNX
Runtime fuses conv+BN+ReLU6 and runs the depthwise convolutions in NHWC, which is where the
speed-up comes from. The graph takes float (N, C, H, W) images in [0, 1] (the `PoseBackbone`
contract) and does the normalisation itself, so callers hand it exactly what they would hand
the eager backbone. The legacy TorchScript exporter is used because it needs no extra
packages (the dynamo exporter wants onnxscript).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from fsbench.api import Exportable
from fsbench.atomic import write_bytes
from fsbench.device import CPU, Placement
from fsbench.errors import FsbenchError

OPSET = 17


class ExportError(FsbenchError):
    """A model that cannot be exported, or an export path that is unusable."""


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class Pipeline(nn.Module):
    """images → `prepare` → `encoder` → optional `head`: one module, one graph to export."""

    def __init__(self, prepare: Callable[[Tensor], Tensor], encoder: nn.Module, head: nn.Module | None = None) -> None:
        super().__init__()
        self.prepare, self.encoder, self.head = prepare, encoder, head

    def forward(self, images: Tensor) -> Tensor:
        z = self.encoder(self.prepare(images))
        return z if self.head is None else self.head(z)


def to_onnx_bytes(model: nn.Module, example: Tensor, output: str = "embeddings") -> bytes:
    """Serialise `model` (eval mode, dynamic batch) to ONNX bytes."""
    model = model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model, (example,), buf, input_names=["images"], output_names=[output],
            dynamic_axes={"images": {0: "batch"}, output: {0: "batch"}}, opset_version=OPSET, dynamo=False,
        )
    return buf.getvalue()


def export_onnx(model: nn.Module, example: Tensor, path: Path) -> Path:
    """Write `model` as ONNX to `path` atomically and check the graph."""
    import onnx

    blob = to_onnx_bytes(model, example)
    onnx.checker.check_model(onnx.load_from_string(blob))
    write_bytes(path, blob)
    return Path(path)


class OrtModel:
    """An ONNX Runtime CPU session with a torch-in, torch-out call, batched like the eager path."""

    def __init__(self, model: bytes | str | Path, threads: int | None = None, batch_size: int = 256) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        src = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.batch_size = batch_size

    def __call__(self, images: Tensor) -> Tensor:
        x = images.detach().float().contiguous().numpy()
        outs = [self.session.run(None, {self.input: x[i : i + self.batch_size]})[0]
                for i in range(0, len(x), self.batch_size)]
        return torch.from_numpy(np.concatenate(outs)) if outs else torch.empty(0)


def export_method(
    method_name: str,
    dataset: str,
    split: str,
    fold: int,
    out: Path,
    config: dict | None = None,
    seed: int = 0,
    check_images: int = 64,
    placement: Placement = CPU,
) -> dict:
    """Fit `method_name` on one fold's training view (a cache hit after `fsbench run`), export
    its images → embeddings graph to `out`, and check ONNX Runtime against eager on test images.

    Returns {path, fold, max_abs_diff, images_checked}; the method must offer
    `inference_module() -> (module, (C, H, W))`.
    """
    from fsbench.deploy.fit import fit_fold
    from fsbench.evaluation.runner import make_method

    if not isinstance(make_method(method_name, config or {}), Exportable):  # before any training
        raise ExportError(f"method {method_name!r} has no inference_module(); only such methods can be exported")
    method, data, chosen = fit_fold(method_name, dataset, split, fold, config, seed, placement)
    module, (c, h, w) = method.inference_module()
    module = module.cpu()  # fitted where the run computes; traced and checked on the CPU, as ONNX Runtime runs it
    path = export_onnx(module, torch.rand(2, c, h, w), Path(out))
    test = data.view(chosen.test[:check_images])
    images = test.tensor(h, "RGB" if c == 3 else "L")
    with torch.inference_mode():
        eager = module.eval()(images)
    diff = float((OrtModel(path)(images) - eager).abs().max()) if onnxruntime_available() else float("nan")
    return {"path": str(path), "fold": chosen.name, "max_abs_diff": diff, "images_checked": len(images)}
