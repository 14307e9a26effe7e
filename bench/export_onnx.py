"""Exports the benchmark model to ONNX for the ONNX Runtime side of `npm run bench`:

    /usr/bin/python3 bench/export_onnx.py [--quantize] <modelDir> <out.onnx> <check.json>

The model is the plain-PyTorch BERT of test/reference (the one bench/torch_worker.py runs, same
weights), traced by torch.onnx.export at opset 14 with dynamic batch and sequence axes: inputs
input_ids, attention_mask, token_type_ids (int64), output logits. check.json gets one padded
batch and PyTorch's logits for it, so bench/onnx-model.ts can check ONNX Runtime's logits against
PyTorch's (onnxruntime for Python is not installable here). bench/onnx-model.ts decides when to
re-export (when the weights, the config or this script change). --quantize exports the
dynamically int8-quantised model instead (bench/onnx_quantize.py); check.json's logits are then
the quantised arithmetic's, and floatLogits the float model's (the accuracy quantisation costs).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import json  # noqa: E402
import os  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "reference"))

import torch  # noqa: E402

from bert_model import load_model  # noqa: E402
from onnx_quantize import quantize_encoder  # noqa: E402

OPSET = 14
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def check_batch(vocab_size: int, generator: torch.Generator):
    """8 pairs of different lengths, padded to the longest: the mask and padding paths are both hit."""
    lengths = [64, 57, 40, 33, 21, 12, 7, 3]
    seq = max(lengths)
    ids = torch.zeros((len(lengths), seq), dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(1000, vocab_size, (length,), generator=generator)
        mask[row, :length] = 1
        types[row, length // 2:length] = 1
    return ids, mask, types


def main() -> int:
    args = sys.argv[1:]
    quantize = "--quantize" in args
    args = [a for a in args if a != "--quantize"]
    if len(args) != 3:
        print("usage: export_onnx.py [--quantize] <modelDir> <out.onnx> <check.json>", file=sys.stderr)
        return 2
    model_dir, out, check_file = args
    model = load_model(model_dir)
    generator = torch.Generator().manual_seed(13)
    batch = check_batch(model.config.vocab_size, generator)
    with torch.inference_mode():
        float_logits = model(*batch)
    if quantize:
        quantize_encoder(model)
    # Written next to the target, then renamed: an interrupted export leaves no half file.
    partial = out + ".partial"
    with torch.inference_mode():
        torch.onnx.export(
            model, batch, partial, opset_version=OPSET, input_names=INPUTS, output_names=["logits"],
            dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in INPUTS}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )
        logits = model(*batch)
    os.replace(partial, out)
    with open(check_file, "w", encoding="utf-8") as f:
        json.dump({"inputs": {name: t.tolist() for name, t in zip(INPUTS, batch)}, "logits": logits.tolist(),
                   "floatLogits": float_logits.tolist(), "quantized": quantize,
                   "torchVersion": torch.__version__, "opset": OPSET}, f)
    kind = "int8 dynamic" if quantize else "float32"
    print(f"exported {out} ({kind}, opset {OPSET}, torch {torch.__version__})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
