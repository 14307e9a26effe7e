// The pieces every weight-file format shares: the named-tensor result, bounds-checked
// random-access input, atomic output, the dtype policy and arithmetic on untrusted sizes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

// Every format stores little-endian bytes, which the readers copy straight into tensors.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "torch-crossencoder reads weight files on little-endian hosts only"
#endif

namespace tce {

// Tensors by state-dict name, in file order. Every tensor is CPU, contiguous and owns its
// memory; floating tensors are float32, integer and bool tensors keep their dtype.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// A tensor of a weight file as its header describes it, read only when asked: a loader checks
// names and shapes against the model first, so a file cannot make it allocate more than the
// model it fills, and never reads tensors the model has no use for.
struct StoredTensor {
  std::string name;
  at::ScalarType dtype;  // as stored
  std::vector<int64_t> shape;
  // The tensor as NamedTensors holds it. Each call reads the file again.
  std::function<at::Tensor()> read;
  // Where the stored bytes are already what `dst` holds (float32, contiguous, this shape): reads
  // them straight into it, with no copy in between. Empty when the format cannot.
  std::function<void(const at::Tensor& dst)> read_into;
};
using StoredTensors = std::vector<StoredTensor>;

// Reads every stored tensor, in order.
NamedTensors read_all(const StoredTensors& stored);

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

// Writes to a temporary sibling and renames it over `path` only once everything is on disk, so
// readers never see a partial file. Without commit() the temporary file is removed. IoError on
// any failure.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(const void* data, size_t size);
  // Flushes, fsyncs, renames over the target, then fsyncs the directory (best effort).
  void commit();

 private:
  static std::string temp_name(const std::string& path);
  int sync_file();
  static bool replace(const std::string& from, const std::string& to);
  void sync_parent_directory();

  std::string path_;
  std::string tmp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// The models compute in float32: F16/BF16/F64 become float32; other dtypes are returned as is.
at::Tensor to_float32_if_floating(const at::Tensor& tensor);

// "[2, 3]" for messages.
std::string shape_string(at::IntArrayRef shape);

// a * b, or false if the product does not fit in uint64_t (sizes read from files are untrusted).
bool checked_mul(uint64_t a, uint64_t b, uint64_t* out);

// Little-endian unsigned integers from raw bytes, whatever their alignment.
inline uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t le32(const unsigned char* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
inline uint64_t le64(const unsigned char* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

}  // namespace tce
