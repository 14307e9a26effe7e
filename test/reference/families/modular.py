"""Sentence Transformers' modular CrossEncoder (ST >= 5.4, as the Ettin rerankers ship it) in plain
PyTorch: a directory is loaded as `CrossEncoder(dir)` loads it, module by module in modules.json
order, each from its own folder's config.json and weights, and run as ST's forward chain:

    modules.json: [{"idx", "name", "path", "type"}, ...]
    0 Transformer (path ""): the base model as AutoModel (root config.json, root model.safetensors
      with AutoModel names: ModernBertModel's `embeddings.tok_embeddings.weight`, `layers.0...`,
      `final_norm.weight`), sentence_bert_config.json with transformer_task "feature-extraction":
      features["token_embeddings"] = last_hidden_state
    Pooling (`sentence_transformers.sentence_transformer.modules.pooling.Pooling`): config
      `pooling_mode` (a mode or a list; legacy `pooling_mode_*` booleans converted as
      `_convert_legacy_pooling_kwargs` does: the active ones in ST's order, none -> "mean"),
      `embedding_dimension` (legacy `word_embedding_dimension`), `include_prompt`. No weights.
      features["sentence_embedding"] = cat of Pooling._forward_padded's vectors:
        cls  = token_embeddings gathered at attention_mask.int().argmax(1) (the first real token)
        mean = (tokens * mask).sum(1) / clamp(mask.sum(1), min=1e-9)   (and the other modes)
    Dense (`sentence_transformers.base.modules.dense.Dense`): config in_features, out_features,
      bias (default True), activation_function (a torch class path, instantiated with no
      arguments as import_from_string(path)(); default Tanh), module_input_name (default
      "sentence_embedding"), module_output_name (default = input), use_residual (default False).
      Weights `linear.weight` [out, in], `linear.bias` [out] in the folder's model.safetensors
      (else pytorch_model.bin). out = activation(linear(x)) (+ x when use_residual).
    LayerNorm (`sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm`): config
      dimension; nn.LayerNorm(dimension) (eps 1e-5, with bias); weights `norm.weight`, `norm.bias`.
      sentence_embedding = norm(sentence_embedding).
    The scores are features["scores"] (CrossEncoder.predict reads them; then activation_fn).

The model's modules are registered under their modules.json names, so its state_dict names are
"0.<AutoModel name>", "2.linear.weight", "3.norm.bias", ... (the native model's too).
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn

from bert_model import BIN_FILE, SAFETENSORS_FILE, CheckpointError, ConfigError, read_checkpoint

from families.common import load_weights, read_config_json

MODULES_FILE = "modules.json"
TRANSFORMER_TYPE = "sentence_transformers.base.modules.transformer.Transformer"
POOLING_TYPE = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
DENSE_TYPE = "sentence_transformers.base.modules.dense.Dense"
LAYER_NORM_TYPE = "sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm"

# The AutoModel class a family's base model is saved as, and the prefix its weights carry inside
# the family's ForSequenceClassification.
BASE_ARCHITECTURES = {"modernbert": "ModernBertModel", "roberta": "RobertaModel",
                      "xlm-roberta": "XLMRobertaModel", "electra": "ElectraModel"}
BASE_PREFIXES = {"modernbert": "model.", "roberta": "roberta.", "xlm-roberta": "roberta.",
                 "electra": "electra."}

POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
LEGACY_POOLING_KEYS = (("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
                       ("pooling_mode_mean_tokens", "mean"),
                       ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
                       ("pooling_mode_weightedmean_tokens", "weightedmean"),
                       ("pooling_mode_lasttoken", "lasttoken"))


def class_name(module_type: str) -> str:
    return module_type.rsplit(".", 1)[-1]


def is_modular(directory: str) -> bool:
    """A modules.json with more than the Transformer module (a plain classifier has just that)."""
    path = os.path.join(directory, MODULES_FILE)
    if not os.path.exists(path):
        return False
    with open(path, encoding="utf-8") as f:
        return len(json.load(f)) > 1


def pooling_mode_of(config: Mapping[str, Any]):
    """Pooling.load_config + __init__: the mode (a str, or a tuple of several)."""
    mode = config.get("pooling_mode")
    if mode is None:
        active = tuple(m for key, m in LEGACY_POOLING_KEYS if config.get(key, False))
        mode = active or ("mean",)
    if isinstance(mode, (list, tuple)):
        mode = mode[0] if len(mode) == 1 else tuple(mode)
    for m in (mode,) if isinstance(mode, str) else mode:
        if m not in POOLING_MODES:
            raise ConfigError(f"invalid pooling mode {m!r}")
    return mode


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def module_weights(folder: str) -> Dict[str, torch.Tensor]:
    """load_torch_weights: the folder's model.safetensors, else pytorch_model.bin."""
    return read_checkpoint(folder)[1]


