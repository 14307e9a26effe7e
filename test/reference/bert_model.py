"""BertForSequenceClassification in plain PyTorch, block for block as Hugging Face's
`transformers/models/bert/modeling_bert.py` with eager attention.

Submodules carry HF's names, so `state_dict()` keys are the checkpoint keys
(`bert.encoder.layer.0.attention.self.query.weight`, ..., `classifier.weight`) with no mapping
table, and each `forward` does HF's operations in HF's order (same additions, same mask constant),
so logits agree with `transformers` to float32 rounding. Only what a BERT cross-encoder uses is
kept: absolute positions, no decoder, no cross-attention, no head mask, no cache.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from safetensors_io import read_safetensors, write_safetensors

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
BIN_FILE = "pytorch_model.bin"

# Recorded in the config.json files we write, as `save_pretrained` records its own version.
TRANSFORMERS_VERSION = "4.48.0"

# HF saved this buffer in checkpoints until it became non-persistent (transformers 4.31); loaders
# must accept checkpoints with and without it.
IGNORED_CHECKPOINT_KEYS = frozenset({"bert.embeddings.position_ids"})


# ---------------------------------------------------------------------------------------------
# Activations: HF's ACT2FN (transformers/activations.py), same formulas, same operation order.
# ---------------------------------------------------------------------------------------------
def _gelu_new(x: torch.Tensor) -> torch.Tensor:
    # NewGELUActivation: the tanh approximation written out, as in the Google BERT / GPT-2 code.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def _gelu_python(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


ACT2FN = {
    "gelu": F.gelu,  # exact, erf-based
    "gelu_python": _gelu_python,
    "gelu_new": _gelu_new,
    "gelu_fast": _gelu_fast,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "mish": F.mish,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
class ConfigError(ValueError):
    """A config.json this reference cannot honour; the message names the field."""


@dataclasses.dataclass
class BertConfig:
    """The fields of HF's BertConfig that affect a BertForSequenceClassification, HF defaults."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: Optional[float] = None
    # PretrainedConfig's default head is two labels, LABEL_0 and LABEL_1.
    id2label: Dict[int, str] = dataclasses.field(default_factory=lambda: {0: "LABEL_0", 1: "LABEL_1"})
    # Sentence Transformers' CrossEncoder settings (e.g. activation_fn), kept verbatim.
    sentence_transformers: Optional[Dict[str, Any]] = None

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "config") -> "BertConfig":
        """Builds a config from a parsed config.json, as `BertConfig.from_dict` reads it.

        Absent fields take HF's defaults; unknown fields are ignored, as HF keeps them as inert
        attributes. Labels: `id2label` wins when present, else `num_labels`, else 2.
        """

        def fail(problem: str):
            raise ConfigError(f"{source}: {problem}")

        if not isinstance(raw, Mapping):
            fail("must be a JSON object")
        if raw.get("model_type", "bert") != "bert":
            fail(f"model_type is {raw['model_type']!r}, expected 'bert'")

        values: Dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name in raw and field.name != "id2label":
                values[field.name] = raw[field.name]
        values["id2label"] = _labels_from(raw, fail)
        config = cls(**values)
        config._validate(fail)
        return config

    def _validate(self, fail) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                fail(f"{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            fail(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                 f"{self.num_attention_heads}")
        if not isinstance(self.hidden_act, str) or self.hidden_act not in ACT2FN:
            fail(f"hidden_act {self.hidden_act!r} is not one of {sorted(ACT2FN)}")
        if self.position_embedding_type != "absolute":
            fail(f"position_embedding_type {self.position_embedding_type!r} is not supported "
                 "(only 'absolute')")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps",
                     "initializer_range"):
            if not _is_number(getattr(self, name)):
                fail(f"{name} must be a number, got {getattr(self, name)!r}")
        if self.classifier_dropout is not None and not _is_number(self.classifier_dropout):
            fail(f"classifier_dropout must be a number or null, got {self.classifier_dropout!r}")
        if self.sentence_transformers is not None and not isinstance(self.sentence_transformers,
                                                                      dict):
            fail("sentence_transformers must be an object")
        if self.pad_token_id is not None and not (_is_int(self.pad_token_id)
                                                  and 0 <= self.pad_token_id < self.vocab_size):
            fail(f"pad_token_id {self.pad_token_id!r} is outside the vocabulary")

    def to_hf_dict(self, torch_dtype: str = "float32") -> Dict[str, Any]:
        """The complete config.json that `save_pretrained` writes for this model."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if d["sentence_transformers"] is None:
            del d["sentence_transformers"]
        d["id2label"] = {str(i): label for i, label in sorted(self.id2label.items())}
        d["label2id"] = {label: i for i, label in sorted(self.id2label.items())}
        d.update(
            architectures=["BertForSequenceClassification"],
            model_type="bert",
            torch_dtype=torch_dtype,
            transformers_version=TRANSFORMERS_VERSION,
            use_cache=True,
        )
        return d


def _labels_from(raw: Mapping[str, Any], fail) -> Dict[int, str]:
    id2label = raw.get("id2label")
    if id2label is not None:
        if not isinstance(id2label, Mapping) or not id2label:
            fail("id2label must be a non-empty object")
        try:
            labels = {int(k): str(v) for k, v in id2label.items()}
        except ValueError:
            fail(f"id2label keys must be integers, got {sorted(id2label)}")
        if sorted(labels) != list(range(len(labels))):
            fail(f"id2label keys must be 0..{len(labels) - 1}, got {sorted(labels)}")
        return labels
    num_labels = raw.get("num_labels", 2)
    if not _is_int(num_labels) or num_labels <= 0:
        fail(f"num_labels must be a positive integer, got {num_labels!r}")
    return {i: f"LABEL_{i}" for i in range(num_labels)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Modules (names are the checkpoint format)
# ---------------------------------------------------------------------------------------------
class BertEmbeddings(nn.Module):
    """word + token type + absolute position embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids",
                             torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        position_ids = self.position_ids[:, : input_ids.size(1)]
        # HF's order: (word + token_type) + position.
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.head_size
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, seq, all_head] -> [batch, heads, seq, head_size]."""
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        query = self.transpose_for_scores(self.query(hidden_states))
        key = self.transpose_for_scores(self.key(hidden_states))
        value = self.transpose_for_scores(self.value(hidden_states))

        scores = torch.matmul(query, key.transpose(-1, -2))
        scores = scores / math.sqrt(self.attention_head_size)
        scores = scores + attention_mask  # additive: 0 to attend, finfo.min to ignore
        probs = self.dropout(F.softmax(scores, dim=-1))

        context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (self.all_head_size,))


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            hidden_states = layer(hidden_states, attention_mask)
        return hidden_states


class BertPooler(nn.Module):
    """dense + tanh of the first ([CLS]) token."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, seq] of 1/0 -> [batch, 1, 1, seq] additive mask, as HF's get_extended_attention_mask."""
    mask = attention_mask[:, None, None, :].to(dtype=dtype)
    return (1.0 - mask) * torch.finfo(dtype).min


