// Weight files on disk: the reader dispatch by extension, and the pieces shared by the
// safetensors and pytorch_model.bin readers (bounds-checked random-access input, dtype policy).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

// Both formats store little-endian bytes, which the readers copy straight into tensors.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "torch-crossencoder reads weight files on little-endian hosts only"
#endif

namespace tce {

// Tensors by state-dict name, in file order. Every tensor is CPU, contiguous and owns its
// memory; floating tensors are float32, integer and bool tensors keep their dtype.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Reads `.safetensors`, or a `torch.save` archive (`.bin`, `.pt`, `.pth`).
// Throws tce::Error: ERR_IO if the file cannot be read, ERR_MODEL_FORMAT if it is malformed,
// ERR_INVALID_ARGUMENT for any other extension.
NamedTensors read_weights(const std::string& path);

// A regular file opened for reads at absolute offsets. Every read is checked against the file
// size, so a corrupt length or offset becomes a FormatError instead of a read past the end.
class InputFile {
 public:
  explicit InputFile(const std::string& path);  // IoError if missing, unreadable or not a file

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // Copies bytes [offset, offset + length) into dst.
  void read(uint64_t offset, void* dst, uint64_t length);
  std::string read_string(uint64_t offset, uint64_t length);

 private:
  void check_range(uint64_t offset, uint64_t length) const;

  std::string path_;
  std::ifstream stream_;
  uint64_t size_ = 0;
};

// The models compute in float32: F16/BF16/F64 become float32; other dtypes are returned as is.
at::Tensor to_float32_if_floating(const at::Tensor& tensor);

// "[2, 3]" for messages.
std::string shape_string(at::IntArrayRef shape);

// a * b, or false if the product does not fit in uint64_t (sizes read from files are untrusted).
bool checked_mul(uint64_t a, uint64_t b, uint64_t* out);

}  // namespace tce
