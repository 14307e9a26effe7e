// BERT for sequence classification (`model_type: bert`), block by block as Hugging Face's
// modeling_bert.py. Every submodule is registered under the name it has in a Hugging Face state
// dict, so `named_parameters()` yields `bert.encoder.layer.0.attention.self.query.weight` and
// friends: loading and saving checkpoints is a plain name lookup.
#pragma once

#include <torch/torch.h>

#include "models/bert_encoder.h"
#include "models/config_values.h"
#include "models/sequence_classifier.h"
#include "models/token_encoder.h"

namespace tce {

struct BertConfig {
  EncoderConfig encoder;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  int64_t pad_token_id = 0;
  double classifier_dropout = 0;
  double initializer_range = 0;
  int64_t num_labels = 0;

  static BertConfig from(const ConfigValues& values);
  ModelShape shape() const;
};

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(int64_t hidden_size);
  torch::Tensor forward(const torch::Tensor& hidden_states);  // dense + tanh of [CLS]

  Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

struct BertModelImpl : TokenEncoder {
  explicit BertModelImpl(const BertConfig& config);
  // The last hidden states [B, S, H] (the pooler is the classifier's to apply).
  torch::Tensor forward(const BatchTensors& batch) override;

  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

class BertForSequenceClassification : public SequenceClassifier {
 public:
  explicit BertForSequenceClassification(const BertConfig& config);
  torch::Tensor forward(const BatchTensors& batch) override;

  BertModel bert{nullptr};
  torch::nn::Dropout dropout{nullptr};
  Linear classifier{nullptr};

 protected:
  void init_selected(const ParameterFilter& wanted) override;

 private:
  BertConfig config_;
};

}  // namespace tce
