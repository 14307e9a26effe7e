// The safetensors format (Hugging Face's model.safetensors): an 8-byte little-endian header
// length, a JSON header mapping names to {dtype, shape, data_offsets} (plus an optional
// "__metadata__" object of strings), then the raw little-endian tensor bytes.
#pragma once

#include <map>
#include <string>

#include "formats/tensor_file.h"

namespace tce {

// Validates the whole header — known dtypes, shape × dtype size == span length, spans that tile
// the data section exactly — and returns the tensors in header order, unread; each read()
// gives float32 for F16/BF16/F64. Throws FormatError / IoError naming the file and the problem.
StoredTensors scan_safetensors(const std::string& path);

// scan_safetensors, with every tensor read.
NamedTensors read_safetensors(const std::string& path);

// Writes the tensors in the given order (CPU; F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL),
// with `metadata` as "__metadata__" when not empty. Goes through `path + ".tmp-<pid>"`, fsync and
// rename, so readers never see a partial file. Throws ArgumentError for an unsupported tensor or
// a duplicate name, IoError when writing fails.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace tce
