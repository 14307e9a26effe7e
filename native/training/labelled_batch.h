// What a training step or an evaluation loss takes from JS: token batches with their labels and
// the layout a loss needs. Apart from the losses so the N-API layer can build one without
// compiling libtorch's headers.
#pragma once

#include <cstdint>
#include <vector>

#include "models/batch.h"

namespace tce {

// Token ids of pairs of different lengths, back to back: pair i is [offsets[i], offsets[i + 1]).
struct RaggedPairs {
  const int32_t* input_ids = nullptr;
  const int32_t* token_type_ids = nullptr;
  const int32_t* offsets = nullptr;  // count + 1 values
  int64_t count = 0;
};

// What one micro-batch gives a loss. Which fields are set depends on the loss family:
// - pointwise (BCE, CE, MSE): one chunk of `rows` pairs, `rows` labels;
// - MarginMSE: chunks = the positive column then each negative column (rows pairs each), labels
//   [rows, label_columns] (margins, or scores of the positive and every negative);
// - listwise: the pairs of every query flattened in order, in chunks of the loss's mini-batch
//   size; group_sizes = documents per query, labels = one per pair;
// - MNRL: no chunks; `candidates` holds the pair (query i, candidate j) at i * rows * columns + j,
//   candidate j being column j / rows (0: the positive, then each hard negative) of row j % rows.
struct LossBatch {
  std::vector<TokenBatch> chunks;
  const float* labels = nullptr;
  int64_t label_count = 0;
  int64_t label_columns = 1;
  int64_t rows = 0;
  std::vector<int64_t> group_sizes;
  RaggedPairs candidates;
  int64_t columns = 0;
  int32_t pad_token_id = 0;
  // Which of the trainer's losses this batch is for (its dataset, in multi-dataset training).
  int64_t loss_index = 0;
};

}  // namespace tce
