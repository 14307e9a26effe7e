// pytorch_model.bin: the zip archive Python's torch.save (1.6+) writes for a state dict.
// `<archive>/data.pkl` pickles a dict of tensors whose storages are the STORED entries
// `<archive>/data/<key>`. libtorch's C++ unpickler cannot read these (it turns the
// collections.OrderedDict into None), hence this reader: the archive's layout over
// zip_reader.h (the bounds-checked directory) and unpickler.h (a pickle machine for state dicts).
#pragma once

#include <string>

#include "formats/tensor_file.h"

namespace tce {

// Scans a flat state dict (name → tensor, dict or OrderedDict) in pickle order without reading
// any storage: each tensor's size, stride and storage offset are checked against its storage,
// and each storage against its record. read() gives a contiguous copy of the view (F16/BF16/F64
// as float32), checked against the record's CRC-32. Anything else — the legacy non-zip format,
// compressed entries, nested dicts, unknown pickle opcodes or globals — is a FormatError that
// names the file and the problem.
StoredTensors scan_torch_bin(const std::string& path);

// scan_torch_bin, with every tensor read.
NamedTensors read_torch_bin(const std::string& path);

}  // namespace tce
