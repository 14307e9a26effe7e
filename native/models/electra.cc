#include "models/electra.h"

#include "models/init_weights.h"

namespace tce {

ModelShape ElectraConfig::shape() const {
  const ElectraConfig& c = *this;
  return ModelShape{c.num_labels, c.vocab_size, c.type_vocab_size, c.max_position_embeddings, "electra"};
}

ElectraConfig ElectraConfig::from(const ConfigValues& v) {
  ElectraConfig c;
  c.encoder = EncoderConfig::from(v);
  c.embedding_size = v.integer("embedding_size", 1, 65536);
  c.vocab_size = v.integer("vocab_size", 1, int64_t{1} << 24);
  c.max_position_embeddings = v.integer("max_position_embeddings", 1, 1 << 20);
  c.type_vocab_size = v.integer("type_vocab_size", 1, 1 << 16);
  c.pad_token_id = v.integer("pad_token_id", 0, c.vocab_size - 1);
  c.classifier_dropout = v.probability("classifier_dropout");
  c.initializer_range = v.positive("initializer_range");
  c.num_labels = v.integer("num_labels", 1, 1 << 20);
  return c;
}

ElectraEmbeddingsImpl::ElectraEmbeddingsImpl(const ElectraConfig& c) {
  const int64_t e = c.embedding_size;
  word_embeddings = register_module(
      "word_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, e).padding_idx(c.pad_token_id)));
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, e));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, e));
  LayerNorm = register_module("LayerNorm", make_layer_norm(e, c.encoder.layer_norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(c.encoder.hidden_dropout_prob));
}

torch::Tensor ElectraEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const auto positions = torch::arange(input_ids.size(1), torch::kLong);
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  embeddings = embeddings + position_embeddings(positions);
  return dropout(LayerNorm(embeddings));
}

ElectraModelImpl::ElectraModelImpl(const ElectraConfig& c) {
  embeddings = register_module("embeddings", ElectraEmbeddings(c));
  if (c.embedding_size != c.encoder.hidden_size) {
    embeddings_project =
        register_module("embeddings_project", Linear(c.embedding_size, c.encoder.hidden_size));
  }
  encoder = register_module("encoder", BertEncoder(c.encoder));
}

torch::Tensor ElectraModelImpl::forward(const BatchTensors& batch) {
  auto hidden = embeddings(batch.input_ids, batch.token_type_ids);
  if (embeddings_project) hidden = embeddings_project(hidden);
  return encoder(hidden, batch.attention_mask);
}

ElectraForSequenceClassification::ElectraForSequenceClassification(const ElectraConfig& c)
    : SequenceClassifier(c.shape()), config_(c) {
  electra = register_module("electra", ElectraModel(c));
  classifier = register_module(
      "classifier", ClassificationHead(c.encoder.hidden_size, c.classifier_dropout, c.num_labels, "gelu"));
}

torch::Tensor ElectraForSequenceClassification::forward(const BatchTensors& batch) {
  return classifier(electra(batch));
}

void ElectraForSequenceClassification::init_selected(const ParameterFilter& wanted) {
  init_bert_style(*this, config_.initializer_range, wanted);
}

}  // namespace tce
