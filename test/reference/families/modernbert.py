"""ModernBertForSequenceClassification in plain PyTorch, as transformers 4.48-4.5x
`models/modernbert/modeling_modernbert.py` computes it with attn_implementation "eager" (the
padded path: global 4-D mask and sliding-window mask; NOT the unpadded flash_attention_2 path;
"sdpa" is the same maths, F.scaled_dot_product_attention with the same additive masks).

State dict (HF's names; no biases with the defaults attention_bias = mlp_bias = norm_bias =
classifier_bias = False; `classifier.bias` always exists):
    model.embeddings.tok_embeddings.weight, model.embeddings.norm.weight,
    model.layers.N.attn_norm.weight (N > 0 only: layer 0's attn_norm is nn.Identity),
    model.layers.N.attn.Wqkv.weight [3 * hidden, hidden], model.layers.N.attn.Wo.weight,
    model.layers.N.mlp_norm.weight, model.layers.N.mlp.Wi.weight [2 * intermediate, hidden],
    model.layers.N.mlp.Wo.weight [hidden, intermediate], model.final_norm.weight,
    head.dense.weight, head.norm.weight, classifier.weight, classifier.bias

Module order of a forward pass (train mode: a Dropout with p > 0 draws its mask from the global
CPU generator in this order; with p == 0, the default for all four dropouts, nothing is drawn):
    1. embeddings: tok_embeddings(input_ids); norm; drop (embedding_dropout). No position
       embeddings: positions enter through rotary embeddings, position_ids = arange(seq) (so right
       padding only).
    2. masks: global = _prepare_4d_attention_mask (0 where attended, finfo.min where the key is
       padding, [batch, 1, seq, seq]); sliding = global, plus finfo.min where
       |i - j| > local_attention // 2.
    3. per layer N (global when N % global_attn_every_n_layers == 0, else local: sliding mask
       and rope theta local_rope_theta; global layers use global_rope_theta):
       a. attn_norm (Identity for N = 0); Wqkv; view [b, s, 3, heads, head_dim];
          transpose(3, 1).unbind(2) -> q, k, v [b, heads, s, head_dim]
       b. rotary: inv_freq = 1 / theta ** (arange(0, head_dim, 2) / head_dim); freqs =
          position * inv_freq; emb = cat(freqs, freqs); q * cos + rotate_half(q) * sin (same for k),
          rotate_half(x) = cat(-x2, x1)
       c. scores = (q @ k^T) * head_dim ** -0.5 (a product, not a division) + mask; softmax in
          float32; dropout (attention_dropout, F.dropout); @ v; transpose; view [b, s, hidden]
       d. Wo; out_drop (a Dropout only when attention_dropout > 0, else Identity); residual add
       e. mlp_norm; Wi; chunk(2) -> input, gate; act(input) * gate (GeGLU: hidden_activation,
          "gelu" = exact erf GELU); drop (mlp_dropout); Wo; residual add
    4. final_norm
    5. pooling: "cls" = h[:, 0]; "mean" = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    6. head: dense -> act (classifier_activation) -> norm; drop (classifier_dropout); classifier
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn

from bert_model import ACT2FN

from families.common import FamilyConfig, LayerNorm, check_activation


class ModernBertConfig(FamilyConfig):
    """transformers' ModernBertConfig (4.48-4.5x, the global_rope_theta / local_rope_theta
    form) defaults. `reference_compile` is not written (ModernBertConfig.to_dict pops it)."""

    MODEL_TYPES = ("modernbert",)
    ARCHITECTURE = "ModernBertForSequenceClassification"
    DEFAULTS = dict(
        vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
        num_attention_heads=12, hidden_activation="gelu", max_position_embeddings=8192,
        initializer_range=0.02, initializer_cutoff_factor=2.0, norm_eps=1e-5, norm_bias=False,
        pad_token_id=50283, eos_token_id=50282, bos_token_id=50281, cls_token_id=50281,
        sep_token_id=50282, global_rope_theta=160000.0, attention_bias=False,
        attention_dropout=0.0, global_attn_every_n_layers=3, local_attention=128,
        local_rope_theta=10000.0, embedding_dropout=0.0, mlp_bias=False, mlp_dropout=0.0,
        decoder_bias=True, classifier_pooling="cls", classifier_dropout=0.0,
        classifier_bias=False, classifier_activation="gelu", deterministic_flash_attn=False,
        sparse_prediction=False, sparse_pred_ignore_index=-100, repad_logits_with_grad=False,
    )
    POSITIVE_INTS = FamilyConfig.POSITIVE_INTS + ("global_attn_every_n_layers", "local_attention")

    def _validate(self, fail) -> None:
        check_activation(self, "hidden_activation", fail)
        check_activation(self, "classifier_activation", fail)
        if self.classifier_pooling not in ("cls", "mean"):
            fail(f'classifier_pooling must be "cls" or "mean", got {self.classifier_pooling!r}')
        if self.head_size % 2:
            fail(f"head size {self.head_size} must be even (rotary embeddings)")
        if not (isinstance(self.pad_token_id, int) and 0 <= self.pad_token_id < self.vocab_size):
            fail(f"pad_token_id {self.pad_token_id!r} is outside the vocabulary")

    def is_global_layer(self, layer_id: int) -> bool:
        return layer_id % self.global_attn_every_n_layers == 0

    def rope_theta(self, layer_id: int) -> float:
        if not self.is_global_layer(layer_id) and self.local_rope_theta is not None:
            return float(self.local_rope_theta)
        return float(self.global_rope_theta)


class ModernBertEmbeddings(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                           padding_idx=config.pad_token_id)
        self.norm = LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.drop = nn.Dropout(config.embedding_dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.drop(self.norm(self.tok_embeddings(input_ids)))


class ModernBertMLP(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.Wi = nn.Linear(config.hidden_size, int(config.intermediate_size) * 2, bias=config.mlp_bias)
        self.act = ACT2FN[config.hidden_activation]
        self.drop = nn.Dropout(config.mlp_dropout)
        self.Wo = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input, gate = self.Wi(hidden_states).chunk(2, dim=-1)
        return self.Wo(self.drop(self.act(input) * gate))


def rotary_cos_sin(theta: float, head_dim: int, seq_len: int,
                   dtype: torch.dtype = torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """ModernBertRotaryEmbedding (default rope type, attention_scaling 1.0) for position_ids
    arange(seq_len)[None]: cos, sin [1, seq, head_dim], computed in float32 as HF does."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    position_ids = torch.arange(seq_len)[None, :]
    inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


