// RoBERTa and XLM-RoBERTa for sequence classification (`model_type: roberta`, `xlm-roberta`;
// transformers' XLM-R classes are copies of RoBERTa's), as modeling_roberta.py: BERT's encoder
// under `roberta.`, position ids counted from the non-padding tokens (so real tokens start at
// pad_token_id + 1), no pooler, and RobertaClassificationHead (`classifier.dense` → tanh →
// `classifier.out_proj` on `<s>`, dropout before each).
#pragma once

#include <torch/torch.h>

#include "models/bert_encoder.h"
#include "models/config_values.h"
#include "models/sequence_classifier.h"
#include "models/token_encoder.h"

namespace tce {

struct RobertaConfig {
  EncoderConfig encoder;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  int64_t pad_token_id = 0;  // also the padding_idx of the position embeddings
  double classifier_dropout = 0;
  double initializer_range = 0;
  int64_t num_labels = 0;

  static RobertaConfig from(const ConfigValues& values);
  ModelShape shape() const;
};

struct RobertaEmbeddingsImpl : torch::nn::Module {
  explicit RobertaEmbeddingsImpl(const RobertaConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  int64_t padding_idx;
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(RobertaEmbeddings);

// create_position_ids_from_input_ids: padding_idx + the running count of non-padding tokens,
// and padding_idx itself at padding tokens.
torch::Tensor roberta_position_ids(const torch::Tensor& input_ids, int64_t padding_idx);

struct RobertaModelImpl : TokenEncoder {
  explicit RobertaModelImpl(const RobertaConfig& config);
  // The last hidden states [B, S, H].
  torch::Tensor forward(const BatchTensors& batch) override;

  RobertaEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
};
TORCH_MODULE(RobertaModel);

class RobertaForSequenceClassification : public SequenceClassifier {
 public:
  explicit RobertaForSequenceClassification(const RobertaConfig& config);
  torch::Tensor forward(const BatchTensors& batch) override;

  RobertaModel roberta{nullptr};
  ClassificationHead classifier{nullptr};

 protected:
  void init_selected(const ParameterFilter& wanted) override;

 private:
  RobertaConfig config_;
};

}  // namespace tce
