"""A .tflite flatbuffer → a torch `nn.Module` that runs the same graph with torch ops.

Written for MediaPipe's hand-landmark CNNs, so it covers just their ops: CONV_2D,
DEPTHWISE_CONV_2D, MAX_POOL_2D, ADD, MEAN, FULLY_CONNECTED, LOGISTIC, and DEQUANTIZE of fp16
constants (folded into fp32 weights at conversion). Anything else is refused by name rather than
approximated. Activations are NCHW inside (weights are permuted from TFLite's OHWI / 1HWO once),
so the module is batched, differentiable and runs channels_last convolutions; TF "SAME" padding
is reproduced exactly, including its extra bottom/right row for stride 2.

Why not tflite2onnx + onnx2torch (not tried): two more dependencies, the older without a release
since 2022, whose output would need the same parity test against the interpreter anyway; seven
ops written here are checked against it directly and keep TFLite's tensor names for taps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.errors import FsbenchError

#: TFLite's NHWC axis → our NCHW axis, for 4-D tensors
NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_PADDING = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}
_DTYPES = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
           tflite.TensorType.INT32: np.int32}


class TfliteError(FsbenchError):
    """A .tflite file this converter cannot reproduce exactly."""


def activation(code: int) -> nn.Module:
    """A fused activation code → its module (only the three these models use). In place: the op
    before it owns its fresh output, and at batch 256 an extra 300 MB tensor per layer costs time."""
    acts: dict[int, Callable[[], nn.Module]] = {
        tflite.ActivationFunctionType.NONE: nn.Identity,
        tflite.ActivationFunctionType.RELU: lambda: nn.ReLU(inplace=True),
        tflite.ActivationFunctionType.RELU6: lambda: nn.ReLU6(inplace=True),
    }
    if code not in acts:
        raise TfliteError(f"fused activation {code} is not supported (NONE, RELU, RELU6 are)")
    return acts[code]()


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF 'SAME' (before, after) padding of one spatial axis: the odd pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def tf_pad(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
           value: float = 0.0) -> tuple[Tensor, tuple[int, int]]:
    """SAME-pad `x` (N, C, H, W): symmetric padding is returned for the op to apply (no copy),
    asymmetric padding is applied here with F.pad."""
    (top, bottom), (left, right) = (same_padding(x.shape[d + 2], kernel[d], stride[d], dilation[d]) for d in (0, 1))
    if top == bottom and left == right:
        return x, (top, left)
    return F.pad(x, (left, right, top, bottom), value=value), (0, 0)


class TfConv2d(nn.Conv2d):
    """nn.Conv2d with TF 'SAME'/'VALID' padding and a fused activation (depthwise via groups)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, stride: tuple[int, int],
                 dilation: tuple[int, int], padding: str, act: int, groups: int = 1) -> None:
        cout, cin_per_group, kh, kw = weight.shape
        super().__init__(cin_per_group * groups, cout, (kh, kw), stride, 0, dilation, groups, bias is not None)
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(weight))
            if bias is not None:
                self.bias.copy_(torch.from_numpy(bias))
        self.tf_padding = padding
        self.act = activation(act)

    def forward(self, x: Tensor) -> Tensor:
        pad: tuple[int, int] = (0, 0)
        if self.tf_padding == "same":
            x, pad = tf_pad(x, self.kernel_size, self.stride, self.dilation)
        return self.act(F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups))


class TfMaxPool2d(nn.Module):
    """MAX_POOL_2D with TF padding (−inf pad, so padded pixels never win) and fused activation."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], padding: str, act: int) -> None:
        super().__init__()
        self.kernel, self.stride, self.tf_padding = kernel, stride, padding
        self.act = activation(act)

    def forward(self, x: Tensor) -> Tensor:
        pad: tuple[int, int] = (0, 0)
        if self.tf_padding == "same":
            x, pad = tf_pad(x, self.kernel, self.stride, (1, 1), value=-math.inf)  # max_pool2d pads with −inf too
        return self.act(F.max_pool2d(x, self.kernel, self.stride, pad))


class TfAdd(nn.Module):
    """ADD of two same-layout tensors with a fused activation."""

    def __init__(self, act: int) -> None:
        super().__init__()
        self.act = activation(act)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.act(a + b)


class TfMean(nn.Module):
    """MEAN over TFLite axes, mapped to NCHW for 4-D inputs."""

    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        super().__init__()
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)


class TfLinear(nn.Linear):
    """FULLY_CONNECTED on (N, D) with a fused activation."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, act: int) -> None:
        super().__init__(weight.shape[1], weight.shape[0], bias is not None)
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(weight))
            if bias is not None:
                self.bias.copy_(torch.from_numpy(bias))
        self.act = activation(act)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(super().forward(x))


