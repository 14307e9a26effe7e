"""model_type -> the family's config class, model class and HF init; loading a model directory."""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Type

import torch
from torch import nn

import bert_model
from bert_model import ConfigError, read_checkpoint

from families import electra, modernbert, roberta
from families.common import FamilyConfig, load_weights, read_config_json


@dataclasses.dataclass(frozen=True)
class Family:
    model_types: tuple
    config_class: Type[FamilyConfig]
    model_class: Type[nn.Module]
    hf_init: Callable[[nn.Module, int], None]
    # Buffers older checkpoints saved (HF made them non-persistent in 4.31); accepted, unused.
    ignored_keys: frozenset


FAMILIES: Dict[str, Family] = {}
for _family in (
    Family(("roberta", "xlm-roberta"), roberta.RobertaConfig, roberta.RobertaForSequenceClassification,
           roberta.hf_init_weights,
           frozenset({"roberta.embeddings.position_ids", "roberta.embeddings.token_type_ids"})),
    Family(("electra",), electra.ElectraConfig, electra.ElectraForSequenceClassification,
           electra.hf_init_weights,
           frozenset({"electra.embeddings.position_ids", "electra.embeddings.token_type_ids"})),
    Family(("modernbert",), modernbert.ModernBertConfig,
           modernbert.ModernBertForSequenceClassification, modernbert.hf_init_weights, frozenset()),
):
    for _type in _family.model_types:
        FAMILIES[_type] = _family


def model_type_of(directory: str) -> str:
    raw = read_config_json(directory)
    return raw.get("model_type", "bert") if isinstance(raw, dict) else "bert"


def load_config(directory: str) -> FamilyConfig:
    raw = read_config_json(directory)
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type not in FAMILIES:
        raise ConfigError(f"{directory}/config.json: model_type {model_type!r} is not one of "
                          f"{sorted(FAMILIES)} (bert: bert_model.load_model)")
    return FAMILIES[model_type].config_class.from_dict(raw, source=f"{directory}/config.json")


def build_model(config: FamilyConfig) -> nn.Module:
    return FAMILIES[config.model_type].model_class(config)


def load_model(directory: str, dtype: torch.dtype = torch.float32, config_overrides=None) -> nn.Module:
    """Any supported model directory (bert too), in eval mode. `config_overrides` (a dict of config
    fields) builds the model from a changed config with the same weights (a mutation)."""
    if model_type_of(directory) == "bert":
        if config_overrides:
            raise ConfigError("config overrides are not supported for bert")
        return bert_model.load_model(directory, dtype)
    config = load_config(directory)
    if config_overrides:
        config = config.replace(**config_overrides)
    model = build_model(config).to(dtype)
    path, state = read_checkpoint(directory)
    load_weights(model, state, path, FAMILIES[config.model_type].ignored_keys, dtype)
    return model.eval()
