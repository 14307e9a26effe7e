#include "model/bert_config.h"

#include "model/activations.h"
#include "runtime/errors.h"

namespace tce {

void BertConfig::validate() const {
  auto positive = [](int64_t v, const char* field, int64_t max) {
    if (v <= 0 || v > max) {
      throw ArgumentError(std::string("config.") + field + " must be an integer in [1, " +
                          std::to_string(max) + "], got " + std::to_string(v));
    }
  };
  positive(vocab_size, "vocab_size", int64_t{1} << 24);
  positive(hidden_size, "hidden_size", 65536);
  positive(num_hidden_layers, "num_hidden_layers", 1024);
  positive(num_attention_heads, "num_attention_heads", 4096);
  positive(intermediate_size, "intermediate_size", 1 << 20);
  positive(max_position_embeddings, "max_position_embeddings", 1 << 20);
  positive(type_vocab_size, "type_vocab_size", 1 << 16);
  positive(num_labels, "num_labels", 1 << 20);
  if (hidden_size % num_attention_heads != 0) {
    throw ArgumentError("config.hidden_size (" + std::to_string(hidden_size) +
                        ") is not a multiple of num_attention_heads (" +
                        std::to_string(num_attention_heads) + ")");
  }
  if (!is_supported_activation(hidden_act)) throw ArgumentError("unsupported config.hidden_act '" + hidden_act + "'");
  for (double p : {hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout}) {
    if (!(p >= 0.0 && p < 1.0)) throw ArgumentError("config dropout probabilities must be in [0, 1)");
  }
  if (!(layer_norm_eps > 0.0)) throw ArgumentError("config.layer_norm_eps must be > 0");
}

}  // namespace tce
