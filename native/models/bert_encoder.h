// The transformer encoder of modeling_bert.py, which RoBERTa, XLM-RoBERTa and ELECTRA reuse
// unchanged (their modeling files copy it): post-norm layers of self-attention and a feed-forward
// block, registered as `layer.<i>.attention.self.query` and so on.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/config_values.h"
#include "models/quantize.h"

namespace tce {

struct EncoderConfig {
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  std::string hidden_act;
  double hidden_dropout_prob = 0;
  double attention_probs_dropout_prob = 0;
  double layer_norm_eps = 0;

  // Reads and checks the fields of BertConfig that shape the encoder.
  static EncoderConfig from(const ConfigValues& values);
};

torch::nn::LayerNorm make_layer_norm(int64_t size, double eps);

// Hugging Face's additive mask [B, 1, 1, S] from a 0/1 mask [B, S]: 0 where attended, the most
// negative float where padded.
torch::Tensor extended_attention_mask(const torch::Tensor& attention_mask);

// Where a batch's real tokens sit among its B x S padded positions. The encoder runs everything
// that works token by token (the Linear layers, GELU, LayerNorm, residuals) on the real tokens
// only, [T, H] instead of [B * S, H], and pads them back just for attention: padded positions
// cost no FLOPs there, and a real token's numbers are those of the padded computation (its rows
// of every matmul and norm are the same; what Hugging Face computes at padded positions is never
// used: attention gives them probability exactly 0).
struct TokenPacking {
  int64_t batch = 0, length = 0;
  torch::Tensor indices;  // [T] int64: b * S + s of each real token, in order
  std::vector<int64_t> lengths;  // real tokens of each row: row b is packed rows [sum of those before, + lengths[b])
  torch::Tensor extended_mask;

  // pack=false keeps every padded row (packed() is false): what dynamic int8 Linear layers need,
  // whose input range, hence every row's numbers, depends on all the rows they see (quantize.h).
  explicit TokenPacking(const torch::Tensor& attention_mask, bool pack = true);
  bool packed() const { return indices.defined(); }  // false: no padding, nothing to move
  torch::Tensor pack(const torch::Tensor& padded) const;    // [B, S, H] -> [T, H]
  torch::Tensor unpack(const torch::Tensor& packed) const;  // [T, H] -> [B, S, H], zeros at padding
  // nn.Dropout of the padded tensor, applied to its packed rows: the noise is drawn over the
  // padded shape, as PyTorch draws it, so the masks (and the RNG stream after) are the same.
  torch::Tensor dropout(const torch::Tensor& packed, torch::nn::Dropout& dropout) const;
};

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const EncoderConfig& config);
  // hidden_states [T, H] packed. Training runs attention on the padded [B, heads, S, S] (its
  // dropout draws over that shape, as PyTorch's); inference runs it row by row over each row's
  // real tokens only, where padding would cost most (S² per row) and nothing is drawn.
  torch::Tensor forward(const torch::Tensor& hidden_states, const TokenPacking& packing);

  int64_t num_heads, head_size;
  Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  torch::Tensor split_heads(const torch::Tensor& x) const;  // [B, S, H*D] -> [B, H, S, D]
  torch::Tensor attend_row_by_row(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const TokenPacking& packing) const;
};
TORCH_MODULE(BertSelfAttention);

// dense -> dropout -> LayerNorm(x + residual); shared shape of BertSelfOutput and BertOutput.
struct BertResidualOutputImpl : torch::nn::Module {
  BertResidualOutputImpl(const EncoderConfig& config, int64_t in_features);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& residual, const TokenPacking& packing);

  Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertResidualOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states, const TokenPacking& packing);

  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};  // Hugging Face: BertSelfOutput
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  Linear dense{nullptr};
  std::string hidden_act;
};
TORCH_MODULE(BertIntermediate);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states, const TokenPacking& packing);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};  // Hugging Face: BertOutput
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const EncoderConfig& config);
  // hidden_states [B, S, H] (the embeddings), attention_mask [B, S] 0/1 -> [B, S, H]; padded
  // positions come back as zeros (Hugging Face leaves values there that nothing reads).
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& attention_mask);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BertEncoder);

// The two-layer head RoBERTa and ELECTRA put on the first token: dropout → `dense` → activation
// (tanh for RobertaClassificationHead, gelu for ElectraClassificationHead) → dropout → `out_proj`.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(int64_t hidden_size, double dropout, int64_t num_labels, std::string activation);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  std::string activation;
  Linear dense{nullptr};
  torch::nn::Dropout dropout{nullptr};
  Linear out_proj{nullptr};
};
TORCH_MODULE(ClassificationHead);

}  // namespace tce
