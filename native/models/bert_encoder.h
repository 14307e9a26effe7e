// The transformer encoder of modeling_bert.py, which RoBERTa, XLM-RoBERTa and ELECTRA reuse
// unchanged (their modeling files copy it): post-norm layers of self-attention and a feed-forward
// block, registered as `layer.<i>.attention.self.query` and so on.
#pragma once

#include <string>

#include <torch/torch.h>

#include "models/config_values.h"

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

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask);

  int64_t num_heads, head_size;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  torch::Tensor split_heads(const torch::Tensor& x) const;  // [B, S, H*D] -> [B, H, S, D]
};
TORCH_MODULE(BertSelfAttention);

// dense -> dropout -> LayerNorm(x + residual); shared shape of BertSelfOutput and BertOutput.
struct BertResidualOutputImpl : torch::nn::Module {
  BertResidualOutputImpl(const EncoderConfig& config, int64_t in_features);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertResidualOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask);

  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};  // Hugging Face: BertSelfOutput
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  torch::nn::Linear dense{nullptr};
  std::string hidden_act;
};
TORCH_MODULE(BertIntermediate);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const EncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};  // Hugging Face: BertOutput
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const EncoderConfig& config);
  torch::Tensor forward(torch::Tensor hidden_states, const torch::Tensor& extended_mask);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BertEncoder);

// The two-layer head RoBERTa and ELECTRA put on the first token: dropout → `dense` → activation
// (tanh for RobertaClassificationHead, gelu for ElectraClassificationHead) → dropout → `out_proj`.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(int64_t hidden_size, double dropout, int64_t num_labels, std::string activation);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  std::string activation;
  torch::nn::Linear dense{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(ClassificationHead);

}  // namespace tce
