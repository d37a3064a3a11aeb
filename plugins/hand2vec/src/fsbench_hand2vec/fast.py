"""hand2vec's inference graphs as plain modules, and their ONNX Runtime sessions.

`feature_module` is the frozen backbone as the feature cache computes it; `embedding_module`
appends the head (what `fsbench export` writes). With onnxruntime installed the feature cache
runs the exported graph (~2× eager on 2 cores, max |Δ| ~1e-6); FSBENCH_ONNX=0 turns it off.
Sessions are exported on first use, once per backbone fingerprint, and kept in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import PoseBackbone
from fsbench.deploy.export import OrtModel, Pipeline, onnxruntime_available, to_onnx_bytes
from fsbench_hand2vec.charnet import CharNetBackbone, normalise_gray
from fsbench_hand2vec.posenet import PoseNetBackbone, normalise

_SESSIONS: dict[str, OrtModel] = {}


class _Pool(nn.Module):
    def __init__(self, encoder: nn.Module, pooling: str) -> None:
        super().__init__()
        self.encoder, self.pooling = encoder, pooling

    def forward(self, x: Tensor) -> Tensor:
        z = self.encoder(x)
        return F.adaptive_avg_pool2d(z, 1).flatten(1) if self.pooling == "avg" else z.flatten(1)


def feature_module(backbone: PoseBackbone) -> Pipeline:
    """[0, 1] images → the backbone's `features`, as one eval-mode module."""
    if isinstance(backbone, CharNetBackbone):
        return Pipeline(normalise_gray, backbone.net.encoder).eval()
    if isinstance(backbone, PoseNetBackbone):
        return Pipeline(normalise, _Pool(backbone.net.encoder, backbone.pooling)).eval()
    raise TypeError(f"no inference graph for backbone {type(backbone).__name__}")


def embedding_module(backbone: PoseBackbone, head: nn.Module) -> Pipeline:
    """[0, 1] images → unit embeddings: backbone features then the (eval-mode) head."""
    feats = feature_module(backbone)
    return Pipeline(feats.prepare, feats.encoder, head.eval()).eval()


def example_input(backbone: PoseBackbone, n: int = 2) -> Tensor:
    return torch.rand(n, backbone.channels, *backbone.input_size)


def fast_features(backbone: PoseBackbone) -> Callable[[Tensor], Tensor]:
    """The fastest available `features`: an ONNX Runtime session, else the eager backbone.

    The session is exported on the first batch, not here: a run whose features all come from
    the feature cache never pays the export (seconds) or holds the session's memory."""
    if os.environ.get("FSBENCH_ONNX", "1") == "0" or not onnxruntime_available():
        return backbone.features

    def encode(images: Tensor) -> Tensor:
        return ort_session(backbone)(images)

    return encode


def ort_session(backbone: PoseBackbone) -> OrtModel:
    """The backbone's feature graph as an ONNX Runtime session, exported once per fingerprint."""
    key = backbone.fingerprint()
    if key not in _SESSIONS:
        blob = to_onnx_bytes(feature_module(backbone), example_input(backbone), output="features")
        _SESSIONS.clear()  # one live backbone at a time: bounded memory across folds
        _SESSIONS[key] = OrtModel(blob)
    return _SESSIONS[key]
