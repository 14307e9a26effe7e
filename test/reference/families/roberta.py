"""RobertaForSequenceClassification in plain PyTorch, as transformers 4.4x-4.5x
`models/roberta/modeling_roberta.py` computes it with eager attention. XLM-RoBERTa
(`models/xlm_roberta/modeling_xlm_roberta.py`) is a "Copied from" of every class here, so one
implementation serves both model types; only config.json's model_type (and the config class's
default vocab_size) differ.

State dict (HF's names): roberta.embeddings.{word_embeddings, position_embeddings,
token_type_embeddings}.weight, roberta.embeddings.LayerNorm.{weight,bias},
roberta.encoder.layer.N.* (BERT's layer, reused from bert_model.py), classifier.dense.{weight,bias},
classifier.out_proj.{weight,bias}. No pooler: RobertaForSequenceClassification builds
RobertaModel(add_pooling_layer=False).

Module order of a forward pass (train mode: each Dropout draws its mask from the global CPU
generator in this order, the order of transformers' modules):
    1. embeddings: position_ids = create_position_ids_from_input_ids(input_ids, pad_token_id)
       (NOT from attention_mask); token_type_ids = zeros unless given (RobertaTokenizerFast does
       not return them); (word + token_type) + position; LayerNorm; dropout #1
    2. per layer: self-attention (scores / sqrt(head_size) + (1 - mask) * finfo.min; softmax;
       dropout on the probabilities), output dense; dropout; LayerNorm(x + input);
       intermediate dense + hidden_act; output dense; dropout; LayerNorm(x + attention_output)
    3. classifier (RobertaClassificationHead): x = h[:, 0]; dropout; dense; tanh; dropout (the
       same Dropout module, a second draw); out_proj.
The head's dropout p is classifier_dropout when set, else hidden_dropout_prob.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from bert_model import BertEncoder, extended_attention_mask

from families.common import FamilyConfig, bert_style_init, check_activation

_ROBERTA_DEFAULTS = dict(
    vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    position_embedding_type="absolute", use_cache=True, classifier_dropout=None,
)


class RobertaConfig(FamilyConfig):
    """transformers' RobertaConfig / XLMRobertaConfig defaults (XLMRobertaConfig's vocab_size
    default is 30522; a config.json always has vocab_size, so only `DEFAULTS` differs)."""

    MODEL_TYPES = ("roberta", "xlm-roberta")
    DEFAULTS = _ROBERTA_DEFAULTS
    POSITIVE_INTS = FamilyConfig.POSITIVE_INTS + ("type_vocab_size",)

    @property
    def ARCHITECTURE(self) -> str:  # noqa: N802 (the class attribute of the other families)
        return ("XLMRobertaForSequenceClassification" if self.model_type == "xlm-roberta"
                else "RobertaForSequenceClassification")

    def _validate(self, fail) -> None:
        check_activation(self, "hidden_act", fail)
        if self.position_embedding_type != "absolute":
            fail(f"position_embedding_type {self.position_embedding_type!r} is not supported")
        if not (isinstance(self.pad_token_id, int) and 0 <= self.pad_token_id < self.vocab_size):
            fail(f"pad_token_id {self.pad_token_id!r} is outside the vocabulary")
        if self.max_position_embeddings <= self.pad_token_id + 1:
            fail("max_position_embeddings must exceed pad_token_id + 1 (positions start there)")


XLM_ROBERTA_DEFAULTS = dict(_ROBERTA_DEFAULTS, vocab_size=30522)


def create_position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int,
                                       past_key_values_length: int = 0) -> torch.Tensor:
    """modeling_roberta.create_position_ids_from_input_ids: non-pad tokens get padding_idx + 1,
    padding_idx + 2, ... in order; pad tokens (input_ids == padding_idx, wherever they are) get
    padding_idx. A sequence of n real tokens uses positions padding_idx + 1 .. padding_idx + n, so
    max_position_embeddings 514 allows 512 tokens."""
    mask = input_ids.ne(padding_idx).int()
    incremental_indices = (torch.cumsum(mask, dim=1).type_as(mask) + past_key_values_length) * mask
    return incremental_indices.long() + padding_idx


class RobertaEmbeddings(nn.Module):
    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size,
                                                padding_idx=self.padding_idx)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        # A deliberate bug for mutation checks: BERT's arange positions instead of RoBERTa's rule.
        self.arange_positions = False

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        if self.arange_positions:
            position_ids = torch.arange(input_ids.size(1))[None, :].expand_as(input_ids)
        else:
            position_ids = create_position_ids_from_input_ids(input_ids, self.padding_idx)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class RobertaModel(nn.Module):
    """RobertaModel(add_pooling_layer=False): embeddings + BERT's encoder."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.config = config
        self.embeddings = RobertaEmbeddings(config)
        self.encoder = BertEncoder(config)

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        mask = extended_attention_mask(attention_mask, self.embeddings.word_embeddings.weight.dtype)
        return self.encoder(self.embeddings(input_ids, token_type_ids), mask)


class RobertaClassificationHead(nn.Module):
    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        p = (config.classifier_dropout if config.classifier_dropout is not None
             else config.hidden_dropout_prob)
        self.dropout = nn.Dropout(p)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features[:, 0, :])  # <s>
        x = torch.tanh(self.dense(x))
        return self.out_proj(self.dropout(x))


class RobertaForSequenceClassification(nn.Module):
    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.roberta = RobertaModel(config)
        self.classifier = RobertaClassificationHead(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits [batch, num_labels]."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)  # the registered zeros buffer
        return self.classifier(self.roberta(input_ids, attention_mask, token_type_ids))


def hf_init_weights(model: RobertaForSequenceClassification, seed: int) -> None:
    """post_init: RobertaPreTrainedModel._init_weights (BERT's) over model.apply's post-order,
    from torch.manual_seed(seed). The padding_idx rows of word_embeddings and position_embeddings
    are zero afterwards."""
    torch.manual_seed(seed)
    std = model.config.initializer_range
    model.apply(lambda m: bert_style_init(m, std))
