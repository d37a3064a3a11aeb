"""`mediapipe-handnet`: MediaPipe's hand-landmark CNN, run as a torch module, as a PoseBackbone.

The network is read at run time from the .tflite files inside the mediapipe wheel (nothing is
copied into this repository) and converted by `tflite_graph` into torch ops, so unlike
`mediapipe-hands` it is batched, differentiable and fine-tunable, and it gives the pooled
bottleneck (1152-d full, 672-d lite) as features, not just landmarks. It runs on the whole image
it is given, with no palm detector in front: callers hand it hand crops.

    python -m fsbench_pretrained.handnet --evaluate   # keypoint error on the 19 annotated hands
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import PoseBackbone
from fsbench.errors import FsbenchError
from fsbench_pretrained.tflite_graph import GraphStage, TfAdd, TfliteModule, convert, cut_points

VARIANTS = ("full", "lite")
NET_SIZE = 224
NUM_KEYPOINTS = 21
BATCH = 256
MEDIAPIPE_FIX = ("pip install mediapipe==0.10.14 (the last wheels that ship the hand .tflite models are "
                 "0.10.14 and 0.10.21)")
#: graph tensors in MediaPipe's order (hand_landmark_cpu: landmarks, hand flag, handedness, world)
TENSORS = ("model_1/model/global_average_pooling2d/Mean", "Identity", "Identity_1", "Identity_2", "Identity_3")

_CONVERTED: dict[str, TfliteModule] = {}  # conversion fingerprint → module, converted once per process


class HandNetOutput(NamedTuple):
    bottleneck: Tensor  # (N, D) global-average-pooled last feature map
    landmarks: Tensor  # (N, 21, 3) x, y in 224-px input pixels, relative depth z
    presence: Tensor  # (N,) hand-flag probability
    handedness: Tensor  # (N,) the handedness head's sigmoid (MediaPipe labels it with handedness.txt)
    world_landmarks: Tensor  # (N, 21, 3) metres, hand-centred


class HandNet(nn.Module):
    """(N, 3, 224, 224) RGB in [0, 1] → `HandNetOutput`; the converted graph plus reshaping."""

    def __init__(self, graph: TfliteModule) -> None:
        super().__init__()
        self.graph = graph
        self.feature_dim = next(m.in_features for m in graph.layers if isinstance(m, nn.Linear))  # heads read it

    def forward(self, images: Tensor) -> HandNetOutput:
        pooled, marks, flag, hand, world = self.graph(images)
        return HandNetOutput(pooled, marks.view(-1, NUM_KEYPOINTS, 3), flag.view(-1), hand.view(-1),
                             world.view(-1, NUM_KEYPOINTS, 3))


def mediapipe_dir() -> Path:
    """The installed mediapipe package folder, found without importing mediapipe (slow, heavy)."""
    spec = find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FsbenchError(f"mediapipe-handnet needs mediapipe installed: {MEDIAPIPE_FIX}")
    return Path(next(iter(spec.submodule_search_locations)))


def model_path(variant: str) -> Path:
    if variant not in VARIANTS:
        raise FsbenchError(f"mediapipe-handnet variant {variant!r} is unknown; choose one of {', '.join(VARIANTS)}")
    path = mediapipe_dir() / "modules" / "hand_landmark" / f"hand_landmark_{variant}.tflite"
    if not path.is_file():
        raise FsbenchError(f"mediapipe-handnet: the installed mediapipe has no {path.name}: {MEDIAPIPE_FIX}")
    return path


def load_handnet(variant: str = "full") -> tuple[HandNet, str]:
    """A fresh fp32 `HandNet` for `variant` and the .tflite file's SHA-256. The conversion runs
    once per process and file; each call gets its own copy, so fine-tuning one leaves others be."""
    data = model_path(variant).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = f"{variant}:{sha}"
    if key not in _CONVERTED:
        _CONVERTED[key] = convert(data, TENSORS).eval()
    return HandNet(copy.deepcopy(_CONVERTED[key])), sha


def to_net_input(images: Tensor, size: int = NET_SIZE) -> Tensor:
    """(N, 1|3, H, W) in [0, 1] → (N, 3, size, size) channels_last: grey repeated to RGB, other
    sizes resized bilinearly (antialiased, so downscaling Massey's 400 px does not alias)."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise FsbenchError(f"mediapipe-handnet takes (N, 1|3, H, W) images, got shape {tuple(images.shape)}")
    x = images.float().expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous(memory_format=torch.channels_last)


class HandNetBackbone(PoseBackbone):
    """MediaPipe hand-landmark CNN (`variant` full: 2.7 M params, 1152-d; lite: 1.0 M, 672-d).

    `input_size` is the image size callers render (default the net's own 224); other sizes are
    resized inside. `module` is the torch `HandNet`, for trainers that fine-tune it.
    """

    channels = 3

    def __init__(self, variant: str = "full", input_size: int = NET_SIZE) -> None:
        if int(input_size) < 32:
            raise FsbenchError(f"mediapipe-handnet input_size {input_size} is too small; use ≥ 32 pixels")
        self.variant = variant
        self.input_size = (int(input_size), int(input_size))
        module, self.tflite_sha256 = load_handnet(variant)
        self.module = module.to(memory_format=torch.channels_last)
        self.feature_dim = module.feature_dim
        #: where the weights come from, for results files (the frozen-prototypes convention)
        self.pretrained: dict[str, Any] = {
            "weights": f"mediapipe/modules/hand_landmark/hand_landmark_{variant}.tflite",
            "sha256": self.tflite_sha256,
            "trained_on": "MediaPipe Hands' hand crops (Google; real and synthetic, not public)",
            "source": f"mediapipe {metadata.version('mediapipe')} wheel",
            "license": "Apache-2.0",
            "architecture": f"MediaPipe hand_landmark_{variant}, converted by fsbench_pretrained.tflite_graph",
        }

    def _run(self, images: Tensor) -> list[HandNetOutput]:
        return [self.module(to_net_input(b)) for b in images.split(BATCH)]

    @torch.inference_mode()
    def features(self, images: Tensor) -> Tensor:
        """(N, C, H, W) → (N, feature_dim) pooled bottleneck."""
        outs = self._run(images)
        return torch.cat([o.bottleneck for o in outs]) if outs else torch.empty(0, self.feature_dim)

    @torch.inference_mode()
    def keypoints(self, images: Tensor) -> Tensor:
        """(N, C, H, W) → (N, 21, 3): x, y in pixels of the given images, hand presence repeated."""
        outs = self._run(images)
        if not outs:
            return torch.empty(0, NUM_KEYPOINTS, 3)
        marks = torch.cat([o.landmarks for o in outs])
        presence = torch.cat([o.presence for o in outs])
        scale = marks.new_tensor([images.shape[-1] / NET_SIZE, images.shape[-2] / NET_SIZE])
        return torch.cat([marks[..., :2] * scale, presence[:, None, None].expand(-1, NUM_KEYPOINTS, 1)], dim=-1)

    def prepare(self, images: Tensor, size: int | None = None) -> Tensor:
        """[0, 1] images → the net's input at `size` px (default its own 224): the convolutions and
        the pooling run at any size, so a trainer may run the net smaller to save time."""
        return to_net_input(images, size or NET_SIZE)

    def stages(self) -> list[nn.Module]:
        """The bottleneck's path in pieces that end at a residual block (`tflite_graph.GraphStage`),
        the last one ending in the pooled (N, feature_dim) features; the heads after it are left out."""
        graph = self.module.graph
        pooled = next(k for k, (_, out, _) in enumerate(graph.plan) if out == graph.output_slots[0])
        ends = [k for k in cut_points(graph) if k < pooled and isinstance(graph.layers[k], TfAdd)] + [pooled]
        return [GraphStage(graph, a + 1, b + 1) for a, b in zip([-1, *ends[:-1]], ends)]

    def config(self) -> dict[str, Any]:
        return {"backbone": "mediapipe-handnet", "variant": self.variant, "input_size": self.input_size,
                "tflite_sha256": self.tflite_sha256}

    def fingerprint(self) -> str:
        """SHA-256 of the config and the current weights (so a fine-tuned module hashes anew)."""
        h = hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode())
        for name, t in sorted(self.module.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()


def evaluate(variants: tuple[str, ...] = VARIANTS) -> list[dict[str, Any]]:
    """Keypoint error and PCK@0.2 on the 19 annotated hands, with hand2vec's loader and metric.

    The net sees the loader's crops (bbox square, 25 % margin) at 224 px; predictions are scaled
    to the 64-px crops the metric is defined on (the loader's keypoints are linear in crop size).
    """
    try:
        from fsbench_hand2vec.evaluate_pose import keypoint_metrics
        from fsbench_hand2vec.keypoints import load_all
    except ImportError as e:
        raise FsbenchError("--evaluate reuses hand2vec's keypoint loader: pip install -e plugins/hand2vec") from e
    reference, crops = load_all(64), load_all(NET_SIZE)
    images = torch.from_numpy(np.stack([s.image for s in crops])).permute(0, 3, 1, 2).float() / 255
    sources = sorted({s.source for s in reference})
    rows = []
    for variant in variants:
        pred = HandNetBackbone(variant).keypoints(images).numpy()
        pred[..., :2] *= 64 / NET_SIZE
        by_source: dict[str, dict[str, Any]] = {}
        for src in sources:
            idx = [i for i, s in enumerate(reference) if s.source == src]
            by_source[src] = {**keypoint_metrics(pred[idx], [reference[i] for i in idx]),
                              "presence": [round(float(p), 3) for p in pred[idx, 0, 2]]}
        rows.append({"backbone": "mediapipe-handnet", "variant": variant, "hands": len(crops),
                     **keypoint_metrics(pred, reference), "mean_presence": float(pred[:, 0, 2].mean()),
                     "by_source": by_source})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description="mediapipe-handnet keypoint accuracy on the annotated hands")
    ap.add_argument("--evaluate", action="store_true", help="mean 2D error at 256 px and PCK@0.2, full and lite")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    if not args.evaluate:
        ap.error("nothing to do: pass --evaluate")
    try:
        text = json.dumps(evaluate(), indent=2)
    except FsbenchError as e:  # one line and exit code 2, as the fsbench CLI does
        ap.exit(2, f"error: {e}\n")
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
