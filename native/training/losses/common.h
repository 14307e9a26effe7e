// Helpers the loss files share: activations, the padded [queries, max docs] matrices of the
// listwise losses, and collating pairs the loss picks itself (MNRL's drawn negatives).
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "training/losses/loss.h"

namespace tce {

// ST's activation_fn: "identity" (nn.Identity), "sigmoid" (nn.Sigmoid), "tanh" (nn.Tanh).
void check_activation(const std::string& loss, const std::string& name);
at::Tensor activate(const std::string& name, const at::Tensor& x);

// Every chunk through the model, logits concatenated: [pairs, num_labels].
at::Tensor forward_chunks(const LossBatch& batch, const Forward& forward);

// The labels as a float tensor of label_count values (a view of the batch's memory).
at::Tensor labels_of(const LossBatch& batch);

// Where each pair of a listwise batch sits in the [queries, max docs] matrices.
struct ListLayout {
  int64_t queries = 0;
  int64_t max_docs = 0;
  at::Tensor query_index;  // [pairs] int64: torch.repeat_interleave(arange(B), docs_per_query)
  at::Tensor doc_index;    // [pairs] int64: cat(arange(len(docs)) for each query)

  explicit ListLayout(const LossBatch& batch);
  // torch.full((B, max_docs), fill) with the pairs' values put in place (autograd flows).
  at::Tensor matrix(const at::Tensor& values, double fill) const;
  // The same for booleans: true where a pair is.
  at::Tensor mask() const;
};

// The rows `picked` of `pairs`, padded to the longest with `pad_id` (type 0, attention 0), as
// owning tensors and a TokenBatch over them.
struct CollatedPairs {
  at::Tensor input_ids, token_type_ids, attention_mask;
  TokenBatch batch;
};
CollatedPairs collate_pairs(const RaggedPairs& pairs, const std::vector<int64_t>& picked, int32_t pad_id);

}  // namespace tce
