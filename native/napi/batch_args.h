// JS token batches to the N-API-free batch structs: typed arrays are checked for type and length
// and read in place, so the caller must keep them alive (keep_alive) until the work is done.
// Throws ArgumentError naming the bad argument or field.
#pragma once

#include <vector>

#include <napi.h>

#include "models/batch.h"
#include "training/labelled_batch.h"

namespace tce {

// { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength }: the one shape of a batch, for
// the model's forward and, with labels, for the trainer.
TokenBatch token_batch_from_object(const Napi::Object& object, std::vector<Napi::Value>& keep_alive);

// { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength, labels: Float32Array } (one
// chunk), or { chunks: [token batch...], rows, labels?, labelColumns?, groupSizes?: Int32Array,
// candidates?: { inputIds, tokenTypeIds, offsets: Int32Array }, columns?, padTokenId? } (see
// LossBatch in training/labelled_batch.h).
LossBatch labelled_batch_from_js(const Napi::Value& value, std::vector<Napi::Value>& keep_alive);

}  // namespace tce
