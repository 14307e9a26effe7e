#include "weights_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <system_error>

#include "errors.h"
#include "safetensors.h"
#include "torch_bin.h"

namespace tce {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

NamedTensors read_weights(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".safetensors") return read_safetensors(path);
  if (ext == ".bin" || ext == ".pt" || ext == ".pth") return read_torch_bin(path);
  throw ArgumentError(path + ": unknown weight file extension '" + ext +
                      "' (expected .safetensors, or .bin / .pt / .pth for torch.save archives)");
}

InputFile::InputFile(const std::string& path) : path_(path) {
  std::error_code ec;
  // ifstream happily "opens" a directory on Linux; reject it here with a clear message.
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw IoError(path + ": file not found");
  if (!std::filesystem::is_regular_file(status)) throw IoError(path + ": not a regular file");
  size_ = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(path + ": cannot get the file size: " + ec.message());
  stream_.open(path, std::ios::binary);
  if (!stream_) throw IoError(path + ": cannot open for reading");
}

void InputFile::check_range(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    throw FormatError(path_ + ": truncated: needs " + std::to_string(length) + " bytes at offset " +
                      std::to_string(offset) + " but the file has " + std::to_string(size_) +
                      " bytes");
  }
}

void InputFile::read(uint64_t offset, void* dst, uint64_t length) {
  check_range(offset, length);
  if (length == 0) return;
  stream_.clear();
  stream_.seekg(static_cast<std::streamoff>(offset));
  // Chunked so no single read needs a streamsize beyond what every platform supports.
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  char* out = static_cast<char*>(dst);
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min(kChunk, length - done);
    if (!stream_.read(out + done, static_cast<std::streamsize>(n))) {
      throw IoError(path_ + ": read failed at byte " + std::to_string(offset + done));
    }
    done += n;
  }
}

std::string InputFile::read_string(uint64_t offset, uint64_t length) {
  check_range(offset, length);  // before allocating: a corrupt length must not request gigabytes
  std::string bytes;
  bytes.resize(static_cast<size_t>(length));
  read(offset, bytes.data(), length);
  return bytes;
}

at::Tensor to_float32_if_floating(const at::Tensor& tensor) {
  return at::isFloatingType(tensor.scalar_type()) ? tensor.to(at::kFloat) : tensor;
}

std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

}  // namespace tce