@dataclass(frozen=True)
class Op:
    """One operator of the flatbuffer: its name, options table, and input/output tensor ids."""

    name: str
    options: Any
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class _Reader:
    """Flatbuffer access: tensor names/shapes, constant data (fp16 → fp32) and typed options."""

    def __init__(self, data: bytes) -> None:
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise TfliteError(f".tflite has {self.model.SubgraphsLength()} subgraphs; only single-graph models convert")
        self.graph = self.model.Subgraphs(0)
        self.consts: dict[int, np.ndarray] = {}
        for i in range(self.graph.TensorsLength()):
            arr = self._buffer(i)
            if arr is not None:
                self.consts[i] = arr

    def name(self, i: int) -> str:
        return self.graph.Tensors(i).Name().decode()

    def shape(self, i: int) -> tuple[int, ...]:
        t = self.graph.Tensors(i)
        return tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def _buffer(self, i: int) -> np.ndarray | None:
        t = self.graph.Tensors(i)
        raw = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:  # no data (flatbuffers gives 0): a runtime tensor
            return None
        if t.Type() not in _DTYPES or t.Quantization() is not None and t.Quantization().ScaleLength():
            raise TfliteError(f"tensor {self.name(i)!r} has type {t.Type()} or integer quantisation; "
                              "only float32/float16/int32 constants convert")
        arr = raw.view(_DTYPES[t.Type()]).reshape(self.shape(i))
        return arr.astype(np.float32) if arr.dtype == np.float16 else arr

    def ops(self) -> list[Op]:
        out = []
        for k in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = _OP_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
            out.append(Op(name, op.BuiltinOptions(), tuple(int(i) for i in op.InputsAsNumpy()),
                          tuple(int(i) for i in op.OutputsAsNumpy())))
        return out

    @staticmethod
    def options(op: Op, cls: type) -> Any:
        opts = cls()
        opts.Init(op.options.Bytes, op.options.Pos)
        return opts


def _bias(r: _Reader, op: Op) -> np.ndarray | None:
    """The optional third operand (−1 when the op has no bias)."""
    return r.consts.get(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None


def _conv(r: _Reader, op: Op) -> nn.Module:
    o = r.options(op, tflite.Conv2DOptions)
    weight = r.consts[op.inputs[1]].transpose(0, 3, 1, 2)  # OHWI → OIHW
    groups = r.shape(op.inputs[0])[3] // weight.shape[1]  # TFLite marks grouped conv by channel count only
    return TfConv2d(np.ascontiguousarray(weight), _bias(r, op), (o.StrideH(), o.StrideW()), (o.DilationHFactor(),
                    o.DilationWFactor()), _PADDING[o.Padding()], o.FusedActivationFunction(), groups)


def _depthwise(r: _Reader, op: Op) -> nn.Module:
    o = r.options(op, tflite.DepthwiseConv2DOptions)
    weight = r.consts[op.inputs[1]].transpose(3, 0, 1, 2)  # 1HWO → O1HW
    groups = r.shape(op.inputs[0])[3]
    return TfConv2d(np.ascontiguousarray(weight), _bias(r, op), (o.StrideH(), o.StrideW()), (o.DilationHFactor(),
                    o.DilationWFactor()), _PADDING[o.Padding()], o.FusedActivationFunction(), groups)


def _max_pool(r: _Reader, op: Op) -> nn.Module:
    o = r.options(op, tflite.Pool2DOptions)
    return TfMaxPool2d((o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()), _PADDING[o.Padding()],
                       o.FusedActivationFunction())


def _add(r: _Reader, op: Op) -> nn.Module:
    if r.shape(op.inputs[0]) != r.shape(op.inputs[1]) or any(i in r.consts for i in op.inputs):
        raise TfliteError("ADD converts only for two runtime tensors of equal shape")
    return TfAdd(r.options(op, tflite.AddOptions).FusedActivationFunction())


def _mean(r: _Reader, op: Op) -> nn.Module:
    axes = tuple(int(a) % len(r.shape(op.inputs[0])) for a in np.atleast_1d(r.consts[op.inputs[1]]))
    keep = bool(r.options(op, tflite.ReducerOptions).KeepDims())
    if len(r.shape(op.inputs[0])) == 4:
        if not keep and not {1, 2} <= set(axes):  # the kept axes would come out in another order
            raise TfliteError(f"MEAN over NHWC axes {axes} without keep_dims does not convert")
        axes = tuple(sorted(NHWC_TO_NCHW[a] for a in axes))
    return TfMean(axes, keep)


def _fully_connected(r: _Reader, op: Op) -> nn.Module:
    o = r.options(op, tflite.FullyConnectedOptions)
    if len(r.shape(op.inputs[0])) != 2 or o.WeightsFormat() != 0:
        raise TfliteError("FULLY_CONNECTED converts only for (N, D) inputs with default weights")
    return TfLinear(r.consts[op.inputs[1]], _bias(r, op), o.FusedActivationFunction())


BUILDERS: dict[str, Callable[[_Reader, Op], nn.Module]] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "MAX_POOL_2D": _max_pool, "ADD": _add,
    "MEAN": _mean, "FULLY_CONNECTED": _fully_connected, "LOGISTIC": lambda r, op: nn.Sigmoid(),
}


