#include "formats/zip_reader.h"

#include <algorithm>
#include <cstdio>

#include "formats/crc32.h"
#include "runtime/errors.h"

namespace tce {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndOfCentralDirSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kMaxCommentSize = 0xFFFF;

std::string hex32(uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

const unsigned char* bytes_of(const std::string& s, size_t offset = 0) {
  return reinterpret_cast<const unsigned char*>(s.data()) + offset;
}

}  // namespace

ZipReader::ZipReader(InputFile& file) : file_(file) { read_central_directory(); }

const ZipEntry* ZipReader::find(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

uint64_t ZipReader::data_offset(const std::string& name, const ZipEntry& e) {
  const std::string where = file_.path() + ": zip entry '" + name + "'";
  if (e.flags & 1) throw FormatError(where + " is encrypted");
  if (e.method != 0) {
    throw FormatError(where + " is compressed (method " + std::to_string(e.method) +
                      "); torch.save stores entries uncompressed, so this archive was repacked. "
                      "Re-save it with torch.save or convert it to safetensors");
  }
  if (e.compressed_size != e.size) {
    throw FormatError(where + " is stored with compressed size " + std::to_string(e.compressed_size) +
                      " != size " + std::to_string(e.size));
  }
  if (e.local_header_offset > data_limit_ || kLocalHeaderSize > data_limit_ - e.local_header_offset) {
    throw FormatError(where + " has its local header outside the archive");
  }
  unsigned char header[kLocalHeaderSize];
  file_.read(e.local_header_offset, header, kLocalHeaderSize);
  if (le32(header) != kLocalHeaderSig) throw FormatError(where + " has a corrupt local header");
  const uint64_t data = e.local_header_offset + kLocalHeaderSize + le16(header + 26) + le16(header + 28);
  if (data > data_limit_ || e.size > data_limit_ - data) {
    throw FormatError(where + " (" + std::to_string(e.size) + " bytes at offset " + std::to_string(data) +
                      ") runs past the end of the archive data; the file is truncated or corrupt");
  }
  return data;
}

std::string ZipReader::read(const std::string& name, const ZipEntry& e) {
  const uint64_t offset = data_offset(name, e);  // bounds-checked before allocating
  std::string bytes;
  bytes.resize(static_cast<size_t>(e.size));
  file_.read(offset, bytes.data(), e.size);
  check_crc(name, e, bytes.data());
  return bytes;
}

void ZipReader::read_into(const std::string& name, const ZipEntry& e, void* dst) {
  file_.read(data_offset(name, e), dst, e.size);
  check_crc(name, e, dst);
}

void ZipReader::check_crc(const std::string& name, const ZipEntry& e, const void* bytes) const {
  const uint32_t actual = tce::crc32(bytes, static_cast<size_t>(e.size));
  if (actual != e.crc32) {
    throw FormatError(file_.path() + ": zip entry '" + name + "' fails its CRC-32 check (stored " +
                      hex32(e.crc32) + ", computed " + hex32(actual) + "); the file is corrupt");
  }
}

void ZipReader::corrupt(const std::string& what) const {
  throw FormatError(file_.path() + ": corrupt zip archive: " + what);
}

// Position of the end-of-central-directory record: the last signature whose comment length
// matches the bytes that follow it (a signature-like pattern in the comment cannot fool it).
uint64_t ZipReader::find_end_of_central_directory(std::string* record) {
  const uint64_t size = file_.size();
  const uint64_t tail_size = std::min<uint64_t>(size, kEndOfCentralDirSize + kMaxCommentSize);
  const std::string tail = file_.read_string(size - tail_size, tail_size);
  for (uint64_t i = tail_size - kEndOfCentralDirSize + 1; i-- > 0;) {
    if (le32(bytes_of(tail, i)) == kEndOfCentralDirSig &&
        i + kEndOfCentralDirSize + le16(bytes_of(tail, i + 20)) == tail_size) {
      *record = tail.substr(i, kEndOfCentralDirSize);
      return size - tail_size + i;
    }
  }
  throw FormatError(file_.path() +
                    ": truncated or corrupt zip archive: no end-of-central-directory record");
}

void ZipReader::read_central_directory() {
  if (file_.size() < kEndOfCentralDirSize) corrupt("file too short");
  std::string eocd;
  const uint64_t eocd_offset = find_end_of_central_directory(&eocd);
  const unsigned char* p = bytes_of(eocd);
  uint64_t disk = le16(p + 4), cd_disk = le16(p + 6);
  uint64_t count = le16(p + 10), cd_size = le32(p + 12), cd_offset = le32(p + 16);
  data_limit_ = eocd_offset;
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    // Zip64: the real values live in the zip64 end record, found through its locator.
    if (eocd_offset < kZip64LocatorSize) corrupt("zip64 end-of-central-directory locator missing");
    unsigned char locator[kZip64LocatorSize];
    file_.read(eocd_offset - kZip64LocatorSize, locator, kZip64LocatorSize);
    if (le32(locator) != kZip64LocatorSig) corrupt("zip64 end-of-central-directory locator missing");
    const uint64_t z64_offset = le64(locator + 8);
    if (z64_offset > eocd_offset - kZip64LocatorSize ||
        kZip64EndSize > eocd_offset - kZip64LocatorSize - z64_offset) {
      corrupt("zip64 end-of-central-directory record outside the file");
    }
    unsigned char z64[kZip64EndSize];
    file_.read(z64_offset, z64, kZip64EndSize);
    if (le32(z64) != kZip64EndSig) corrupt("bad zip64 end-of-central-directory signature");
    disk = le32(z64 + 16);
    cd_disk = le32(z64 + 20);
    count = le64(z64 + 32);
    cd_size = le64(z64 + 40);
    cd_offset = le64(z64 + 48);
    data_limit_ = z64_offset;
  }
  if (disk != 0 || cd_disk != 0) corrupt("multi-disk archives are not supported");
  if (cd_offset > data_limit_ || cd_size > data_limit_ - cd_offset) {
    corrupt("central directory (" + std::to_string(cd_size) + " bytes at offset " +
            std::to_string(cd_offset) + ") lies outside the file");
  }
  if (count > cd_size / kCentralHeaderSize) {
    corrupt(std::to_string(count) + " entries cannot fit in a " + std::to_string(cd_size) +
            "-byte central directory");
  }
  data_limit_ = cd_offset;  // entry data precedes the central directory
  const std::string cd = file_.read_string(cd_offset, cd_size);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) pos = read_central_entry(cd, pos);
}

