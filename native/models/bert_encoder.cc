#include "models/bert_encoder.h"

#include <cmath>
#include <limits>

#include "models/activations.h"
#include "runtime/cancellation.h"
#include "runtime/errors.h"

namespace tce {

EncoderConfig EncoderConfig::from(const ConfigValues& v) {
  EncoderConfig c;
  c.hidden_size = v.integer("hidden_size", 1, 65536);
  c.num_hidden_layers = v.integer("num_hidden_layers", 1, 1024);
  c.num_attention_heads = v.integer("num_attention_heads", 1, 4096);
  c.intermediate_size = v.integer("intermediate_size", 1, 1 << 20);
  c.hidden_act = v.string("hidden_act");
  c.hidden_dropout_prob = v.probability("hidden_dropout_prob");
  c.attention_probs_dropout_prob = v.probability("attention_probs_dropout_prob");
  c.layer_norm_eps = v.positive("layer_norm_eps");
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw ArgumentError("config.hidden_size (" + std::to_string(c.hidden_size) +
                        ") is not a multiple of num_attention_heads (" + std::to_string(c.num_attention_heads) + ")");
  }
  if (!is_supported_activation(c.hidden_act)) throw ArgumentError("unsupported config.hidden_act '" + c.hidden_act + "'");
  return c;
}

torch::nn::LayerNorm make_layer_norm(int64_t size, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({size}).eps(eps));
}

torch::Tensor extended_attention_mask(const torch::Tensor& attention_mask) {
  const auto mask = attention_mask.to(torch::kFloat).unsqueeze(1).unsqueeze(2);
  return (1.0 - mask) * std::numeric_limits<float>::lowest();
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const EncoderConfig& c)
    : num_heads(c.num_attention_heads), head_size(c.hidden_size / c.num_attention_heads) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor BertSelfAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), num_heads, head_size}).permute({0, 2, 1, 3});
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask) {
  const auto q = split_heads(query(hidden_states));
  const auto k = split_heads(key(hidden_states));
  const auto v = split_heads(value(hidden_states));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size));
  scores = scores + extended_mask;
  const auto probs = dropout(torch::softmax(scores, -1));
  const auto context = torch::matmul(probs, v).permute({0, 2, 1, 3}).contiguous();
  return context.view({context.size(0), context.size(1), num_heads * head_size});
}

BertResidualOutputImpl::BertResidualOutputImpl(const EncoderConfig& c, int64_t in_features) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c.hidden_size, c.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& residual) {
  return LayerNorm(dropout(dense(hidden_states)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const EncoderConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c, c.hidden_size));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask) {
  return output(self(hidden_states, extended_mask), hidden_states);
}

BertIntermediateImpl::BertIntermediateImpl(const EncoderConfig& c) : hidden_act(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& hidden_states) {
  return apply_activation(hidden_act, dense(hidden_states));
}

BertLayerImpl::BertLayerImpl(const EncoderConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c, c.intermediate_size));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask) {
  const auto attention_output = attention(hidden_states, extended_mask);
  return output(intermediate(attention_output), attention_output);
}

BertEncoderImpl::BertEncoderImpl(const EncoderConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor hidden_states, const torch::Tensor& extended_mask) {
  for (const auto& module : *layer) {
    throw_if_cancelled();  // a layer is the natural unit of interruption
    hidden_states = module->as<BertLayerImpl>()->forward(hidden_states, extended_mask);
  }
  return hidden_states;
}

ClassificationHeadImpl::ClassificationHeadImpl(int64_t hidden_size, double p, int64_t num_labels, std::string act)
    : activation(std::move(act)) {
  dense = register_module("dense", torch::nn::Linear(hidden_size, hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(p));
  out_proj = register_module("out_proj", torch::nn::Linear(hidden_size, num_labels));
}

torch::Tensor ClassificationHeadImpl::forward(const torch::Tensor& hidden_states) {
  auto x = dropout(hidden_states.select(1, 0));
  x = apply_activation(activation, dense(x));
  return out_proj(dropout(x));
}

}  // namespace tce
