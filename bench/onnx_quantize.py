"""Dynamic int8 quantisation of the encoder's Linear layers, for the opt-in quantised ONNX model of
`npm run bench -- --ort-quantized` (bench/export_onnx.py --quantize).

onnxruntime's own `quantize_dynamic` is Python-only and onnxruntime for Python is not installable
here, so this writes what it writes for a MatMul with constant weights, at export time: each
Linear becomes DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, 0) -> Cast -> Mul by
x_scale * w_scale -> Add bias, with W quantised to int8 per tensor, symmetric (quantize_dynamic's
defaults: QInt8 weights, per_channel False, activations uint8 asymmetric). ONNX Runtime's graph
optimiser fuses that into MatMulIntegerToFloat / DynamicQuantizeMatMul. The pooler and the
classifier stay float32 (two small matmuls on [CLS]; quantize_dynamic would quantise them too).

In PyTorch the module computes the same arithmetic (integer products summed in float64, exact),
so ONNX Runtime's logits can be checked against it like the float export's.
"""

from __future__ import annotations

import torch
from torch import nn


def dynamic_quantize_linear(x: torch.Tensor):
    """ONNX DynamicQuantizeLinear: uint8, the range always containing 0, round half to even."""
    low = torch.clamp(x.min(), max=0.0)
    high = torch.clamp(x.max(), min=0.0)
    scale = (high - low) / 255.0
    zero_point = torch.clamp(torch.round(-low / scale), 0, 255)
    quantised = torch.clamp(torch.round(x / scale) + zero_point, 0, 255)
    return quantised, scale, zero_point


class _Int8Matmul(torch.autograd.Function):
    """x @ W_q · scales + bias; `symbolic` is the ONNX graph torch.onnx.export writes for it."""

    @staticmethod
    def forward(ctx, x, weight_q, weight_scale, bias):  # noqa: D102
        x_q, x_scale, x_zp = dynamic_quantize_linear(x)
        product = torch.matmul((x_q - x_zp).double(), weight_q.double())
        return (product * (x_scale.double() * weight_scale.double())).float() + bias

    @staticmethod
    def symbolic(g, x, weight_q, weight_scale, bias):  # noqa: D102
        x_q, x_scale, x_zp = g.op("DynamicQuantizeLinear", x, outputs=3)
        weight_zp = g.op("Constant", value_t=torch.tensor(0, dtype=torch.int8))
        product = g.op("MatMulInteger", x_q, weight_q, x_zp, weight_zp)
        product = g.op("Cast", product, to_i=1)  # TensorProto.FLOAT
        scale = g.op("Mul", x_scale, weight_scale)
        return g.op("Add", g.op("Mul", product, scale), bias)


class DynamicInt8Linear(nn.Module):
    """A Linear with its weight quantised once: int8 [in, out] (MatMulInteger's B), one scale."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight.detach().t().contiguous()
        scale = weight.abs().max() / 127.0
        self.register_buffer("weight_q", torch.clamp(torch.round(weight / scale), -127, 127).to(torch.int8))
        self.register_buffer("weight_scale", scale.reshape(()).float())
        self.register_buffer("bias", linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return _Int8Matmul.apply(x, self.weight_q, self.weight_scale, self.bias)


def quantize_encoder(model: nn.Module) -> int:
    """Replaces every nn.Linear under model.bert.encoder in place; returns how many."""
    count = 0
    for parent in list(model.bert.encoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, DynamicInt8Linear(child))
                count += 1
    return count
