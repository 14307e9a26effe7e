// JS token batches to the N-API-free batch structs: typed arrays are checked for type and length
// and read in place, so the caller must keep them alive (keep_alive) until the work is done.
// Throws ArgumentError naming the bad argument or field.
#pragma once

#include <cstddef>
#include <vector>

#include <napi.h>

#include "model/batch.h"
#include "training/labelled_batch.h"

namespace tce {

// (inputIds, tokenTypeIds, attentionMask, batchSize, seqLength) from info[first...].
TokenBatch token_batch_from_args(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep_alive);

// The same from an object { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength }.
TokenBatch token_batch_from_object(const Napi::Object& object, std::vector<Napi::Value>& keep_alive);

// { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength, labels: Float32Array }
LabelledBatch labelled_batch_from_js(const Napi::Value& value, std::vector<Napi::Value>& keep_alive);

}  // namespace tce
