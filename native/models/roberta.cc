#include "models/roberta.h"

#include "models/init_weights.h"
#include "runtime/errors.h"

namespace tce {

ModelShape RobertaConfig::shape() const {
  const RobertaConfig& c = *this;
  return ModelShape{c.num_labels, c.vocab_size, c.type_vocab_size, c.max_position_embeddings - c.pad_token_id - 1, "roberta"};
}

RobertaConfig RobertaConfig::from(const ConfigValues& v) {
  RobertaConfig c;
  c.encoder = EncoderConfig::from(v);
  c.vocab_size = v.integer("vocab_size", 1, int64_t{1} << 24);
  c.max_position_embeddings = v.integer("max_position_embeddings", 1, 1 << 20);
  c.type_vocab_size = v.integer("type_vocab_size", 1, 1 << 16);
  c.pad_token_id = v.integer("pad_token_id", 0, c.vocab_size - 1);
  if (c.pad_token_id + 1 >= c.max_position_embeddings) {
    throw ArgumentError("config.max_position_embeddings (" + std::to_string(c.max_position_embeddings) +
                        ") leaves no position for a token: positions start at pad_token_id + 1 (" +
                        std::to_string(c.pad_token_id + 1) + ")");
  }
  c.classifier_dropout = v.probability("classifier_dropout");
  c.initializer_range = v.positive("initializer_range");
  c.num_labels = v.integer("num_labels", 1, 1 << 20);
  return c;
}

torch::Tensor roberta_position_ids(const torch::Tensor& input_ids, int64_t padding_idx) {
  const auto mask = input_ids.ne(padding_idx).to(torch::kInt);
  const auto incremental = torch::cumsum(mask, 1).to(torch::kInt) * mask;
  return incremental.to(torch::kLong) + padding_idx;
}

RobertaEmbeddingsImpl::RobertaEmbeddingsImpl(const RobertaConfig& c) : padding_idx(c.pad_token_id) {
  const int64_t h = c.encoder.hidden_size;
  word_embeddings = register_module(
      "word_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, h).padding_idx(padding_idx)));
  position_embeddings = register_module(
      "position_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(c.max_position_embeddings, h).padding_idx(padding_idx)));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, h));
  LayerNorm = register_module("LayerNorm", make_layer_norm(h, c.encoder.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.encoder.hidden_dropout_prob));
}

torch::Tensor RobertaEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  // As modeling_roberta.py: (words + token types) + positions.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  embeddings = embeddings + position_embeddings(roberta_position_ids(input_ids, padding_idx));
  return dropout(LayerNorm(embeddings));
}

RobertaModelImpl::RobertaModelImpl(const RobertaConfig& c) {
  embeddings = register_module("embeddings", RobertaEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c.encoder));
}

torch::Tensor RobertaModelImpl::forward(const BatchTensors& batch) {
  const auto hidden = embeddings(batch.input_ids, batch.token_type_ids);
  return encoder(hidden, batch.attention_mask);
}

RobertaForSequenceClassification::RobertaForSequenceClassification(const RobertaConfig& c)
    : SequenceClassifier(c.shape()), config_(c) {
  roberta = register_module("roberta", RobertaModel(c));
  classifier = register_module(
      "classifier", ClassificationHead(c.encoder.hidden_size, c.classifier_dropout, c.num_labels, "tanh"));
}

torch::Tensor RobertaForSequenceClassification::forward(const BatchTensors& batch) {
  return classifier(roberta(batch));
}

void RobertaForSequenceClassification::init_selected(const ParameterFilter& wanted) {
  init_bert_style(*this, config_.initializer_range, wanted);
}

}  // namespace tce