// Parses the central directory entry at `pos`; returns the position of the next one.
uint64_t ZipReader::read_central_entry(const std::string& cd, uint64_t pos) {
  if (cd.size() - pos < kCentralHeaderSize) corrupt("central directory entry truncated");
  const unsigned char* p = bytes_of(cd, pos);
  if (le32(p) != kCentralHeaderSig) corrupt("bad central directory entry signature at offset " + std::to_string(pos));
  const uint64_t name_len = le16(p + 28), extra_len = le16(p + 30), comment_len = le16(p + 32);
  if (cd.size() - pos - kCentralHeaderSize < name_len + extra_len + comment_len) {
    corrupt("central directory entry truncated");
  }
  ZipEntry e;
  e.flags = le16(p + 8);
  e.method = le16(p + 10);
  e.crc32 = le32(p + 16);
  e.compressed_size = le32(p + 20);
  e.size = le32(p + 24);
  e.local_header_offset = le32(p + 42);
  const std::string name = cd.substr(pos + kCentralHeaderSize, name_len);
  apply_zip64_extra(name, std::string_view(cd).substr(pos + kCentralHeaderSize + name_len, extra_len), &e);
  if (!entries_.emplace(name, e).second) corrupt("duplicate entry '" + name + "'");
  return pos + kCentralHeaderSize + name_len + extra_len + comment_len;
}

// A 32-bit field of 0xFFFFFFFF means "see the zip64 extra field", which lists the 64-bit
// values in a fixed order, only for the fields that overflowed.
void ZipReader::apply_zip64_extra(const std::string& name, std::string_view extra, ZipEntry* e) {
  uint64_t* fields[] = {&e->size, &e->compressed_size, &e->local_header_offset};
  bool needed = false;
  for (uint64_t* f : fields) needed = needed || *f == 0xFFFFFFFF;
  if (!needed) return;
  const auto* x = reinterpret_cast<const unsigned char*>(extra.data());
  for (size_t pos = 0; pos + 4 <= extra.size();) {
    const uint16_t id = le16(x + pos), len = le16(x + pos + 2);
    if (extra.size() - pos - 4 < len) break;
    if (id == 0x0001) {
      size_t at = pos + 4;
      for (uint64_t* f : fields) {
        if (*f != 0xFFFFFFFF) continue;
        if (at + 8 > pos + 4 + len) corrupt("zip64 extra field of '" + name + "' is too short");
        *f = le64(x + at);
        at += 8;
      }
      return;
    }
    pos += 4 + len;
  }
  corrupt("entry '" + name + "' needs a zip64 extra field but has none");
}

}  // namespace tce
