// ELECTRA for sequence classification (`model_type: electra`), as modeling_electra.py:
// embeddings of `embedding_size` under `electra.embeddings`, projected to the hidden size by
// `electra.embeddings_project` when the two differ, BERT's encoder, no pooler, and
// ElectraClassificationHead (`classifier.dense` → gelu → `classifier.out_proj` on the first
// token, dropout before each).
#pragma once

#include <torch/torch.h>

#include "models/bert_encoder.h"
#include "models/config_values.h"
#include "models/sequence_classifier.h"
#include "models/token_encoder.h"

namespace tce {

struct ElectraConfig {
  EncoderConfig encoder;
  int64_t embedding_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  int64_t pad_token_id = 0;
  double classifier_dropout = 0;
  double initializer_range = 0;
  int64_t num_labels = 0;

  static ElectraConfig from(const ConfigValues& values);
  ModelShape shape() const;
};

struct ElectraEmbeddingsImpl : torch::nn::Module {
  explicit ElectraEmbeddingsImpl(const ElectraConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ElectraEmbeddings);

struct ElectraModelImpl : TokenEncoder {
  explicit ElectraModelImpl(const ElectraConfig& config);
  // The last hidden states [B, S, H].
  torch::Tensor forward(const BatchTensors& batch) override;

  ElectraEmbeddings embeddings{nullptr};
  Linear embeddings_project{nullptr};  // only when embedding_size != hidden_size
  BertEncoder encoder{nullptr};
};
TORCH_MODULE(ElectraModel);

class ElectraForSequenceClassification : public SequenceClassifier {
 public:
  explicit ElectraForSequenceClassification(const ElectraConfig& config);
  torch::Tensor forward(const BatchTensors& batch) override;

  ElectraModel electra{nullptr};
  ClassificationHead classifier{nullptr};

 protected:
  void init_selected(const ParameterFilter& wanted) override;

 private:
  ElectraConfig config_;
};

}  // namespace tce
