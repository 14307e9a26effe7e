// ModernBERT for sequence classification (`model_type: modernbert`), as modeling_modernbert.py
// computes it on padded batches (its eager attention; the unpadded flash path gives the same
// logits): pre-norm layers (layer 0 without an attention norm), fused `attn.Wqkv`, rotary
// embeddings, sliding-window attention of `local_attention` tokens on all but every
// `global_attn_every_n_layers`-th layer, a GeGLU MLP, `final_norm`, then pooling (`cls` or
// `mean`), `head` (dense → act → norm) and `classifier`. Biases and norm biases follow the config.
#pragma once

#include <string>

#include <torch/torch.h>

#include "models/config_values.h"
#include "models/quantize.h"
#include "models/sequence_classifier.h"
#include "models/token_encoder.h"

namespace tce {

struct ModernBertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  std::string hidden_activation;
  int64_t max_position_embeddings = 0;
  double initializer_range = 0;
  double initializer_cutoff_factor = 0;
  double norm_eps = 0;
  bool norm_bias = false;
  int64_t pad_token_id = 0;
  double global_rope_theta = 0;
  double local_rope_theta = 0;
  bool attention_bias = false;
  double attention_dropout = 0;
  int64_t global_attn_every_n_layers = 0;
  int64_t local_attention = 0;
  double embedding_dropout = 0;
  bool mlp_bias = false;
  double mlp_dropout = 0;
  std::string classifier_pooling;  // "cls" or "mean"
  double classifier_dropout = 0;
  bool classifier_bias = false;
  std::string classifier_activation;
  int64_t num_labels = 0;

  static ModernBertConfig from(const ConfigValues& values);
  ModelShape shape() const;
};

// nn.LayerNorm(hidden, eps, bias=norm_bias): ModernBERT's norms usually have no bias.
struct ModernBertLayerNormImpl : torch::nn::Module, NormLayer {
  ModernBertLayerNormImpl(int64_t size, double eps, bool bias);
  torch::Tensor forward(const torch::Tensor& x);

  int64_t size;
  double eps;
  torch::Tensor weight, bias;
};
TORCH_MODULE(ModernBertLayerNorm);

struct ModernBertEmbeddingsImpl : torch::nn::Module {
  explicit ModernBertEmbeddingsImpl(const ModernBertConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids);

  torch::nn::Embedding tok_embeddings{nullptr};
  ModernBertLayerNorm norm{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(ModernBertEmbeddings);

// The rotary tables of one layer kind: cos and sin [1, S, head_dim].
struct RotaryTables {
  torch::Tensor cos, sin;
};

struct ModernBertAttentionImpl : torch::nn::Module {
  ModernBertAttentionImpl(const ModernBertConfig& config, int64_t layer_id);
  // `mask`: the additive [B, 1, S, S] mask of this layer kind (global or sliding window).
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask, const RotaryTables& rotary);

  int64_t num_heads, head_dim;
  bool local;  // sliding-window attention
  double attention_dropout;
  Linear Wqkv{nullptr}, Wo{nullptr};
  torch::nn::Dropout out_drop{nullptr};
};
TORCH_MODULE(ModernBertAttention);

struct ModernBertMLPImpl : torch::nn::Module {
  explicit ModernBertMLPImpl(const ModernBertConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  std::string act;
  Linear Wi{nullptr}, Wo{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(ModernBertMLP);

struct ModernBertEncoderLayerImpl : torch::nn::Module {
  ModernBertEncoderLayerImpl(const ModernBertConfig& config, int64_t layer_id);
  torch::Tensor forward(torch::Tensor hidden_states, const torch::Tensor& mask, const RotaryTables& rotary);

  ModernBertLayerNorm attn_norm{nullptr};  // absent (Identity) in layer 0
  ModernBertAttention attn{nullptr};
  ModernBertLayerNorm mlp_norm{nullptr};
  ModernBertMLP mlp{nullptr};
};
TORCH_MODULE(ModernBertEncoderLayer);

struct ModernBertModelImpl : TokenEncoder {
  explicit ModernBertModelImpl(const ModernBertConfig& config);
  // The final-normed hidden states [B, S, H].
  torch::Tensor forward(const BatchTensors& batch) override;

  ModernBertConfig config;
  ModernBertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};
  ModernBertLayerNorm final_norm{nullptr};
};
TORCH_MODULE(ModernBertModel);

struct ModernBertPredictionHeadImpl : torch::nn::Module {
  explicit ModernBertPredictionHeadImpl(const ModernBertConfig& config);
  torch::Tensor forward(const torch::Tensor& pooled);

  std::string act;
  Linear dense{nullptr};
  ModernBertLayerNorm norm{nullptr};
};
TORCH_MODULE(ModernBertPredictionHead);

class ModernBertForSequenceClassification : public SequenceClassifier {
 public:
  explicit ModernBertForSequenceClassification(const ModernBertConfig& config);
  torch::Tensor forward(const BatchTensors& batch) override;

  ModernBertModel model{nullptr};
  ModernBertPredictionHead head{nullptr};
  torch::nn::Dropout drop{nullptr};
  Linear classifier{nullptr};

 protected:
  // ModernBertPreTrainedModel._init_weights: truncated normals with per-role stds.
  void init_selected(const ParameterFilter& wanted) override;

 private:
  ModernBertConfig config_;
};

}  // namespace tce
