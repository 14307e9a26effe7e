// Weight files on disk: picks the reader by the file's extension.
#pragma once

#include <string>

#include "formats/tensor_file.h"

namespace tce {

// Scans `.safetensors`, or a `torch.save` archive (`.bin`, `.pt`, `.pth`): the tensors' names and
// shapes, each read on demand. Throws tce::Error: ERR_IO if the file cannot be read,
// ERR_MODEL_FORMAT if it is malformed, ERR_INVALID_ARGUMENT for any other extension.
StoredTensors scan_weights(const std::string& path);

// scan_weights, with every tensor read.
NamedTensors read_weights(const std::string& path);

}  // namespace tce
