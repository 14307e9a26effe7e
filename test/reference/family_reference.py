"""Python reference for the non-BERT families (families/*.py; bert directories work too): plain
PyTorch, no `transformers`. Dispatches on config.json's model_type (roberta, xlm-roberta,
electra, modernbert, bert); a directory whose modules.json lists more than the Transformer is
Sentence Transformers' modular CrossEncoder (families/modular.py: loaded module by module as ST
loads it; its "logits" are the last Dense's scores). Input is token ids: this reference has no BPE / Unigram tokenizer (tests
tokenize with the TS tokenizer or make_tokenizers.mjs `encode`, the official Rust tokenizer).

    /usr/bin/python3 test/reference/family_reference.py predict --model DIR < request.json
    /usr/bin/python3 test/reference/family_reference.py train < request.json

predict request:
    {"input_ids": [[...]], "attention_mask": [[...]] (default 1), "token_type_ids": [[...]]
     (default 0; ModernBERT ignores them), plus optional:
     "batch_sizes": [N, ...]   -> "logits_by_batch_size": the rows cut in input order into batches
                                  of N, each trimmed to its longest row (as bert_reference.py)
     "threads": [N, ...]       -> "logits_by_threads": all rows in one batch under
                                  torch.set_num_threads(N)
     "extra_padding": [N, ...] -> "logits_by_extra_padding": all rows with N more pad positions
                                  (id pad_token_id, mask 0, type 0) appended
     "reverse": true           -> "logits_reversed": the rows fed in reverse order, answered in
                                  input order
     "mutations": [M, ...]     -> "logits_by_mutation": a fresh model made wrong in each way M:
         {"layer_norm_eps": E}  every nn.LayerNorm's eps set to E
         {"weight_delta": {"name": P, "index": I, "delta": D}}  D added to element I of P
         {"logit_shift": D}     D added to every logit
         {"config": {field: value, ...}}  the model built from a changed config, same weights
             (e.g. {"local_attention": 16}, {"global_rope_theta": 10000.0},
             {"classifier_pooling": "mean"}, {"hidden_act": "gelu_new"})
         {"arange_positions": true}  (roberta / xlm-roberta) positions 0..n-1 as BERT's instead
             of create_position_ids_from_input_ids
         {"head_activation": "tanh"}  (electra) the classification head's GELU replaced
       modular directories only:
         {"pooling_mode": "mean"}  the Pooling module pools by another mode
         {"dense_activation": {"2": "torch.nn.modules.activation.Tanh"}}  that Dense module's
             activation replaced by another torch class
         {"module_layer_norm_eps": E}  the eps of the LayerNorm modules (not the base model's)
         ("config" changes the base model's config; "weight_delta" names "4.linear.weight",
          "0.layers.0.attn.Wqkv.weight", ...; "layer_norm_eps" is every nn.LayerNorm's, base
          model included)
       (keys may be combined in one mutation)}
answer: {"model_type", "input_ids", "token_type_ids", "attention_mask", "logits": [[...] per row],
         the requested "logits_by_*" lists, and "spread": the largest |variant - logits| over
         every batch_sizes / threads / extra_padding / reverse variant (0 when none)}
Logits are float32 values, eval mode, torch.no_grad(), all rows in one batch unless said otherwise.

train request: as train_reference.py's (same "args", "variant", "mutation", "pos_weight", "out",
"runs" and the same loop: ReferenceTrainer, BCEWithLogitsLoss, AdamW, schedules, clipping,
dataloader seed draw), but "rows" are pre-tokenized pairs:
    {"model_dir": DIR, "rows": [{"input_ids": [...], "token_type_ids": [...] (optional),
     "label": y}, ...], "args": {...}, "out": "final.safetensors", ...}
each micro-batch padded to its longest row with the config's pad_token_id (mask 0, type 0).
answer: as train_reference.py's, without "max_length" (the caller truncated the rows).

A bad request prints `error: ...` on stderr and exits with status 2.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Any, Dict, List, Mapping, Optional, Sequence  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bert_reference import PairBatch, RequestError, _int_matrix  # noqa: E402
from families import modular  # noqa: E402
from families.registry import load_model as load_family_model, model_type_of  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
import train_reference as tr  # noqa: E402


# ---------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------
def load_model(model_dir: str, config_overrides=None) -> nn.Module:
    """A family model directory, or a modular CrossEncoder directory (families/modular.py)."""
    if modular.is_modular(model_dir):
        return modular.load_modular(model_dir, config_overrides)
    return load_family_model(model_dir, config_overrides=config_overrides)


def pad_id_of(model: nn.Module) -> int:
    pad = getattr(model.config, "pad_token_id", 0)
    return 0 if pad is None else pad


def logits_of(model: nn.Module, batch: PairBatch) -> List[List[float]]:
    if not batch.input_ids:
        return []
    with torch.no_grad():
        return model(torch.tensor(batch.input_ids, dtype=torch.long),
                     torch.tensor(batch.attention_mask, dtype=torch.long),
                     torch.tensor(batch.token_type_ids, dtype=torch.long)).tolist()


def in_batches(model: nn.Module, batch: PairBatch, size: int) -> List[List[float]]:
    out: List[List[float]] = []
    for start in range(0, len(batch.input_ids), size):
        rows = slice(start, start + size)
        masks = batch.attention_mask[rows]
        width = max(max((i + 1 for i, m in enumerate(mask) if m), default=1) for mask in masks)
        out += logits_of(model, PairBatch([r[:width] for r in batch.input_ids[rows]],
                                          [r[:width] for r in batch.token_type_ids[rows]],
                                          [r[:width] for r in masks]))
    return out


def with_threads(model: nn.Module, batch: PairBatch, threads: int) -> List[List[float]]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return logits_of(model, batch)
    finally:
        torch.set_num_threads(before)


def padded(batch: PairBatch, extra: int, pad_id: int) -> PairBatch:
    return PairBatch([r + [pad_id] * extra for r in batch.input_ids],
                     [r + [0] * extra for r in batch.token_type_ids],
                     [r + [0] * extra for r in batch.attention_mask])


def reversed_rows(model: nn.Module, batch: PairBatch) -> List[List[float]]:
    rev = PairBatch(batch.input_ids[::-1], batch.token_type_ids[::-1], batch.attention_mask[::-1])
    return logits_of(model, rev)[::-1]


MUTATION_KEYS = {"layer_norm_eps", "weight_delta", "logit_shift", "config", "arange_positions",
                 "head_activation", "pooling_mode", "dense_activation", "module_layer_norm_eps"}
MODULAR_MUTATIONS = {"pooling_mode", "dense_activation", "module_layer_norm_eps"}


class LogitShift(nn.Module):
    def __init__(self, model: nn.Module, shift: float):
        super().__init__()
        self.inner, self.shift = model, shift
        self.config = model.config

    def forward(self, *args):
        return self.inner(*args) + self.shift


def mutated_model(model_dir: str, mutation: Any) -> nn.Module:
    if not isinstance(mutation, Mapping) or not mutation or not set(mutation) <= MUTATION_KEYS:
        raise RequestError(f"a mutation must be an object with some of {sorted(MUTATION_KEYS)}")
    overrides = mutation.get("config")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise RequestError('mutation.config must be an object of config fields')
    model = load_model(model_dir, config_overrides=dict(overrides or {}))
    if "layer_norm_eps" in mutation:
        eps = mutation["layer_norm_eps"]
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0:
            raise RequestError(f"mutation.layer_norm_eps must be a positive number, got {eps!r}")
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.eps = float(eps)
    if "weight_delta" in mutation:
        delta = mutation["weight_delta"]
        params = dict(model.named_parameters())
        if not (isinstance(delta, Mapping) and delta.get("name") in params
                and isinstance(delta.get("index"), int) and isinstance(delta.get("delta"), (int, float))
                and 0 <= delta["index"] < params[delta["name"]].numel()):
            raise RequestError('mutation.weight_delta must be {"name": a parameter, "index": an '
                               'element of it, "delta": a number}')
        with torch.no_grad():
            params[delta["name"]].view(-1)[delta["index"]] += float(delta["delta"])
    if mutation.get("arange_positions"):
        if not hasattr(model, "roberta"):
            raise RequestError("mutation.arange_positions is for roberta / xlm-roberta models")
        model.roberta.embeddings.arange_positions = True
    if "head_activation" in mutation:
        if not hasattr(model, "electra"):
            raise RequestError("mutation.head_activation is for electra models")
        model.classifier.activation_name = str(mutation["head_activation"])
    if MODULAR_MUTATIONS & set(mutation):
        if not isinstance(model, modular.ModularCrossEncoder):
            raise RequestError(f"mutations {sorted(MODULAR_MUTATIONS)} are for modular directories")
        heads = model.head_modules()
        if "pooling_mode" in mutation:
            pooling = [m for m in heads.values() if isinstance(m, modular.Pooling)]
            pooling[0].mode = modular.pooling_mode_of({"pooling_mode": mutation["pooling_mode"]})
        for name, path in (mutation.get("dense_activation") or {}).items():
            if not isinstance(heads.get(name), modular.Dense):
                raise RequestError(f"mutation.dense_activation: module {name!r} is not a Dense")
            heads[name].activation_function = modular.activation_module(str(path))
        if "module_layer_norm_eps" in mutation:
            for module in heads.values():
                if isinstance(module, modular.LayerNorm):
                    module.norm.eps = float(mutation["module_layer_norm_eps"])
    if "logit_shift" in mutation:
        model = LogitShift(model, float(mutation["logit_shift"]))
    return model.eval()


def batch_of(request: Mapping[str, Any], model: nn.Module) -> PairBatch:
    if not isinstance(request, Mapping) or "input_ids" not in request:
        raise RequestError('the request needs "input_ids" (this reference takes token ids)')
    input_ids = _int_matrix(request, "input_ids")
    shape = [len(r) for r in input_ids]
    types = (_int_matrix(request, "token_type_ids") if "token_type_ids" in request
             else [[0] * n for n in shape])
    mask = (_int_matrix(request, "attention_mask") if "attention_mask" in request
            else [[1] * n for n in shape])
    for name, matrix in (("token_type_ids", types), ("attention_mask", mask)):
        if [len(r) for r in matrix] != shape:
            raise RequestError(f'"{name}" must have the shape of "input_ids"')
    config = model.config
    width = shape[0] if shape else 0
    limit = config.max_position_embeddings
    if config.model_type in ("roberta", "xlm-roberta"):
        limit -= config.pad_token_id + 1  # positions start after padding_idx
    if width > limit:
        raise RequestError(f"sequence length {width} exceeds the {limit} positions of this model")
    checks = [("input_ids", input_ids, config.vocab_size), ("attention_mask", mask, 2)]
    if hasattr(config, "type_vocab_size"):
        checks.append(("token_type_ids", types, config.type_vocab_size))
    for name, rows, bound in checks:
        for r, row in enumerate(rows):
            bad = [v for v in row if not 0 <= v < bound]
            if bad:
                raise RequestError(f'"{name}" row {r} has value {bad[0]} outside [0, {bound})')
    return PairBatch(input_ids, types, mask)


def _int_list(request: Mapping[str, Any], name: str, minimum: int) -> Optional[List[int]]:
    value = request.get(name)
    if value is None:
        return None
    if not (isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                            and n >= minimum for n in value)):
        raise RequestError(f'"{name}" must be a list of integers >= {minimum}, got {value!r}')
    return value


def _max_diff(a: List[List[float]], b: List[List[float]]) -> float:
    return max((abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)), default=0.0)


def predict(model_dir: str, request: Mapping[str, Any]) -> Dict[str, Any]:
    model = load_model(model_dir)
    batch = batch_of(request, model)
    sizes = _int_list(request, "batch_sizes", 1)
    threads = _int_list(request, "threads", 1)
    extra = _int_list(request, "extra_padding", 0)
    mutations = request.get("mutations")
    if mutations is not None and not isinstance(mutations, list):
        raise RequestError('"mutations" must be a list of mutation objects')
    logits = logits_of(model, batch)
    answer: Dict[str, Any] = {"model_type": model.config.model_type if hasattr(model.config, "model_type")
                              else "bert", "input_ids": batch.input_ids,
                              "token_type_ids": batch.token_type_ids,
                              "attention_mask": batch.attention_mask, "logits": logits}
    variants: List[List[List[float]]] = []
    if sizes is not None:
        answer["logits_by_batch_size"] = [in_batches(model, batch, n) for n in sizes]
        variants += answer["logits_by_batch_size"]
    if threads is not None:
        answer["logits_by_threads"] = [with_threads(model, batch, n) for n in threads]
        variants += answer["logits_by_threads"]
    if extra is not None:
        answer["logits_by_extra_padding"] = [logits_of(model, padded(batch, n, pad_id_of(model)))
                                             for n in extra]
        variants += answer["logits_by_extra_padding"]
    if request.get("reverse"):
        answer["logits_reversed"] = reversed_rows(model, batch)
        variants.append(answer["logits_reversed"])
    answer["spread"] = max((_max_diff(v, logits) for v in variants), default=0.0)
    if mutations is not None:
        answer["logits_by_mutation"] = [logits_of(mutated_model(model_dir, m), batch) for m in mutations]
    return answer


# ---------------------------------------------------------------------------------------------
# train: train_reference.py's loop over pre-tokenized rows
# ---------------------------------------------------------------------------------------------
class TokenIdTrainer(tr.ReferenceTrainer):
    """ReferenceTrainer whose micro-batches come from token ids instead of text pairs."""

    def __init__(self, model, rows, args, pos_weight=None, variant=None, mutation=None):
        super().__init__(model, None, rows, args, None, pos_weight, variant, mutation)
        self.pad_id = pad_id_of(model)

    def batch_loss(self, indices: List[int]) -> torch.Tensor:
        if self.variant.reverse_rows:
            indices = indices[::-1]
        rows = [self.rows[i] for i in indices]
        width = max(len(r["input_ids"]) for r in rows) + self.variant.pad
        ids, types, mask = [], [], []
        for r in rows:
            n = len(r["input_ids"])
            ids.append(list(r["input_ids"]) + [self.pad_id] * (width - n))
            types.append(list(r.get("token_type_ids") or [0] * n) + [0] * (width - n))
            mask.append([1] * n + [0] * (width - n))
        logits = self.model(torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long),
                            torch.tensor(types, dtype=torch.long)).view(-1)
        labels = torch.tensor([float(r["label"]) for r in rows], dtype=torch.float32)
        return self.loss_fn(logits, labels)


def check_token_rows(rows: Any, vocab_size: int) -> List[Mapping]:
    if not isinstance(rows, list) or not rows:
        raise RequestError('"rows" must be a non-empty list of {input_ids, label} objects')
    for i, row in enumerate(rows):
        ok = (isinstance(row, Mapping) and isinstance(row.get("input_ids"), list) and row["input_ids"]
              and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < vocab_size
                      for v in row["input_ids"])
              and isinstance(row.get("label"), (int, float)) and not isinstance(row["label"], bool))
        types = row.get("token_type_ids") if isinstance(row, Mapping) else None
        if ok and types is not None:
            ok = isinstance(types, list) and len(types) == len(row["input_ids"])
        if not ok:
            raise RequestError(f'rows[{i}] must be {{"input_ids": [ids < {vocab_size}], '
                               '"token_type_ids"?: [...], "label": number}')
    return rows


def run_training(request: Mapping[str, Any]) -> Dict[str, Any]:
    model_dir, out = request.get("model_dir"), request.get("out")
    if not isinstance(model_dir, str) or not isinstance(out, str):
        raise RequestError('"model_dir" and "out" must be paths (strings)')
    args = tr.parse_args(request.get("args"))
    pos_weight = request.get("pos_weight")
    if pos_weight is not None and (not isinstance(pos_weight, (int, float)) or isinstance(pos_weight, bool)):
        raise RequestError(f'"pos_weight" must be a number, got {pos_weight!r}')
    variant = tr.parse_options(request.get("variant"), tr.Variant, "variant")
    mutation = tr.parse_options(request.get("mutation"), tr.Mutation, "mutation")
    model = load_model(model_dir)
    rows = check_token_rows(request.get("rows"), model.config.vocab_size)
    threads = torch.get_num_threads()
    torch.set_num_threads(variant.threads)
    try:
        result = TokenIdTrainer(model, rows, args, pos_weight, variant, mutation).train()
    finally:
        torch.set_num_threads(threads)
    write_safetensors(out, model.state_dict(), {"format": "pt"})
    return result


def run_many(runs: Any) -> Dict[str, Any]:
    if not isinstance(runs, list):
        raise RequestError('"runs" must be a list of training requests')
    answers = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise RequestError(f"runs[{i}] must be a JSON object")
        try:
            answers.append(run_training(run))
        except ValueError as e:
            raise RequestError(f"runs[{i}]: {e}") from None
    return {"runs": answers}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    predict_cmd = commands.add_parser("predict", help="logits for a JSON request read from stdin")
    predict_cmd.add_argument("--model", required=True, help="Hugging Face model directory")
    commands.add_parser("train", help="a training run (or {runs: [...]}) read from stdin")
    args = parser.parse_args(argv)
    try:
        try:
            request = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise RequestError(f"stdin is not one JSON object ({e})") from None
        if args.command == "predict":
            answer = predict(args.model, request)
        else:
            if not isinstance(request, Mapping):
                raise RequestError("the request must be a JSON object")
            answer = run_many(request["runs"]) if "runs" in request else run_training(request)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