class BertModel(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Returns (sequence_output [batch, seq, hidden], pooled_output [batch, hidden])."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        dtype = self.embeddings.word_embeddings.weight.dtype
        mask = extended_attention_mask(attention_mask, dtype)
        sequence_output = self.encoder(self.embeddings(input_ids, token_type_ids), mask)
        return sequence_output, self.pooler(sequence_output)


class BertForSequenceClassification(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        dropout = (config.classifier_dropout if config.classifier_dropout is not None
                   else config.hidden_dropout_prob)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Returns logits [batch, num_labels]."""
        _, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.dropout(pooled_output))


# ---------------------------------------------------------------------------------------------
# Hugging Face model directories
# ---------------------------------------------------------------------------------------------
class CheckpointError(ValueError):
    """Weights that do not fit the config; the message names the file and the keys."""


def load_config(directory: str) -> BertConfig:
    path = os.path.join(directory, CONFIG_FILE)
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
    return BertConfig.from_dict(raw, source=path)


def read_checkpoint(directory: str) -> Tuple[str, Dict[str, torch.Tensor]]:
    """Returns (path, state dict) from model.safetensors, else pytorch_model.bin (as HF prefers)."""
    path = os.path.join(directory, SAFETENSORS_FILE)
    if os.path.exists(path):
        return path, read_safetensors(path)
    path = os.path.join(directory, BIN_FILE)
    if os.path.exists(path):
        # weights_only: tensors and containers only, no arbitrary code from the pickle.
        return path, dict(torch.load(path, map_location="cpu", weights_only=True))
    raise CheckpointError(f"{directory}: neither {SAFETENSORS_FILE} nor {BIN_FILE} exists")


def fix_checkpoint_key(key: str) -> str:
    """HF renames TF-era LayerNorm names on load (`_fix_state_dict_key_on_load`)."""
    if key.endswith("LayerNorm.gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[: -len("beta")] + "bias"
    return key


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str,
                 dtype: torch.dtype = torch.float32) -> None:
    """Copies `state` into `model`, strictly: every key present, none extra, shapes equal.

    Floating tensors are converted to `dtype` (an F16 checkpoint is upcast, as
    `from_pretrained(torch_dtype=torch.float32)` does).
    """
    state = {fix_checkpoint_key(k): v for k, v in state.items() if k not in IGNORED_CHECKPOINT_KEYS}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: missing keys {missing}, unexpected keys {unexpected}")
    converted = {}
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{source}: {key} has shape {list(tensor.shape)}, the config "
                                  f"needs {list(expected[key].shape)}")
        if not tensor.is_floating_point():
            raise CheckpointError(f"{source}: {key} has non-float dtype {tensor.dtype}")
        converted[key] = tensor.to(dtype)
    model.load_state_dict(converted, strict=True)


def load_model(directory: str, dtype: torch.dtype = torch.float32) -> BertForSequenceClassification:
    """Loads config.json + weights from a HF model directory; the model is returned in eval mode."""
    config = load_config(directory)
    model = BertForSequenceClassification(config).to(dtype)
    path, state = read_checkpoint(directory)
    load_weights(model, state, path, dtype)
    return model.eval()


def save_model(model: BertForSequenceClassification, directory: str,
               dtype: torch.dtype = torch.float32) -> None:
    """Writes config.json and model.safetensors as `save_pretrained` does (weights cast to dtype)."""
    torch_dtype = str(dtype).replace("torch.", "")
    write_config(model.config, directory, torch_dtype)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(directory, SAFETENSORS_FILE), state, {"format": "pt"})


def write_config(config: BertConfig, directory: str, torch_dtype: str = "float32") -> None:
    # HF's to_json_string: indent 2, sorted keys, trailing newline.
    text = json.dumps(config.to_hf_dict(torch_dtype), indent=2, sort_keys=True) + "\n"
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        f.write(text)
