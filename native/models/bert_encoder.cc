#include "models/bert_encoder.h"

#include <algorithm>
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

TokenPacking::TokenPacking(const torch::Tensor& attention_mask, bool pack)
    : batch(attention_mask.size(0)), length(attention_mask.size(1)), extended_mask(extended_attention_mask(attention_mask)) {
  const auto real = attention_mask.ne(0);
  const auto counts = real.sum(1).to(torch::kLong).contiguous();
  const auto* count = counts.data_ptr<int64_t>();
  lengths.assign(count, count + batch);
  // No padding: nothing to move. A row with no real token at all (never made by our collate)
  // attends uniformly to its padding in Hugging Face's code: keep that row's semantics exact.
  const bool full = std::all_of(lengths.begin(), lengths.end(), [&](int64_t n) { return n == length; });
  const bool empty_row = std::any_of(lengths.begin(), lengths.end(), [](int64_t n) { return n == 0; });
  if (full || empty_row || !pack) return;
  indices = real.reshape({-1}).nonzero().squeeze(1);
}

torch::Tensor TokenPacking::pack(const torch::Tensor& padded) const {
  const auto flat = padded.reshape({batch * length, padded.size(-1)});
  return packed() ? flat.index_select(0, indices) : flat;
}

torch::Tensor TokenPacking::unpack(const torch::Tensor& packed_rows) const {
  const auto width = packed_rows.size(-1);
  if (!packed()) return packed_rows.view({batch, length, width});
  // index_put_, not index_copy: ATen's CPU index_copy is ~6x slower here (measured).
  return torch::zeros({batch * length, width}, packed_rows.options()).index_put_({indices}, packed_rows).view({batch, length, width});
}

torch::Tensor TokenPacking::dropout(const torch::Tensor& packed_rows, torch::nn::Dropout& module) const {
  const double p = module->options.p();
  if (!module->is_training() || p == 0.0 || !packed()) return module(packed_rows);
  // ATen's _dropout_impl: noise = empty_like(input).bernoulli_(1 - p).div_(1 - p); input * noise.
  auto noise = torch::empty({batch * length, packed_rows.size(-1)}, packed_rows.options()).bernoulli_(1 - p);
  noise.div_(1 - p);
  return packed_rows * noise.index_select(0, indices);
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const EncoderConfig& c)
    : num_heads(c.num_attention_heads), head_size(c.hidden_size / c.num_attention_heads) {
  query = register_module("query", Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor BertSelfAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), num_heads, head_size}).permute({0, 2, 1, 3});
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden_states, const TokenPacking& packing) {
  const auto q_rows = query(hidden_states);
  const auto k_rows = key(hidden_states);
  const auto v_rows = value(hidden_states);
  if (packing.packed() && !is_training() && !torch::GradMode::is_enabled()) return attend_row_by_row(q_rows, k_rows, v_rows, packing);
  const auto q = split_heads(packing.unpack(q_rows));
  const auto k = split_heads(packing.unpack(k_rows));
  const auto v = split_heads(packing.unpack(v_rows));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size));
  scores = scores + packing.extended_mask;
  const auto probs = dropout(torch::softmax(scores, -1));
  const auto context = torch::matmul(probs, v).permute({0, 2, 1, 3}).contiguous();
  return packing.pack(context.view({context.size(0), context.size(1), num_heads * head_size}));
}

torch::Tensor BertSelfAttentionImpl::attend_row_by_row(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                                       const TokenPacking& packing) const {
  // Each row's real tokens attend to each other: Hugging Face's scores over the padded keys get
  // the most negative float added there, so softmax gives those keys exactly 0 and the real ones
  // the same weights (up to the rounding of the shorter sum).
  auto context = torch::empty_like(q);
  const double scale = std::sqrt(static_cast<double>(head_size));
  int64_t start = 0;
  for (const auto n : packing.lengths) {
    const auto heads = [&](const torch::Tensor& x) { return x.narrow(0, start, n).view({n, num_heads, head_size}).transpose(0, 1); };
    auto scores = torch::matmul(heads(q), heads(k).transpose(1, 2));
    scores.div_(scale);
    heads(context).copy_(torch::matmul(torch::softmax(scores, -1), heads(v)));
    start += n;
  }
  return context;
}

BertResidualOutputImpl::BertResidualOutputImpl(const EncoderConfig& c, int64_t in_features) {
  dense = register_module("dense", Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c.hidden_size, c.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& residual, const TokenPacking& packing) {
  return LayerNorm(packing.dropout(dense(hidden_states), dropout) + residual);
}

BertAttentionImpl::BertAttentionImpl(const EncoderConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c, c.hidden_size));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden_states, const TokenPacking& packing) {
  return output(self(hidden_states, packing), hidden_states, packing);
}

BertIntermediateImpl::BertIntermediateImpl(const EncoderConfig& c) : hidden_act(c.hidden_act) {
  dense = register_module("dense", Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& hidden_states) {
  return apply_activation(hidden_act, dense(hidden_states));
}

BertLayerImpl::BertLayerImpl(const EncoderConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c, c.intermediate_size));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& hidden_states, const TokenPacking& packing) {
  const auto attention_output = attention(hidden_states, packing);
  return output(intermediate(attention_output), attention_output, packing);
}

BertEncoderImpl::BertEncoderImpl(const EncoderConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

torch::Tensor BertEncoderImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& attention_mask) {
  const TokenPacking packing(attention_mask, /*pack=*/!is_quantized(*this));
  auto x = packing.pack(hidden_states);
  for (const auto& module : *layer) {
    throw_if_cancelled();  // a layer is the natural unit of interruption
    x = module->as<BertLayerImpl>()->forward(x, packing);
  }
  return packing.unpack(x);
}

ClassificationHeadImpl::ClassificationHeadImpl(int64_t hidden_size, double p, int64_t num_labels, std::string act)
    : activation(std::move(act)) {
  dense = register_module("dense", Linear(hidden_size, hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(p));
  out_proj = register_module("out_proj", Linear(hidden_size, num_labels));
}

torch::Tensor ClassificationHeadImpl::forward(const torch::Tensor& hidden_states) {
  auto x = dropout(hidden_states.select(1, 0));
  x = apply_activation(activation, dense(x));
  return out_proj(dropout(x));
}

}  // namespace tce
