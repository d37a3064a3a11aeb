"""Embedding inference (hand2vec pose encoder + dual-path head): eager fp32 vs faster paths.

    python bench/embed_inference.py [--quick]

hand2vec is fitted on Massey leave-signer-out fold 0 (a cache hit after the first run), then
the images → embeddings module runs under each variant at 2 threads: batch-1 latency,
batch-256 throughput, max |Δ| of the embeddings against eager fp32, and low-shot top-1 on the
fold's test signer (S = 1 and 5, the method's own classifier) against eager fp32's.
Keypoints come from MediaPipe when the mediapipe-landmarks plugin is installed, else the pose
net is left at its seeded initialisation (`keypoint_source=none`); either way every variant
runs the same weights, which is all parity needs.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fsbench import registry  # noqa: E402
from fsbench.evaluation import fastpath  # noqa: E402
from fsbench.data.hub import resolve_dataset  # noqa: E402
from fsbench.evaluation.runner import make_method  # noqa: E402
from fsbench.deploy.export import OrtModel, export_onnx, onnxruntime_available  # noqa: E402
from fsbench.api import EpisodeSpec  # noqa: E402
from fsbench.protocol.episodes import sample_episodes  # noqa: E402


def keypoint_source() -> str:
    try:
        registry.get("backbones", "mediapipe-hands")
        import mediapipe  # noqa: F401
        return "mediapipe-hands"
    except Exception:
        return "none"


def fit(quick: bool):
    data = resolve_dataset("massey")
    folds = registry.get("splits", "leave-signer-out")().folds(data, 0)
    config = {"backbone.keypoint_source": keypoint_source()}
    if quick:
        config.update({"backbone.epochs": 1, "head.epochs": 10})
    method = make_method("hand2vec", config)
    method.fit(data.view(folds[0].train), 0)
    return data, folds[0], method, config


def variants(module: torch.nn.Module, calib: torch.Tensor, quick: bool, tmp: Path) -> dict:
    """name → (callable images → embeddings, seconds spent preparing it)."""
    eager = copy.deepcopy(module).to(memory_format=torch.contiguous_format).eval()
    cl = copy.deepcopy(module).to(memory_format=torch.channels_last).eval()
    out = {
        "eager fp32": (lambda x: eager(x), 0.0),
        "channels_last": (lambda x: cl(x.contiguous(memory_format=torch.channels_last)), 0.0),
    }

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return cl(x.contiguous(memory_format=torch.channels_last)).float()

    out["bf16 autocast"] = (bf16, 0.0)
    from torch.ao.quantization import quantize_dynamic

    qd = quantize_dynamic(copy.deepcopy(cl), {torch.nn.Linear}, dtype=torch.qint8)
    out["torch int8 dynamic (Linear)"] = (lambda x: qd(x.contiguous(memory_format=torch.channels_last)), 0.0)
    if not quick:
        t = time.perf_counter()
        compiled = torch.compile(copy.deepcopy(cl), dynamic=False)
        with torch.inference_mode():
            compiled(calib[:1].contiguous(memory_format=torch.channels_last))
            compiled(calib[:256].contiguous(memory_format=torch.channels_last))
        out["torch.compile"] = (lambda x: compiled(x.contiguous(memory_format=torch.channels_last)),
                                time.perf_counter() - t)
    if onnxruntime_available():
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic as ort_qd
        from onnxruntime.quantization import quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        t = time.perf_counter()
        fp32 = export_onnx(eager, calib[:2], tmp / "fp32.onnx")
        out["onnxruntime fp32"] = (OrtModel(fp32, threads=common.THREADS), time.perf_counter() - t)
        pre = tmp / "pre.onnx"
        quant_pre_process(str(fp32), str(pre))
        t = time.perf_counter()
        ort_qd(str(pre), str(tmp / "dyn.onnx"), weight_type=QuantType.QInt8)
        out["onnxruntime int8 dynamic"] = (OrtModel(tmp / "dyn.onnx", threads=common.THREADS), time.perf_counter() - t)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{"images": b.numpy()} for b in calib.split(32)])

            def get_next(self):
                return next(self.batches, None)

        t = time.perf_counter()
        quantize_static(str(pre), str(tmp / "static.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        out["onnxruntime int8 static"] = (OrtModel(tmp / "static.onnx", threads=common.THREADS), time.perf_counter() - t)
    return out


def accuracy(method, data, fold, emb: torch.Tensor, shots: int, episodes: int) -> float:
    eps = sample_episodes(data, [fold], EpisodeSpec(shots, episodes, 0))
    rows = fastpath.classify_fold(method.make_classifier(), eps, fold.test, data.labels, emb, np.ones(len(fold.test), bool))
    return float(np.mean(np.concatenate([o.top2[:, 0] == o.true for o in rows])))


def main() -> None:
    quick = common.quick_flag()
    data, fold, method, config = fit(quick)
    module, (c, h, w) = method.inference_module()
    test = data.view(fold.test if not quick else fold.test[::2]).tensor(h, "RGB")
    calib = data.view(fold.train[:: max(1, len(fold.train) // 256)]).tensor(h, "RGB")[:256]  # training signers only
    batch = test[:256] if len(test) >= 256 else torch.cat([test] * (256 // len(test) + 1))[:256]
    episodes = 10 if quick else 50
    sub_fold = fold if not quick else type(fold)(fold.name, fold.kind, fold.train, fold.test[::2], fold.train_signers,
                                                 fold.test_signers, fold.test_classes)
    rows, ref = [], None
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        for name, (fn, prep_s) in variants(module, calib, quick, Path(tmp)).items():
            lat = common.timeit(lambda: fn(test[:1]), repeats=10 if quick else 30, warmup=3)
            thr = common.timeit(lambda: fn(batch), repeats=2 if quick else 3, warmup=1)
            emb = torch.cat([fn(b) for b in test.split(256)]).float()
            acc = {s: accuracy(method, data, sub_fold, emb, s, episodes) for s in (1, 5)}
            if ref is None:
                ref = {"emb": emb, "thr": 256 / thr, "lat": lat, "acc": acc}
            rows.append({
                "variant": name, "batch-1 ms": round(lat * 1e3, 2), "batch-256 img/s": round(256 / thr, 1),
                "× eager": round(256 / thr / ref["thr"], 2), "max |Δ|": float(f"{(emb - ref['emb']).abs().max():.2e}"),
                "top-1 S=1": round(100 * acc[1], 2), "Δpt S=1": round(100 * (acc[1] - ref["acc"][1]), 2),
                "top-1 S=5": round(100 * acc[5], 2), "Δpt S=5": round(100 * (acc[5] - ref["acc"][5]), 2),
                "prepare s": round(prep_s, 1),
            })
            print(rows[-1], flush=True)
    ok = [r for r in rows if abs(r["Δpt S=1"]) <= 0.5 and abs(r["Δpt S=5"]) <= 0.5]
    best = max(ok, key=lambda r: r["batch-256 img/s"])
    cols = ["variant", "batch-1 ms", "batch-256 img/s", "× eager", "max |Δ|", "top-1 S=1", "Δpt S=1",
            "top-1 S=5", "Δpt S=5", "prepare s"]
    common.show(f"hand2vec embedding inference, Massey {fold.name}, {common.THREADS} threads "
                f"(keypoints: {config['backbone.keypoint_source']})", rows, cols)
    print(f"fastest within 0.5 pt: {best['variant']} at {best['batch-256 img/s']} img/s")
    path = common.write("embed_inference", rows, {"fold": fold.name, "config": config, "test_images": len(test),
                                                  "episodes": episodes, "fastest_within_0.5pt": best["variant"]})
    print(f"peak RSS {common.peak_rss_mb()} MB; wrote {path}")


if __name__ == "__main__":
    main()
