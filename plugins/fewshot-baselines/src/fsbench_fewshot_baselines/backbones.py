"""The embedding networks: the literature's Conv-4 and ResNet-12, or any registered backbone.

Conv-4 is Snell et al.'s / Vinyals et al.'s 4 × [conv3×3 64, BN, ReLU, maxpool 2] with the
final feature map flattened (64 dims at 28 px, 256 at 32 px). ResNet-12 is the
Lee et al. (2019) / Chen et al. (2019) four-block residual net, narrowed by default so it
trains on two CPU cores; it ends in global average pooling. Any other name is looked up in
`fsbench.backbones`; one with a trainable `.module` (e.g. `imagenet-efficientnet-lite0`) is
fine-tuned whole, starting from its (pretrained) weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from fsbench import registry
from fsbench.errors import FsbenchError

BACKBONES = ("conv4", "resnet12")


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Sequential):
    """4 × [conv3×3, BN, ReLU, maxpool], flattened."""

    def __init__(self, channels: int, width: int = 64) -> None:
        super().__init__(
            _conv_block(channels, width),
            _conv_block(width, width),
            _conv_block(width, width),
            _conv_block(width, width),
            nn.Flatten(),
        )


class _ResBlock(nn.Module):
    """Three 3×3 convs with a 1×1 projection shortcut, then maxpool 2 (ResNet-12 style)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.out = nn.Sequential(nn.LeakyReLU(0.1, inplace=True), nn.MaxPool2d(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x) + self.shortcut(x))


class ResNet12(nn.Module):
    """Four residual blocks of the given widths, global-average-pooled."""

    def __init__(self, channels: int, widths: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__()
        blocks, cin = [], channels
        for w in widths:
            blocks.append(_ResBlock(cin, int(w)))
            cin = int(w)
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x).mean(dim=(2, 3))


class RegisteredNet(nn.Module):
    """A registered backbone as a trainable network: `features` through its own `.module`.

    The backbone's `.module` is a registered submodule, so its weights are trained, saved and
    loaded with the rest; `pretrained` is the provenance of the weights it started from.
    """

    def __init__(self, backbone: Any) -> None:
        super().__init__()
        self.backbone = backbone
        self.module = backbone.module
        self.pretrained: dict[str, Any] = dict(getattr(backbone, "pretrained", {}) or {})

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone.features(x)


def registered_backbone(name: str, args: dict[str, Any]) -> Any:
    """The `fsbench.backbones` entry `name` built with `args`; it must expose a trainable `.module`."""
    if name not in registry.names("backbones"):
        raise FsbenchError(
            f"unknown backbone {name!r}; set config 'backbone' to one of {BACKBONES} or a name "
            "from `fsbench list backbones`"
        )
    backbone = registry.get("backbones", name)(**args)
    if not isinstance(getattr(backbone, "module", None), nn.Module):
        raise FsbenchError(
            f"backbone {name!r} has no trainable `.module` network, so it cannot be fine-tuned; "
            f"use {BACKBONES} or a backbone with `.module` (e.g. imagenet-efficientnet-lite0)"
        )
    return backbone


def build_backbone(name: str, channels: int, config: dict) -> nn.Module:
    """The backbone a config names; an unknown name is a user error, not a crash."""
    if name == "conv4":
        return Conv4(channels, int(config.get("width", 64)))
    if name == "resnet12":
        return ResNet12(channels, config.get("resnet_widths", (32, 64, 128, 256)))
    return RegisteredNet(registered_backbone(name, dict(config.get("backbone_args") or {})))


@torch.no_grad()
def feature_dim(net: nn.Module, channels: int, size: int) -> int:
    """Output width of `net` on size×size inputs (probed once, in eval mode)."""
    was_training = net.training
    net.eval()
    dim = net(torch.zeros(1, channels, size, size)).shape[1]
    net.train(was_training)
    return int(dim)
