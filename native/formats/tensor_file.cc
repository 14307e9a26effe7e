#include "formats/tensor_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <system_error>

#ifdef _WIN32
#include <io.h>
#include <process.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include "runtime/errors.h"

namespace tce {

namespace {

std::string errno_message() { return std::error_code(errno, std::generic_category()).message(); }

}  // namespace

// ---- InputFile ---------------------------------------------------------------------------

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

// ---- AtomicFileWriter --------------------------------------------------------------------

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path), tmp_(temp_name(path)) {
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_) throw IoError(tmp_ + ": cannot create: " + errno_message());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
  if (size != 0 && std::fwrite(data, 1, size, file_) != size) {
    throw IoError(tmp_ + ": write failed: " + errno_message());
  }
}

void AtomicFileWriter::commit() {
  if (std::fflush(file_) != 0) throw IoError(tmp_ + ": write failed: " + errno_message());
  if (sync_file() != 0) throw IoError(tmp_ + ": fsync failed: " + errno_message());
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) throw IoError(tmp_ + ": close failed: " + errno_message());
  if (!replace(tmp_, path_)) throw IoError(path_ + ": cannot rename " + tmp_ + " over it: " + errno_message());
  committed_ = true;
  sync_parent_directory();
}

std::string AtomicFileWriter::temp_name(const std::string& path) {
  // The counter keeps two saves of one path in the same process from sharing a temp file.
  static std::atomic<unsigned> counter{0};
#ifdef _WIN32
  const long pid = _getpid();
#else
  const long pid = static_cast<long>(getpid());
#endif
  return path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter++);
}

int AtomicFileWriter::sync_file() {
#ifdef _WIN32
  return _commit(_fileno(file_));
#else
  return fsync(fileno(file_));
#endif
}

bool AtomicFileWriter::replace(const std::string& from, const std::string& to) {
#ifdef _WIN32
  return MoveFileExA(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0;
#else
  return std::rename(from.c_str(), to.c_str()) == 0;
#endif
}

// Makes the rename itself durable; best effort, as some filesystems refuse a directory fsync.
void AtomicFileWriter::sync_parent_directory() {
#ifndef _WIN32
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    ::close(fd);
  }
#endif
}

NamedTensors read_all(const StoredTensors& stored) {
  NamedTensors tensors;
  tensors.reserve(stored.size());
  for (const StoredTensor& t : stored) tensors.emplace_back(t.name, t.read());
  return tensors;
}

// ---- Dtypes and sizes --------------------------------------------------------------------

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
