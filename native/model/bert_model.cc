#include "model/bert_model.h"

#include <cmath>
#include <limits>
#include <set>

#include "model/activations.h"
#include "runtime/cancellation.h"
#include "runtime/errors.h"

namespace tce {
namespace {

torch::nn::LayerNorm make_layer_norm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

// Hugging Face's _init_weights for one module, restricted to the parameters `wanted` picks (by
// `prefix` + their local name): Linear and Embedding normal(0, initializer_range), zero biases
// and padding row, LayerNorm 1 and 0. Call under NoGradGuard.
template <typename Wanted>
void init_module(torch::nn::Module& module, const std::string& prefix, const Wanted& wanted, int64_t pad_token_id,
                 double std) {
  if (auto* linear = module.as<torch::nn::LinearImpl>()) {
    if (wanted(prefix + "weight")) linear->weight.normal_(0.0, std);
    if (linear->bias.defined() && wanted(prefix + "bias")) linear->bias.zero_();
  } else if (auto* embedding = module.as<torch::nn::EmbeddingImpl>()) {
    if (!wanted(prefix + "weight")) return;
    embedding->weight.normal_(0.0, std);
    if (pad_token_id >= 0 && pad_token_id < embedding->weight.size(0)) embedding->weight[pad_token_id].zero_();
  } else if (auto* norm = module.as<torch::nn::LayerNormImpl>()) {
    if (wanted(prefix + "weight")) norm->weight.fill_(1.0);
    if (wanted(prefix + "bias")) norm->bias.zero_();
  }
}

}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const auto positions = torch::arange(input_ids.size(1), torch::kLong);
  // Same summation order as Hugging Face: (words + token types) + positions.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  embeddings = embeddings + position_embeddings(positions);
  return dropout(LayerNorm(embeddings));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
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

BertResidualOutputImpl::BertResidualOutputImpl(const BertConfig& c, int64_t in_features) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& residual) {
  return LayerNorm(dropout(dense(hidden_states)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c, c.hidden_size));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask) {
  return output(self(hidden_states, extended_mask), hidden_states);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : hidden_act(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& hidden_states) {
  return apply_activation(hidden_act, dense(hidden_states));
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c, c.intermediate_size));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& extended_mask) {
  const auto attention_output = attention(hidden_states, extended_mask);
  return output(intermediate(attention_output), attention_output);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) {
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

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden_states) {
  return torch::tanh(dense(hidden_states.select(1, 0)));
}

BertModelImpl::BertModelImpl(const BertConfig& c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c));
  pooler = register_module("pooler", BertPooler(c));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                     const torch::Tensor& attention_mask) {
  // Hugging Face's additive mask: 0 where attended, the most negative float where padded.
  const auto mask = attention_mask.to(torch::kFloat).unsqueeze(1).unsqueeze(2);
  const auto extended_mask = (1.0 - mask) * std::numeric_limits<float>::lowest();
  return pooler(encoder(embeddings(input_ids, token_type_ids), extended_mask));
}

BertForSequenceClassificationImpl::BertForSequenceClassificationImpl(const BertConfig& c) : config(c) {
  config.validate();
  bert = register_module("bert", BertModel(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.classifier_dropout));
  classifier = register_module("classifier", torch::nn::Linear(c.hidden_size, c.num_labels));
}

torch::Tensor BertForSequenceClassificationImpl::forward(const torch::Tensor& input_ids,
                                                         const torch::Tensor& token_type_ids,
                                                         const torch::Tensor& attention_mask) {
  return classifier(dropout(bert(input_ids, token_type_ids, attention_mask)));
}

void BertForSequenceClassificationImpl::init_parameters(const std::vector<std::string>& names) {
  std::set<std::string> wanted(names.begin(), names.end());
  for (const auto& item : named_parameters(/*recurse=*/true)) wanted.erase(item.key());
  if (!wanted.empty()) throw ArgumentError("init_parameters: the model has no parameter '" + *wanted.begin() + "'");
  wanted.insert(names.begin(), names.end());
  torch::NoGradGuard no_grad;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    init_module(*item.value(), item.key() + ".", [&](const std::string& name) { return wanted.count(name) > 0; }, -1,
                config.initializer_range);
  }
}

void BertForSequenceClassificationImpl::init_weights(uint64_t seed, int64_t pad_token_id) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& module : modules(/*include_self=*/false)) {
    init_module(*module, "", [](const std::string&) { return true; }, pad_token_id, config.initializer_range);
  }
}

}  // namespace tce
