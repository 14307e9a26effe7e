// Just enough of zip (APPNOTE.TXT) for torch.save archives: the central directory, zip64
// included, read with every offset and size checked against the file, and random access to
// STORED entries, which torch.save writes uncompressed so tensors can be read in place.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "formats/tensor_file.h"

namespace tce {

struct ZipEntry {
  uint64_t local_header_offset = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint32_t crc32 = 0;
  uint16_t method = 0;
  uint16_t flags = 0;
};

class ZipReader {
 public:
  // Reads the central directory; a FormatError names what is corrupt.
  explicit ZipReader(InputFile& file);

  const ZipEntry* find(const std::string& name) const;  // nullptr if absent
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }

  // Absolute file offset of a STORED entry's bytes, with [offset, offset + size) checked to lie
  // before the central directory.
  uint64_t data_offset(const std::string& name, const ZipEntry& e);
  // The entry's bytes, checked against its CRC-32: a corrupt local header shifts where the data
  // seems to start, and flipped bits change it, neither of which the sizes reveal.
  std::string read(const std::string& name, const ZipEntry& e);
  void read_into(const std::string& name, const ZipEntry& e, void* dst);

 private:
  [[noreturn]] void corrupt(const std::string& what) const;
  void check_crc(const std::string& name, const ZipEntry& e, const void* bytes) const;
  uint64_t find_end_of_central_directory(std::string* record);
  void read_central_directory();
  uint64_t read_central_entry(const std::string& cd, uint64_t pos);
  void apply_zip64_extra(const std::string& name, std::string_view extra, ZipEntry* e);

  InputFile& file_;
  std::map<std::string, ZipEntry> entries_;
  uint64_t data_limit_ = 0;  // entry data must end before this offset
};

}  // namespace tce
