"""ElectraForSequenceClassification in plain PyTorch, as transformers 4.4x-4.5x
`models/electra/modeling_electra.py` computes it with eager attention.

State dict (HF's names): electra.embeddings.{word_embeddings, position_embeddings,
token_type_embeddings}.weight ([*, embedding_size]), electra.embeddings.LayerNorm.{weight,bias}
(embedding_size wide), electra.embeddings_project.{weight,bias} (only when embedding_size !=
hidden_size), electra.encoder.layer.N.* (BERT's layer, reused from bert_model.py),
classifier.dense.{weight,bias}, classifier.out_proj.{weight,bias}. No pooler.

Module order of a forward pass (train mode: Dropout masks drawn in this order):
    1. embeddings: positions 0..seq-1 (arange, as BERT); (word + token_type) + position;
       LayerNorm (eps layer_norm_eps, embedding_size wide); dropout #1 (hidden_dropout_prob)
    2. embeddings_project (Linear embedding_size -> hidden_size), if present; no dropout, no norm
    3. per layer: BERT's (attention-prob dropout, attention-output dropout, FFN-output dropout)
    4. classifier (ElectraClassificationHead): x = h[:, 0]; dropout; dense; GELU; dropout (same
       module, second draw); out_proj. The activation is `get_activation("gelu")` - the exact,
       erf GELU, fixed: NOT config.hidden_act and NOT tanh ("although BERT uses tanh here, it
       seems Electra authors used gelu here"). The head's dropout p is classifier_dropout when
       set, else hidden_dropout_prob.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from bert_model import ACT2FN, BertEncoder, extended_attention_mask

from families.common import FamilyConfig, bert_style_init, check_activation


class ElectraConfig(FamilyConfig):
    """transformers' ElectraConfig defaults (the summary_* fields are kept for config.json only:
    sequence classification does not use them)."""

    MODEL_TYPES = ("electra",)
    ARCHITECTURE = "ElectraForSequenceClassification"
    DEFAULTS = dict(
        vocab_size=30522, embedding_size=128, hidden_size=256, num_hidden_layers=12,
        num_attention_heads=4, intermediate_size=1024, hidden_act="gelu", hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
        initializer_range=0.02, layer_norm_eps=1e-12, summary_type="first", summary_use_proj=True,
        summary_activation="gelu", summary_last_dropout=0.1, pad_token_id=0,
        position_embedding_type="absolute", use_cache=True, classifier_dropout=None,
    )
    POSITIVE_INTS = FamilyConfig.POSITIVE_INTS + ("type_vocab_size", "embedding_size")

    def _validate(self, fail) -> None:
        check_activation(self, "hidden_act", fail)
        if self.position_embedding_type != "absolute":
            fail(f"position_embedding_type {self.position_embedding_type!r} is not supported")
        if not (isinstance(self.pad_token_id, int) and 0 <= self.pad_token_id < self.vocab_size):
            fail(f"pad_token_id {self.pad_token_id!r} is outside the vocabulary")


class ElectraEmbeddings(nn.Module):
    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.embedding_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        position_ids = torch.arange(input_ids.size(1))[None, :]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class ElectraModel(nn.Module):
    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.config = config
        self.embeddings = ElectraEmbeddings(config)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        self.encoder = BertEncoder(config)

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        mask = extended_attention_mask(attention_mask, self.embeddings.word_embeddings.weight.dtype)
        hidden_states = self.embeddings(input_ids, token_type_ids)
        if hasattr(self, "embeddings_project"):
            hidden_states = self.embeddings_project(hidden_states)
        return self.encoder(hidden_states, mask)


class ElectraClassificationHead(nn.Module):
    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        p = (config.classifier_dropout if config.classifier_dropout is not None
             else config.hidden_dropout_prob)
        self.dropout = nn.Dropout(p)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)
        # get_activation("gelu") = GELUActivation = F.gelu (erf). Swappable for mutation checks.
        self.activation_name = "gelu"

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features[:, 0, :])  # [CLS]
        x = self.dense(x)
        x = F.gelu(x) if self.activation_name == "gelu" else ACT2FN[self.activation_name](x)
        return self.out_proj(self.dropout(x))


class ElectraForSequenceClassification(nn.Module):
    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
        self.classifier = ElectraClassificationHead(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits [batch, num_labels]."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        return self.classifier(self.electra(input_ids, attention_mask, token_type_ids))


def hf_init_weights(model: ElectraForSequenceClassification, seed: int) -> None:
    """post_init: ElectraPreTrainedModel._init_weights (BERT's) over model.apply's post-order."""
    torch.manual_seed(seed)
    std = model.config.initializer_range
    model.apply(lambda m: bert_style_init(m, std))