class ModernBertAttention(nn.Module):
    def __init__(self, config: ModernBertConfig, layer_id: int):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.head_dim * self.num_heads
        self.is_global = config.is_global_layer(layer_id)
        self.rope_theta = config.rope_theta(layer_id)
        self.Wqkv = nn.Linear(config.hidden_size, 3 * self.all_head_size, bias=config.attention_bias)
        self.Wo = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)
        self.out_drop = (nn.Dropout(config.attention_dropout) if config.attention_dropout > 0.0
                         else nn.Identity())
        # HF calls nn.functional.dropout(p=attention_dropout) on the probabilities: the same draws
        # as this module (a module, so that train_reference's row-flip variant can wrap it).
        self.attn_dropout = nn.Dropout(config.attention_dropout)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor,
                sliding_window_mask: torch.Tensor) -> torch.Tensor:
        bs, seq = hidden_states.shape[:2]
        qkv = self.Wqkv(hidden_states).view(bs, -1, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.transpose(3, 1).unbind(dim=2)
        cos, sin = rotary_cos_sin(self.rope_theta, self.head_dim, seq, hidden_states.dtype)
        query, key = apply_rotary_pos_emb(query, key, cos, sin)
        scale = self.head_dim ** -0.5
        attn_weights = torch.matmul(query, key.transpose(2, 3)) * scale
        attn_weights = attn_weights + (attention_mask if self.is_global else sliding_window_mask)
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
        attn_weights = self.attn_dropout(attn_weights)
        attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
        attn_output = attn_output.view(bs, -1, self.all_head_size)
        return self.out_drop(self.Wo(attn_output))


class ModernBertEncoderLayer(nn.Module):
    def __init__(self, config: ModernBertConfig, layer_id: int):
        super().__init__()
        self.attn_norm = (nn.Identity() if layer_id == 0 else
                          LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias))
        self.attn = ModernBertAttention(config, layer_id)
        self.mlp_norm = LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.mlp = ModernBertMLP(config)

    def forward(self, hidden_states, attention_mask, sliding_window_mask) -> torch.Tensor:
        hidden_states = hidden_states + self.attn(self.attn_norm(hidden_states), attention_mask,
                                                  sliding_window_mask)
        return hidden_states + self.mlp(self.mlp_norm(hidden_states))


