#include "models/bert.h"

#include "models/init_weights.h"
#include "runtime/errors.h"

namespace tce {

ModelShape BertConfig::shape() const {
  const BertConfig& c = *this;
  return ModelShape{c.num_labels, c.vocab_size, c.type_vocab_size, c.max_position_embeddings, "bert"};
}

BertConfig BertConfig::from(const ConfigValues& v) {
  BertConfig c;
  c.encoder = EncoderConfig::from(v);
  c.vocab_size = v.integer("vocab_size", 1, int64_t{1} << 24);
  c.max_position_embeddings = v.integer("max_position_embeddings", 1, 1 << 20);
  c.type_vocab_size = v.integer("type_vocab_size", 1, 1 << 16);
  c.pad_token_id = v.integer("pad_token_id", 0, c.vocab_size - 1);
  c.classifier_dropout = v.probability("classifier_dropout");
  c.initializer_range = v.positive("initializer_range");
  c.num_labels = v.integer("num_labels", 1, 1 << 20);
  return c;
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  const int64_t h = c.encoder.hidden_size;
  word_embeddings = register_module(
      "word_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, h).padding_idx(c.pad_token_id)));
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, h));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, h));
  LayerNorm = register_module("LayerNorm", make_layer_norm(h, c.encoder.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.encoder.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const auto positions = torch::arange(input_ids.size(1), torch::kLong);
  // Same summation order as Hugging Face: (words + token types) + positions.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  embeddings = embeddings + position_embeddings(positions);
  return dropout(LayerNorm(embeddings));
}

BertPoolerImpl::BertPoolerImpl(int64_t hidden_size) {
  dense = register_module("dense", Linear(hidden_size, hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden_states) {
  return torch::tanh(dense(hidden_states.select(1, 0)));
}

BertModelImpl::BertModelImpl(const BertConfig& c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c.encoder));
  pooler = register_module("pooler", BertPooler(c.encoder.hidden_size));
}

torch::Tensor BertModelImpl::forward(const BatchTensors& batch) {
  const auto hidden = embeddings(batch.input_ids, batch.token_type_ids);
  return encoder(hidden, batch.attention_mask);
}

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& c)
    : SequenceClassifier(c.shape()), config_(c) {
  bert = register_module("bert", BertModel(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.classifier_dropout));
  classifier = register_module("classifier", Linear(c.encoder.hidden_size, c.num_labels));
}

torch::Tensor BertForSequenceClassification::forward(const BatchTensors& batch) {
  return classifier(dropout(bert->pooler(bert(batch))));
}

void BertForSequenceClassification::init_selected(const ParameterFilter& wanted) {
  init_bert_style(*this, config_.initializer_range, wanted);
}

}  // namespace tce