class Pooling(nn.Module):
    def __init__(self, config: Mapping[str, Any]):
        super().__init__()
        self.mode = pooling_mode_of(config)
        self.include_prompt = config.get("include_prompt", True)

    def forward(self, features: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        tokens, mask01 = features["token_embeddings"], features["attention_mask"]
        out: List[torch.Tensor] = []
        for mode in (self.mode,) if isinstance(self.mode, str) else self.mode:
            mask = mask01.unsqueeze(-1).expand_as(tokens).to(tokens.dtype)
            if mode == "cls":
                first = mask01.to(torch.int).argmax(dim=1)
                out.append(torch.gather(tokens, 1, first.unsqueeze(-1).unsqueeze(1).expand(
                    -1, 1, tokens.shape[-1])).squeeze(1))
            elif mode == "max":
                out.append(tokens.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                total = (tokens * mask).sum(dim=1)
                count = torch.clamp(mask.sum(dim=1), min=1e-9)
                out.append(total / count if mode == "mean" else total / torch.sqrt(count))
            elif mode == "weightedmean":
                weights = torch.arange(1, tokens.shape[1] + 1).unsqueeze(0).unsqueeze(-1).expand_as(
                    tokens).to(tokens.dtype)
                weighted = mask * weights
                out.append((tokens * weighted).sum(dim=1) / torch.clamp(weighted.sum(dim=1), min=1e-9))
            else:  # lasttoken
                seq = tokens.shape[1]
                values, indices = mask01.flip(1).max(1)
                indices = torch.where(values == 0, seq - 1, indices)
                gather = (seq - indices - 1).unsqueeze(-1).unsqueeze(1).expand(-1, 1, tokens.shape[-1])
                out.append(torch.gather(tokens * mask, 1, gather).squeeze(dim=1))
        features["sentence_embedding"] = torch.cat(out, dim=-1)
        return features


def activation_module(path: str) -> nn.Module:
    """Dense.load: import_from_string(path)() for a `torch.` class path."""
    if not path.startswith("torch."):
        raise ConfigError(f"activation_function {path!r} is not a torch class (untrusted code)")
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)()


class Dense(nn.Module):
    def __init__(self, config: Mapping[str, Any]):
        super().__init__()
        self.in_features, self.out_features = config["in_features"], config["out_features"]
        self.activation_function = activation_module(
            config.get("activation_function", "torch.nn.modules.activation.Tanh"))
        self.linear = nn.Linear(self.in_features, self.out_features, bias=config.get("bias", True))
        self.module_input_name = config.get("module_input_name", "sentence_embedding")
        self.module_output_name = config.get("module_output_name") or self.module_input_name
        self.use_residual = config.get("use_residual", False)
        if self.use_residual and self.in_features != self.out_features:
            self.residual = nn.Linear(self.in_features, self.out_features, bias=False)

    def forward(self, features: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        x = features[self.module_input_name]
        out = self.activation_function(self.linear(x))
        if self.use_residual:
            out = out + (x if self.in_features == self.out_features else self.residual(x))
        features[self.module_output_name] = out
        return features


class LayerNorm(nn.Module):
    def __init__(self, config: Mapping[str, Any]):
        super().__init__()
        self.norm = nn.LayerNorm(config["dimension"])

    def forward(self, features: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features


class Transformer(nn.Module):
    """The Transformer module: AutoModel(...).last_hidden_state as token_embeddings."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.auto_model = base

    def forward(self, features: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        base = self.auto_model
        if base.config.model_type == "modernbert":
            hidden = base(features["input_ids"], features["attention_mask"])
        else:
            hidden = base(features["input_ids"], features["attention_mask"], features["token_type_ids"])
        features["token_embeddings"] = hidden
        return features


class ModularCrossEncoder(nn.Module):
    """The module chain; forward(input_ids, attention_mask, token_type_ids) -> scores [batch, n].
    Parameters are named "<module name>.<name inside the module>", the Transformer's without its
    `auto_model.` (the names of the directory's files, and of the native model)."""

    def __init__(self, entries: List[Mapping[str, Any]], modules: List[nn.Module]):
        super().__init__()
        self.entries = entries
        self.config = modules[0].auto_model.config
        self.add_module(entries[0]["name"], modules[0].auto_model)
        for entry, module in zip(entries[1:], modules[1:]):
            self.add_module(entry["name"], module)
        self.chain = modules  # a plain list: each module is registered once, under its name
        last = modules[-1]
        self.num_labels = last.out_features

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        features = {"input_ids": input_ids, "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids}
        for module in self.chain:
            features = module(features)
        return features["scores"]

    def head_modules(self) -> Dict[str, nn.Module]:
        return {e["name"]: m for e, m in zip(self.entries[1:], self.chain[1:])}


def _base_model(directory: str, config_overrides: Optional[Mapping[str, Any]]) -> nn.Module:
    from families.registry import FAMILIES

    raw = read_config_json(directory)
    model_type = raw.get("model_type")
    if model_type not in BASE_ARCHITECTURES:
        raise ConfigError(f"{directory}/config.json: model_type {model_type!r} has no base model "
                          f"here (supported: {sorted(BASE_ARCHITECTURES)})")
    family = FAMILIES[model_type]
    config = family.config_class.from_dict(raw, source=f"{directory}/config.json")
    if config_overrides:
        config = config.replace(**config_overrides)
    full = family.model_class(config)
    prefix = BASE_PREFIXES[model_type].rstrip(".")
    base = getattr(full, prefix)
    path, state = read_checkpoint(directory)
    ignored = frozenset(k[len(prefix) + 1:] for k in family.ignored_keys if k.startswith(prefix + "."))
    # An AutoModel checkpoint of RoBERTa / ELECTRA may carry a pooler ST never runs.
    state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
    load_weights(base, state, path, ignored)
    return base


def load_modular(directory: str, config_overrides: Optional[Mapping[str, Any]] = None) -> ModularCrossEncoder:
    """CrossEncoder(directory) for a modular directory, in eval mode (strict weights)."""
    entries = read_json(os.path.join(directory, MODULES_FILE))
    entries = sorted(entries, key=lambda e: e["idx"])
    modules: List[nn.Module] = []
    for i, entry in enumerate(entries):
        kind = class_name(entry["type"])
        folder = os.path.join(directory, entry["path"])
        if i == 0:
            if kind != "Transformer":
                raise ConfigError(f"{directory}: module 0 is a {kind}, not a Transformer")
            st_config = read_json(os.path.join(folder, "sentence_bert_config.json"))
            if st_config.get("transformer_task", "feature-extraction") != "feature-extraction":
                raise ConfigError(f"{directory}: the Transformer is not feature-extraction")
            modules.append(Transformer(_base_model(folder, config_overrides)))
            continue
        config = read_json(os.path.join(folder, "config.json"))
        if kind == "Pooling":
            modules.append(Pooling(config))
            continue
        module = Dense(config) if kind == "Dense" else LayerNorm(config) if kind == "LayerNorm" else None
        if module is None:
            raise ConfigError(f"{directory}: module {entry['name']} ({entry['type']}) is not supported here")
        weights_path = os.path.join(folder, SAFETENSORS_FILE)
        if not os.path.exists(weights_path):
            weights_path = os.path.join(folder, BIN_FILE)
        load_weights(module, module_weights(folder), weights_path)
        modules.append(module)
    if not isinstance(modules[-1], Dense) or modules[-1].module_output_name != "scores":
        raise CheckpointError(f"{directory}: the last module must be a Dense writing 'scores'")
    return ModularCrossEncoder(entries, modules).eval()