def attention_masks(attention_mask: torch.Tensor, local_attention: int,
                    dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """ModernBertModel._update_attention_mask: (global [b, 1, s, s], sliding [b, 1, s, s])."""
    bsz, src_len = attention_mask.shape
    expanded = attention_mask[:, None, None, :].expand(bsz, 1, src_len, src_len).to(dtype)
    inverted = 1.0 - expanded
    global_mask = inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)
    rows = torch.arange(global_mask.shape[2]).unsqueeze(0)
    distance = torch.abs(rows - rows.T)
    window_mask = (distance <= local_attention // 2).unsqueeze(0).unsqueeze(0)
    sliding = global_mask.masked_fill(window_mask.logical_not(), torch.finfo(dtype).min)
    return global_mask, sliding


class ModernBertModel(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.config = config
        self.embeddings = ModernBertEmbeddings(config)
        self.layers = nn.ModuleList([ModernBertEncoderLayer(config, i)
                                     for i in range(config.num_hidden_layers)])
        self.final_norm = LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        dtype = self.embeddings.tok_embeddings.weight.dtype
        global_mask, sliding = attention_masks(attention_mask, self.config.local_attention, dtype)
        hidden_states = self.embeddings(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, global_mask, sliding)
        return self.final_norm(hidden_states)


class ModernBertPredictionHead(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, config.classifier_bias)
        self.act = ACT2FN[config.classifier_activation]
        self.norm = LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.norm(self.act(self.dense(hidden_states)))


class ModernBertForSequenceClassification(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits [batch, num_labels]. token_type_ids are accepted and ignored (ModernBERT has
        none; its tokenizer does not return them)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        last_hidden_state = self.model(input_ids, attention_mask)
        if self.config.classifier_pooling == "cls":
            pooled = last_hidden_state[:, 0]
        else:
            pooled = (last_hidden_state * attention_mask.unsqueeze(-1)).sum(dim=1) / attention_mask.sum(
                dim=1, keepdim=True)
        return self.classifier(self.drop(self.head(pooled)))


def hf_init_weights(model: ModernBertForSequenceClassification, seed: int) -> None:
    """post_init: ModernBertPreTrainedModel._init_weights over model.apply's post-order (children
    first), from torch.manual_seed(seed): trunc_normal_(mean 0, std, a = -cutoff * std,
    b = cutoff * std), cutoff = initializer_cutoff_factor (3 when None), Linear biases zeroed.
    stds: tok_embeddings "embedding" = initializer_range (its padding row is overwritten too: not
    zero); Wqkv and Wi "in" = initializer_range; attention Wo and MLP Wo and head.dense "out" =
    initializer_range / sqrt(2 * num_hidden_layers); classifier "final_out" = hidden_size ** -0.5.
    LayerNorms keep weight 1 (bias 0). Draw order: tok_embeddings, then per layer Wqkv, attn.Wo,
    Wi, mlp.Wo, then head.dense, then classifier."""
    config = model.config
    cutoff = config.initializer_cutoff_factor
    if cutoff is None:
        cutoff = 3
    stds = {
        "in": config.initializer_range,
        "out": config.initializer_range / math.sqrt(2.0 * config.num_hidden_layers),
        "embedding": config.initializer_range,
        "final_out": config.hidden_size ** -0.5,
    }

    def init_weight(module: nn.Module, std: float) -> None:
        nn.init.trunc_normal_(module.weight, mean=0.0, std=std, a=-cutoff * std, b=cutoff * std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def init(module: nn.Module) -> None:
        if isinstance(module, ModernBertEmbeddings):
            init_weight(module.tok_embeddings, stds["embedding"])
        elif isinstance(module, ModernBertMLP):
            init_weight(module.Wi, stds["in"])
            init_weight(module.Wo, stds["out"])
        elif isinstance(module, ModernBertAttention):
            init_weight(module.Wqkv, stds["in"])
            init_weight(module.Wo, stds["out"])
        elif isinstance(module, ModernBertPredictionHead):
            init_weight(module.dense, stds["out"])
        elif isinstance(module, ModernBertForSequenceClassification):
            init_weight(module.classifier, stds["final_out"])
        elif isinstance(module, nn.LayerNorm):
            with torch.no_grad():
                module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()

    torch.manual_seed(seed)
    with torch.no_grad():
        model.apply(init)
