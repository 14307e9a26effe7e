#include "models/modernbert.h"

#include <cmath>
#include <limits>

#include "models/activations.h"
#include "models/bert_encoder.h"
#include "runtime/cancellation.h"
#include "runtime/errors.h"

namespace tce {
namespace {

// torch.nn.init.trunc_normal_ (the same draws: uniform, then the inverse CDF), bounded at
// ±cutoff standard deviations as ModernBertPreTrainedModel's init_weight asks.
void trunc_normal(torch::Tensor& t, double std, double cutoff) {
  const auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double a = -cutoff * std, b = cutoff * std;
  const double l = cdf(a / std), u = cdf(b / std);
  t.uniform_(2 * l - 1, 2 * u - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

// The [1, S, head_dim] cos and sin of rotary embeddings with base `theta`, as
// ModernBertRotaryEmbedding computes them (float32, positions 0..S-1).
RotaryTables rotary_tables(int64_t seq_length, int64_t head_dim, double theta) {
  const auto exponents = torch::arange(0, head_dim, 2, torch::kLong).to(torch::kFloat) / static_cast<double>(head_dim);
  const auto inv_freq = 1.0 / torch::pow(theta, exponents);
  const auto positions = torch::arange(seq_length, torch::kLong).unsqueeze(0).to(torch::kFloat);
  const auto freqs = torch::matmul(inv_freq.unsqueeze(0).unsqueeze(2), positions.unsqueeze(1)).transpose(1, 2);
  const auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

ModelShape ModernBertConfig::shape() const {
  const ModernBertConfig& c = *this;
  return ModelShape{c.num_labels, c.vocab_size, /*no token types*/ 0, c.max_position_embeddings, "model"};
}

ModernBertConfig ModernBertConfig::from(const ConfigValues& v) {
  ModernBertConfig c;
  c.vocab_size = v.integer("vocab_size", 1, int64_t{1} << 24);
  c.hidden_size = v.integer("hidden_size", 1, 65536);
  c.intermediate_size = v.integer("intermediate_size", 1, 1 << 20);
  c.num_hidden_layers = v.integer("num_hidden_layers", 1, 1024);
  c.num_attention_heads = v.integer("num_attention_heads", 1, 4096);
  c.hidden_activation = v.string("hidden_activation");
  c.max_position_embeddings = v.integer("max_position_embeddings", 1, 1 << 20);
  c.initializer_range = v.positive("initializer_range");
  c.initializer_cutoff_factor = v.positive("initializer_cutoff_factor");
  c.norm_eps = v.positive("norm_eps");
  c.norm_bias = v.boolean("norm_bias");
  c.pad_token_id = v.integer("pad_token_id", 0, c.vocab_size - 1);
  c.global_rope_theta = v.positive("global_rope_theta");
  c.local_rope_theta = v.positive("local_rope_theta");
  c.attention_bias = v.boolean("attention_bias");
  c.attention_dropout = v.probability("attention_dropout");
  c.global_attn_every_n_layers = v.integer("global_attn_every_n_layers", 1, 1024);
  c.local_attention = v.integer("local_attention", 0, 1 << 20);
  c.embedding_dropout = v.probability("embedding_dropout");
  c.mlp_bias = v.boolean("mlp_bias");
  c.mlp_dropout = v.probability("mlp_dropout");
  c.classifier_pooling = v.string("classifier_pooling");
  c.classifier_dropout = v.probability("classifier_dropout");
  c.classifier_bias = v.boolean("classifier_bias");
  c.classifier_activation = v.string("classifier_activation");
  c.num_labels = v.integer("num_labels", 1, 1 << 20);
  if (c.hidden_size % c.num_attention_heads != 0 || (c.hidden_size / c.num_attention_heads) % 2 != 0) {
    throw ArgumentError("config.hidden_size (" + std::to_string(c.hidden_size) +
                        ") must be num_attention_heads times an even head size (rotary embeddings)");
  }
  for (const std::string* act : {&c.hidden_activation, &c.classifier_activation}) {
    if (!is_supported_activation(*act)) throw ArgumentError("unsupported activation '" + *act + "' in config");
  }
  if (c.classifier_pooling != "cls" && c.classifier_pooling != "mean") {
    throw ArgumentError("config.classifier_pooling must be 'cls' or 'mean', got '" + c.classifier_pooling + "'");
  }
  return c;
}

ModernBertLayerNormImpl::ModernBertLayerNormImpl(int64_t n, double e, bool with_bias) : size(n), eps(e) {
  weight = register_parameter("weight", torch::ones({n}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({n}));
}

torch::Tensor ModernBertLayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {size}, weight, bias, eps);
}

ModernBertEmbeddingsImpl::ModernBertEmbeddingsImpl(const ModernBertConfig& c) {
  tok_embeddings = register_module(
      "tok_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)));
  norm = register_module("norm", ModernBertLayerNorm(c.hidden_size, c.norm_eps, c.norm_bias));
  drop = register_module("drop", torch::nn::Dropout(c.embedding_dropout));
}

torch::Tensor ModernBertEmbeddingsImpl::forward(const torch::Tensor& input_ids) {
  return drop(norm(tok_embeddings(input_ids)));
}

ModernBertAttentionImpl::ModernBertAttentionImpl(const ModernBertConfig& c, int64_t layer_id)
    : num_heads(c.num_attention_heads),
      head_dim(c.hidden_size / c.num_attention_heads),
      local(layer_id % c.global_attn_every_n_layers != 0),
      attention_dropout(c.attention_dropout) {
  Wqkv = register_module("Wqkv", Linear(torch::nn::LinearOptions(c.hidden_size, 3 * c.hidden_size).bias(c.attention_bias)));
  Wo = register_module("Wo", Linear(torch::nn::LinearOptions(c.hidden_size, c.hidden_size).bias(c.attention_bias)));
  // nn.Identity when the probability is 0: the same as a Dropout(0), which draws nothing.
  out_drop = register_module("out_drop", torch::nn::Dropout(c.attention_dropout));
}

torch::Tensor ModernBertAttentionImpl::forward(const torch::Tensor& hidden_states, const torch::Tensor& mask,
                                               const RotaryTables& rotary) {
  const int64_t batch = hidden_states.size(0);
  // [B, S, 3, H, D] -> [B, H, 3, S, D] -> q, k, v of [B, H, S, D], as eager_attention_forward.
  const auto qkv = Wqkv(hidden_states).view({batch, -1, 3, num_heads, head_dim}).transpose(3, 1).unbind(2);
  const auto cos = rotary.cos.unsqueeze(1), sin = rotary.sin.unsqueeze(1);
  const auto query = qkv[0] * cos + rotate_half(qkv[0]) * sin;
  const auto key = qkv[1] * cos + rotate_half(qkv[1]) * sin;
  auto weights = torch::matmul(query, key.transpose(2, 3)) * std::pow(static_cast<double>(head_dim), -0.5);
  weights = torch::softmax(weights + mask, -1);
  weights = torch::dropout(weights, attention_dropout, is_training());
  const auto output = torch::matmul(weights, qkv[2]).transpose(1, 2).contiguous().view({batch, -1, num_heads * head_dim});
  return out_drop(Wo(output));
}

ModernBertMLPImpl::ModernBertMLPImpl(const ModernBertConfig& c) : act(c.hidden_activation) {
  Wi = register_module("Wi", Linear(torch::nn::LinearOptions(c.hidden_size, 2 * c.intermediate_size).bias(c.mlp_bias)));
  drop = register_module("drop", torch::nn::Dropout(c.mlp_dropout));
  Wo = register_module("Wo", Linear(torch::nn::LinearOptions(c.intermediate_size, c.hidden_size).bias(c.mlp_bias)));
}

torch::Tensor ModernBertMLPImpl::forward(const torch::Tensor& hidden_states) {
  const auto halves = Wi(hidden_states).chunk(2, -1);
  return Wo(drop(apply_activation(act, halves[0]) * halves[1]));
}

ModernBertEncoderLayerImpl::ModernBertEncoderLayerImpl(const ModernBertConfig& c, int64_t layer_id) {
  if (layer_id != 0) attn_norm = register_module("attn_norm", ModernBertLayerNorm(c.hidden_size, c.norm_eps, c.norm_bias));
  attn = register_module("attn", ModernBertAttention(c, layer_id));
  mlp_norm = register_module("mlp_norm", ModernBertLayerNorm(c.hidden_size, c.norm_eps, c.norm_bias));
  mlp = register_module("mlp", ModernBertMLP(c));
}

torch::Tensor ModernBertEncoderLayerImpl::forward(torch::Tensor hidden_states, const torch::Tensor& mask,
                                                  const RotaryTables& rotary) {
  hidden_states = hidden_states + attn(attn_norm ? attn_norm(hidden_states) : hidden_states, mask, rotary);
  return hidden_states + mlp(mlp_norm(hidden_states));
}

ModernBertModelImpl::ModernBertModelImpl(const ModernBertConfig& c) : config(c) {
  embeddings = register_module("embeddings", ModernBertEmbeddings(c));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ModernBertEncoderLayer(c, i));
  final_norm = register_module("final_norm", ModernBertLayerNorm(c.hidden_size, c.norm_eps, c.norm_bias));
}

torch::Tensor ModernBertModelImpl::forward(const BatchTensors& batch) {
  const int64_t seq_length = batch.input_ids.size(1);
  const int64_t head_dim = config.hidden_size / config.num_attention_heads;
  // _update_attention_mask: the padding mask, and the same with everything farther than
  // local_attention / 2 masked too.
  const auto global_mask = extended_attention_mask(batch.attention_mask);
  const auto rows = torch::arange(seq_length, torch::kLong).unsqueeze(0);
  const auto window = (rows - rows.t()).abs().le(config.local_attention / 2).unsqueeze(0).unsqueeze(0);
  const auto sliding_mask = global_mask.masked_fill(window.logical_not(), std::numeric_limits<float>::lowest());
  const RotaryTables global_rotary = rotary_tables(seq_length, head_dim, config.global_rope_theta);
  const RotaryTables local_rotary = rotary_tables(seq_length, head_dim, config.local_rope_theta);

  auto hidden = embeddings(batch.input_ids);
  for (const auto& module : *layers) {
    throw_if_cancelled();
    auto* layer = module->as<ModernBertEncoderLayerImpl>();
    const bool local = layer->attn->local;
    hidden = layer->forward(hidden, local ? sliding_mask : global_mask, local ? local_rotary : global_rotary);
  }
  return final_norm(hidden);
}

ModernBertPredictionHeadImpl::ModernBertPredictionHeadImpl(const ModernBertConfig& c) : act(c.classifier_activation) {
  dense = register_module("dense", Linear(torch::nn::LinearOptions(c.hidden_size, c.hidden_size).bias(c.classifier_bias)));
  norm = register_module("norm", ModernBertLayerNorm(c.hidden_size, c.norm_eps, c.norm_bias));
}

torch::Tensor ModernBertPredictionHeadImpl::forward(const torch::Tensor& pooled) {
  return norm(apply_activation(act, dense(pooled)));
}

ModernBertForSequenceClassification::ModernBertForSequenceClassification(const ModernBertConfig& c)
    : SequenceClassifier(c.shape()), config_(c) {
  model = register_module("model", ModernBertModel(c));
  head = register_module("head", ModernBertPredictionHead(c));
  drop = register_module("drop", torch::nn::Dropout(c.classifier_dropout));
  classifier = register_module("classifier", Linear(c.hidden_size, c.num_labels));
}

torch::Tensor ModernBertForSequenceClassification::forward(const BatchTensors& batch) {
  auto hidden = model(batch);
  if (config_.classifier_pooling == "cls") {
    hidden = hidden.select(1, 0);
  } else {
    const auto mask = batch.attention_mask.unsqueeze(-1);
    hidden = (hidden * mask).sum(1) / batch.attention_mask.sum(1, /*keepdim=*/true);
  }
  return classifier(drop(head(hidden)));
}

void ModernBertForSequenceClassification::init_selected(const ParameterFilter& wanted) {
  const double cutoff = config_.initializer_cutoff_factor;
  const double in = config_.initializer_range;
  const double out = config_.initializer_range / std::sqrt(2.0 * config_.num_hidden_layers);
  const double final_out = std::pow(static_cast<double>(config_.hidden_size), -0.5);
  // init_weight(module, std): truncated-normal weight, zero bias; in _init_weights' order.
  const auto init = [&](const std::string& name, torch::nn::Module& module, double std) {
    for (auto& item : module.named_parameters(/*recurse=*/false)) {
      if (!wanted(name + "." + item.key())) continue;
      if (item.key() == "weight") trunc_normal(item.value(), std, cutoff);
      else item.value().zero_();
    }
  };
  const auto init_norm = [&](const std::string& name, ModernBertLayerNormImpl& norm) {
    if (wanted(name + ".weight")) norm.weight.fill_(1.0);
    if (norm.bias.defined() && wanted(name + ".bias")) norm.bias.zero_();
  };
  init_norm("model.embeddings.norm", *model->embeddings->norm);
  init("model.embeddings.tok_embeddings", *model->embeddings->tok_embeddings, in);
  for (size_t i = 0; i < model->layers->size(); ++i) {
    auto* layer = model->layers[i]->as<ModernBertEncoderLayerImpl>();
    const std::string at = "model.layers." + std::to_string(i);
    if (layer->attn_norm) init_norm(at + ".attn_norm", *layer->attn_norm);
    init(at + ".attn.Wqkv", *layer->attn->Wqkv, in);
    init(at + ".attn.Wo", *layer->attn->Wo, out);
    init_norm(at + ".mlp_norm", *layer->mlp_norm);
    init(at + ".mlp.Wi", *layer->mlp->Wi, in);
    init(at + ".mlp.Wo", *layer->mlp->Wo, out);
  }
  init_norm("model.final_norm", *model->final_norm);
  init("head.dense", *head->dense, out);
  init_norm("head.norm", *head->norm);
  init("classifier", *classifier, final_out);
}

}  // namespace tce
