"""Shared network pieces: MobileNetV2 inverted residuals, the §3.1.2 init, and a MAC counter."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.ops.misc import Conv2dNormActivation

EXPAND = 4  # Fig 3.8: expand ratio 4


def conv_bn_relu6(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Module:
    """Eq. 3.12: x ↦ min(6, ReLU(BN(conv(x))))."""
    return Conv2dNormActivation(cin, cout, kernel, stride, activation_layer=nn.ReLU6)


def inverted_residual(cin: int, cout: int, stride: int = 1) -> InvertedResidual:
    """Fig 3.8 (torchvision's block: 1×1 expand, 3×3 depthwise, 1×1 project + BN, residual if c = c')."""
    return InvertedResidual(cin, cout, stride, expand_ratio=EXPAND)


def init_recipe(model: nn.Module) -> nn.Module:
    """§3.1.2: Xavier for every conv/linear, BN = identity, except the BN closing a residual block = 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        if isinstance(m, InvertedResidual) and m.use_res_connect:
            nn.init.zeros_(m.conv[-1].weight)  # the closing BN: the block starts as identity
    return model


def count_macs(model: nn.Module, example: Tensor) -> int:
    """Multiply-accumulates of conv, transposed conv and linear layers for one forward pass."""
    total = 0

    def hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            x = inp[0]
            total += x.numel() // x.shape[0] * m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
        elif isinstance(m, nn.Linear):
            total += out.numel() // out.shape[0] * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(example[:1])
    finally:
        for h in handles:
            h.remove()
    return total


def weights_fingerprint(model: nn.Module, config: dict[str, Any]) -> str:
    """SHA-256 over the config and every parameter/buffer: equal fingerprints ⇒ equal features."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
