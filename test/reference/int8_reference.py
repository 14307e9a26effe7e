"""Python reference for `dtype: 'int8'`: the plain-PyTorch BERT of bert_model.py, made int8 as a
PyTorch user would:

    torch.backends.quantized.engine = 'onednn'
    model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    /usr/bin/python3 test/reference/int8_reference.py --model DIR [--family] < request.json

With --family the model is family_reference.py's (RoBERTa, XLM-R, ELECTRA, ModernBERT, modular
directories) instead of bert_model.py's BERT.

The request: {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]]}, padded
(bert_reference.py's pre-tokenized form), and optionally
    "batch_sizes": [N, ...]   -> "logits_by_batch_size": the rows cut into batches of N, each cut to
                                 its own longest row (bert_reference.predict_in_batches);
    "threads": [N, ...]       -> "logits_by_threads": the whole batch at N intra-op threads;
    "mutations": [M, ...]     -> "logits_by_mutation": the whole batch from a model quantised
                                 deliberately otherwise, so a test can show its comparison notices:
                                 "no_reduce_range" (linear_dynamic with reduce_range=False, as
                                 nnqd.Linear before version 4 calls it), "per_channel"
                                 (per_channel_dynamic_qconfig: per-channel weight scales).
The answer: {"logits": [[...]], "float_logits": [[...]] (the float32 model), and the above}.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Any, Dict, List, Mapping  # noqa: E402

import torch  # noqa: E402
import torch.ao.nn.quantized.dynamic as nnqd  # noqa: E402
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic  # noqa: E402

import bert_reference  # noqa: E402
import family_reference  # noqa: E402
from bert_reference import RequestError  # noqa: E402


class Backend:
    """The reference model code: bert_model.py's, or family_reference.py's."""

    def __init__(self, family: bool):
        if family:
            self.load = family_reference.load_model
            self.batch = lambda request, model_dir, model: family_reference.batch_of(request, model)
            self.logits = family_reference.logits_of
            self.in_batches = family_reference.in_batches
        else:
            self.load = bert_reference.load_model
            self.batch = lambda request, model_dir, model: bert_reference.batch_from_request(request, model_dir, model.config)
            self.logits = bert_reference.predict_logits
            self.in_batches = bert_reference.predict_in_batches


backend = Backend(False)

MUTATIONS = ("no_reduce_range", "per_channel")


def quantized_model(model_dir: str, mutation: str | None = None) -> torch.nn.Module:
    torch.backends.quantized.engine = "onednn"
    model = backend.load(model_dir)
    if mutation == "per_channel":
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if mutation == "no_reduce_range":
        for module in model.modules():
            if isinstance(module, nnqd.Linear):
                module.version = 3
    return model


def predict(model_dir: str, request: Mapping[str, Any]) -> Dict[str, Any]:
    float_model = backend.load(model_dir)
    batch = backend.batch(request, model_dir, float_model)
    model = quantized_model(model_dir)
    answer: Dict[str, Any] = {"logits": backend.logits(model, batch), "float_logits": backend.logits(float_model, batch)}
    if "batch_sizes" in request:
        answer["logits_by_batch_size"] = [backend.in_batches(model, batch, n) for n in request["batch_sizes"]]
    if "threads" in request:
        before = torch.get_num_threads()
        answer["logits_by_threads"] = []
        for n in request["threads"]:
            torch.set_num_threads(n)
            answer["logits_by_threads"].append(backend.logits(model, batch))
        torch.set_num_threads(before)
    if "mutations" in request:
        for mutation in request["mutations"]:
            if mutation not in MUTATIONS:
                raise RequestError(f"unknown mutation {mutation!r}; known: {', '.join(MUTATIONS)}")
        answer["logits_by_mutation"] = [backend.logits(quantized_model(model_dir, m), batch) for m in request["mutations"]]
    return answer


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face model directory")
    parser.add_argument("--family", action="store_true", help="family_reference.py's model code")
    args = parser.parse_args(argv)
    global backend
    backend = Backend(args.family)
    try:
        try:
            request = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise RequestError(f"stdin is not one JSON object ({e})") from None
        answer = predict(args.model, request)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