class TfliteModule(nn.Module):
    """The converted graph: `layers` in TFLite's (topological) order, wired by a static plan.

    `forward(x)` takes the graph input in NCHW for 4-D inputs (any batch size) and returns the
    requested tensors in order, 4-D ones as NCHW. Intermediate tensors are dropped after their
    last use, so a batch of 256 at 224 px needs a few activations in memory, not all of them.
    """

    def __init__(self, layers: list[nn.Module], plan: list[tuple[tuple[int, ...], int, tuple[int, ...]]],
                 input_slot: int, output_slots: tuple[int, ...]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.plan = plan  # per layer: input slots, output slot, slots free after it
        self.input_slot, self.output_slots = input_slot, output_slots

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        env: dict[int, Tensor] = {self.input_slot: x}
        for layer, (ins, out, free) in zip(self.layers, self.plan):
            env[out] = layer(*(env[i] for i in ins))
            for i in free:
                del env[i]
        return tuple(env[i] for i in self.output_slots)


class GraphStage(nn.Module):
    """Layers [start, end) of a converted graph, entered by one tensor and leaving one: a piece of
    the network a trainer can freeze, or train alone on cached activations of the pieces before it.
    It shares the graph's layers (the same parameters), so training a stage trains the graph."""

    def __init__(self, graph: TfliteModule, start: int, end: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(graph.layers[start:end])
        self.plan = graph.plan[start:end]
        self.in_slot = graph.input_slot if start == 0 else graph.plan[start - 1][1]
        self.out_slot = graph.plan[end - 1][1]

    def forward(self, x: Tensor) -> Tensor:
        env: dict[int, Tensor] = {self.in_slot: x}
        for layer, (ins, out, free) in zip(self.layers, self.plan):
            env[out] = layer(*(env[i] for i in ins))
            for i in free:
                env.pop(i, None)
        return env[self.out_slot]


def cut_points(graph: TfliteModule) -> list[int]:
    """Layer positions after which exactly one computed tensor is alive: where a graph can be cut
    into `GraphStage`s (a residual block's ADD, a plain conv chain, a pooling)."""
    live, cuts = {graph.input_slot}, []
    for k, (ins, out, free) in enumerate(graph.plan):
        live = (live | {out}) - set(free)
        if len(live) == 1:
            cuts.append(k)
    return cuts


def convert(data: bytes, outputs: Sequence[str] | None = None) -> TfliteModule:
    """Convert a .tflite flatbuffer; `outputs` names the tensors to return (default: the graph's
    outputs, in order) and may name intermediate ones, e.g. a pooled bottleneck."""
    r = _Reader(data)
    ops = [op for op in r.ops() if not _fold_dequantize(r, op)]
    unsupported = sorted({op.name for op in ops} - set(BUILDERS))
    if unsupported:
        raise TfliteError(f".tflite uses ops {unsupported}; the converter supports {sorted(BUILDERS)}")
    if any(len(op.outputs) != 1 for op in ops):
        raise TfliteError("an op of the .tflite graph has several outputs; only single-output ops convert")
    if r.graph.InputsLength() != 1:
        raise TfliteError(f".tflite has {r.graph.InputsLength()} inputs; only single-input graphs convert")
    by_name = {r.name(i): i for i in range(r.graph.TensorsLength())}
    wanted = [int(i) for i in r.graph.OutputsAsNumpy()] if outputs is None else [_lookup(by_name, n) for n in outputs]
    runtime = [tuple(i for i in op.inputs if i >= 0 and i not in r.consts) for op in ops]
    last_use = {i: k for k, ins in enumerate(runtime) for i in ins}
    plan = []
    for k, (op, ins) in enumerate(zip(ops, runtime)):
        free = tuple(sorted({i for i in ins if last_use[i] == k and i not in wanted}))
        plan.append((ins, op.outputs[0], free))
    layers = [BUILDERS[op.name](r, op) for op in ops]
    return TfliteModule(layers, plan, int(r.graph.Inputs(0)), tuple(wanted))


def _fold_dequantize(r: _Reader, op: Op) -> bool:
    """DEQUANTIZE of a constant becomes a constant (its fp16 data was widened on read)."""
    if op.name != "DEQUANTIZE" or op.inputs[0] not in r.consts:
        return False
    r.consts[op.outputs[0]] = r.consts[op.inputs[0]]
    return True


def _lookup(by_name: dict[str, int], name: str) -> int:
    if name not in by_name:
        raise TfliteError(f"no tensor named {name!r} in the .tflite graph")
    return by_name[name]
