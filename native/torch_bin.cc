#include "torch_bin.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "errors.h"

namespace tce {

namespace {

uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const unsigned char* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }
const unsigned char* bytes_of(const std::string& s, size_t offset = 0) {
  return reinterpret_cast<const unsigned char*>(s.data()) + offset;
}

// ---- Zip: just enough of APPNOTE.TXT for torch.save archives ------------------------------

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

struct ZipEntry {
  uint64_t local_header_offset = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint16_t method = 0;
  uint16_t flags = 0;
};

class ZipReader {
 public:
  explicit ZipReader(InputFile& file) : file_(file) { read_central_directory(); }

  const ZipEntry* find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  const std::map<std::string, ZipEntry>& entries() const { return entries_; }

  // Absolute file offset of a STORED entry's bytes, with [offset, offset + size) checked to lie
  // before the central directory.
  uint64_t data_offset(const std::string& name, const ZipEntry& e) {
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

  std::string read(const std::string& name, const ZipEntry& e) {
    return file_.read_string(data_offset(name, e), e.size);
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) const {
    throw FormatError(file_.path() + ": corrupt zip archive: " + what);
  }

  // Position of the end-of-central-directory record: the last signature whose comment length
  // matches the bytes that follow it (a signature-like pattern in the comment cannot fool it).
  uint64_t find_end_of_central_directory(std::string* record) {
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

  void read_central_directory() {
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
  uint64_t read_central_entry(const std::string& cd, uint64_t pos) {
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
  void apply_zip64_extra(const std::string& name, std::string_view extra, ZipEntry* e) {
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

  InputFile& file_;
  std::map<std::string, ZipEntry> entries_;
  uint64_t data_limit_ = 0;
};

// ---- The torch.save archive ----------------------------------------------------------------

struct StorageType {
  const char* name;  // as pickled: torch.<name>
  at::ScalarType dtype;
};

const StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat},   {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},   {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
};

struct DtypeName {
  const char* name;  // as pickled: torch.<name>
  at::ScalarType dtype;
};

const DtypeName kDtypeNames[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf},
    {"bfloat16", at::kBFloat16}, {"int64", at::kLong}, {"int32", at::kInt},
    {"int16", at::kShort},   {"int8", at::kChar},      {"uint8", at::kByte},
    {"bool", at::kBool},
};

class TorchArchive {
 public:
  explicit TorchArchive(InputFile& file) : file_(file), zip_(open_zip(file)) {
    find_prefix();
    check_byte_order();
  }

  std::string read_pickle() {
    const std::string name = prefix_ + "data.pkl";
    return zip_.read(name, *zip_.find(name));
  }

  // The flat storage `key` as a 1-D tensor of `numel` elements of `dtype`, read once and shared.
  at::Tensor load_storage(const std::string& key, at::ScalarType dtype, uint64_t numel) {
    const std::string name = prefix_ + "data/" + key;
    const std::string where = file_.path() + ": storage '" + name + "'";
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second.scalar_type() != dtype || static_cast<uint64_t>(cached->second.numel()) != numel) {
        throw FormatError(where + " is referenced with two different types or sizes");
      }
      return cached->second;
    }
    const ZipEntry* entry = zip_.find(name);
    if (!entry) throw FormatError(where + " is referenced by data.pkl but missing from the archive");
    const uint64_t element_size = c10::elementSize(dtype);
    uint64_t nbytes = 0;
    if (!checked_mul(numel, element_size, &nbytes) || nbytes != entry->size) {
      throw FormatError(where + " holds " + std::to_string(entry->size) + " bytes but data.pkl declares " +
                        std::to_string(numel) + " elements of " + c10::toString(dtype));
    }
    const uint64_t offset = zip_.data_offset(name, *entry);  // bounds-checked before allocating
    // Bools are read as bytes: any value other than 0/1 would be an invalid bool.
    const bool is_bool = dtype == at::kBool;
    at::Tensor storage = at::empty({static_cast<int64_t>(numel)}, at::TensorOptions().dtype(is_bool ? at::kByte : dtype));
    file_.read(offset, storage.data_ptr(), nbytes);
    if (is_bool) storage = storage.ne(0);
    storages_.emplace(key, storage);
    return storage;
  }

 private:
  static ZipReader open_zip(InputFile& file) {
    unsigned char magic[4] = {0, 0, 0, 0};
    if (file.size() >= 4) file.read(0, magic, 4);
    if (magic[0] == 0x80) {  // a pickle PROTO opcode: the pre-1.6 format
      throw FormatError(file.path() +
                        ": legacy (non-zip) torch.save format is not supported; re-save with "
                        "torch.save(..., _use_new_zipfile_serialization=True) or convert to safetensors");
    }
    if (!(magic[0] == 'P' && magic[1] == 'K')) {
      throw FormatError(file.path() + ": not a torch.save zip archive (no 'PK' signature)");
    }
    return ZipReader(file);
  }

  // torch.save puts every record under one top-level folder, named after the file in 1.x and
  // "archive" in 2.x; data.pkl's folder is it.
  void find_prefix() {
    for (const auto& entry : zip_.entries()) {
      const std::string& name = entry.first;
      const size_t slash = name.find('/');
      if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
        if (!prefix_.empty()) throw FormatError(file_.path() + ": archive holds more than one data.pkl");
        prefix_ = name.substr(0, slash + 1);
      }
    }
    if (prefix_.empty()) {
      throw FormatError(file_.path() + ": zip archive has no <archive>/data.pkl; not a torch.save file");
    }
  }

  void check_byte_order() {
    const std::string name = prefix_ + "byteorder";
    const ZipEntry* entry = zip_.find(name);
    if (!entry) return;  // written from 2.1 on; older archives are little-endian
    if (entry->size > 16) throw FormatError(file_.path() + ": byteorder record is too long");
    const std::string order = zip_.read(name, *entry);
    if (order != "little") {
      throw FormatError(file_.path() + ": archive byte order is '" + order + "'; only little-endian is supported");
    }
  }

  InputFile& file_;
  ZipReader zip_;
  std::string prefix_;
  std::map<std::string, at::Tensor> storages_;
};

// ---- Pickle: the subset torch.save uses for state dicts ------------------------------------

enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

// "a dict", "an int", "None": for messages.
const char* a_kind(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::Float: return "a float";
    case Kind::String: return "a str";
    case Kind::Tuple: return "a tuple";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Global: return "a global";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
  }
  return "an object";
}

// The globals a state dict may reference; any other is rejected when the pickle names it.
enum class Global { OrderedDict, RebuildTensorV2, RebuildTensorV3, RebuildParameter, StorageType, Dtype };

struct PyObject;
using Obj = std::shared_ptr<PyObject>;

struct PyObject {
  explicit PyObject(Kind k) : kind(k) {}
  Kind kind;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                              // String; Global's dotted name; Storage key
  std::vector<Obj> items;                        // Tuple, List
  std::vector<std::pair<Obj, Obj>> dict;         // Dict, in insertion order
  Global global = Global::OrderedDict;           // Global
  at::ScalarType dtype = at::kFloat;             // Global StorageType/Dtype; Storage
  bool untyped = false;                          // Global StorageType / Storage: torch.UntypedStorage
  at::Tensor tensor;                             // Tensor; Storage's flat data
};

namespace op {
constexpr uint8_t MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BINFLOAT = 'G',
                  BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N', BINPERSID = 'Q',
                  REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X',
                  APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}',
                  APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']',
                  BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')',
                  SETITEMS = 'u', PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87,
                  NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
                  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94,
                  FRAME = 0x95;
}  // namespace op

using StorageLoader = std::function<at::Tensor(const std::string& key, at::ScalarType dtype, uint64_t numel)>;

class Unpickler {
 public:
  Unpickler(std::string_view data, std::string where, StorageLoader load_storage)
      : data_(data), where_(std::move(where)), load_storage_(std::move(load_storage)) {}

  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Every object lives in arena_, so emptying the containers first frees everything without
  // recursion and breaks any reference cycle a hostile pickle built.
  ~Unpickler() {
    for (const Obj& o : arena_) {
      o->items.clear();
      o->dict.clear();
    }
  }

  Obj load() {
    while (pos_ < data_.size()) {
      op_pos_ = pos_;
      const uint8_t code = read_u8();
      if (code == op::STOP) return pop(code);  // like Python, values left below it are ignored
      step(code);
    }
    fail("pickle ends without a STOP opcode");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(where_ + " byte " + std::to_string(op_pos_) + ": " + what);
  }

  static std::string opcode_string(uint8_t code) {
    char buf[32];
    if (code >= 0x20 && code < 0x7f) std::snprintf(buf, sizeof buf, "0x%02x ('%c')", code, code);
    else std::snprintf(buf, sizeof buf, "0x%02x", code);
    return buf;
  }

  // ---- input

  const unsigned char* take(uint64_t n) {
    if (data_.size() - pos_ < n) fail("pickle truncated inside an opcode");
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    pos_ += n;
    return p;
  }
  uint8_t read_u8() { return *take(1); }
  uint32_t read_u32() { return le32(take(4)); }

  std::string read_line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("pickle truncated inside a GLOBAL name");
    std::string line(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  std::string read_bytes(uint64_t n) {
    const auto* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  // Little-endian two's complement (LONG1/LONG4); torch.save only emits small ones.
  int64_t read_long(uint64_t n) {
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes is too large");
    const unsigned char* p = take(n);
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  double read_binfloat() {  // big-endian IEEE 754 double
    const unsigned char* p = take(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  // ---- objects and stacks

  Obj make(Kind kind) {
    arena_.push_back(std::make_shared<PyObject>(kind));
    return arena_.back();
  }
  Obj make_int(int64_t v) {
    Obj o = make(Kind::Int);
    o->integer = v;
    return o;
  }
  Obj make_string(std::string s) {
    Obj o = make(Kind::String);
    o->text = std::move(s);
    return o;
  }
  Obj make_tuple(std::vector<Obj> items) {
    Obj o = make(Kind::Tuple);
    o->items = std::move(items);
    return o;
  }

  void push(Obj o) { stack_.push_back(std::move(o)); }

  Obj pop(uint8_t code) {
    if (stack_.empty()) fail("stack underflow at opcode " + opcode_string(code));
    Obj o = std::move(stack_.back());
    stack_.pop_back();
    return o;
  }

  Obj& top(uint8_t code) {
    if (stack_.empty()) fail("stack underflow at opcode " + opcode_string(code));
    return stack_.back();
  }

  // The values pushed since the last MARK; the stack below the mark comes back.
  std::vector<Obj> pop_mark(uint8_t code) {
    if (metastack_.empty()) fail("opcode " + opcode_string(code) + " without a MARK");
    std::vector<Obj> items = std::move(stack_);
    stack_ = std::move(metastack_.back());
    metastack_.pop_back();
    return items;
  }

  Obj& top_of_kind(uint8_t code, Kind kind) {
    Obj& o = top(code);
    if (o->kind != kind) {
      fail("opcode " + opcode_string(code) + " expects " + a_kind(kind) + ", found " + a_kind(o->kind));
    }
    return o;
  }

  void set_items(Obj& dict, std::vector<Obj>& kv) {
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    for (size_t i = 0; i < kv.size(); i += 2) dict->dict.emplace_back(kv[i], kv[i + 1]);
  }

  void memo_put(uint32_t index, uint8_t code) { memo_[index] = top(code); }

  Obj memo_get(uint32_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " is read before it is written");
    return it->second;
  }

  // ---- the opcodes

  void step(uint8_t code) {
    switch (code) {
      case op::PROTO: {
        const uint8_t version = read_u8();
        if (version > 5) fail("pickle protocol " + std::to_string(version) + " is not supported");
        break;
      }
      case op::FRAME: take(8); break;  // framing only groups opcodes; the data is read whole
      case op::MARK:
        metastack_.push_back(std::move(stack_));
        stack_.clear();
        break;
      case op::POP: pop(code); break;
      case op::POP_MARK: pop_mark(code); break;
      case op::DUP: push(top(code)); break;
      case op::NONE: push(make(Kind::None)); break;
      case op::NEWTRUE:
      case op::NEWFALSE: {
        Obj o = make(Kind::Bool);
        o->boolean = code == op::NEWTRUE;
        push(o);
        break;
      }
      case op::BININT: push(make_int(static_cast<int32_t>(read_u32()))); break;
      case op::BININT1: push(make_int(read_u8())); break;
      case op::BININT2: push(make_int(le16(take(2)))); break;
      case op::LONG1: push(make_int(read_long(read_u8()))); break;
      case op::LONG4: push(make_int(read_long(read_u32()))); break;
      case op::BINFLOAT: {
        Obj o = make(Kind::Float);
        o->real = read_binfloat();
        push(o);
        break;
      }
      case op::SHORT_BINSTRING:
      case op::SHORT_BINUNICODE: push(make_string(read_bytes(read_u8()))); break;
      case op::BINSTRING:
      case op::BINUNICODE: push(make_string(read_bytes(read_u32()))); break;
      case op::BINUNICODE8: push(make_string(read_bytes(le64(take(8))))); break;
      case op::GLOBAL: {
        std::string module = read_line();
        std::string name = read_line();
        push(resolve_global(module, name));
        break;
      }
      case op::STACK_GLOBAL: {
        const Obj name = pop(code);
        const Obj module = pop(code);
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
        push(resolve_global(module->text, name->text));
        break;
      }
      case op::EMPTY_DICT: push(make(Kind::Dict)); break;
      case op::EMPTY_LIST: push(make(Kind::List)); break;
      case op::EMPTY_TUPLE: push(make(Kind::Tuple)); break;
      case op::TUPLE: push(make_tuple(pop_mark(code))); break;
      case op::TUPLE1:
      case op::TUPLE2:
      case op::TUPLE3: {
        std::vector<Obj> items(code - op::TUPLE1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop(code);
        push(make_tuple(std::move(items)));
        break;
      }
      case op::LIST: {
        Obj o = make(Kind::List);
        o->items = pop_mark(code);
        push(o);
        break;
      }
      case op::DICT: {
        std::vector<Obj> kv = pop_mark(code);
        Obj o = make(Kind::Dict);
        set_items(o, kv);
        push(o);
        break;
      }
      case op::APPEND: {
        Obj value = pop(code);
        top_of_kind(code, Kind::List)->items.push_back(value);
        break;
      }
      case op::APPENDS: {
        std::vector<Obj> values = pop_mark(code);
        Obj& list = top_of_kind(code, Kind::List);
        list->items.insert(list->items.end(), values.begin(), values.end());
        break;
      }
      case op::SETITEM: {
        Obj value = pop(code);
        Obj key = pop(code);
        top_of_kind(code, Kind::Dict)->dict.emplace_back(key, value);
        break;
      }
      case op::SETITEMS: {
        std::vector<Obj> kv = pop_mark(code);
        set_items(top_of_kind(code, Kind::Dict), kv);
        break;
      }
      case op::BINPUT: memo_put(read_u8(), code); break;
      case op::LONG_BINPUT: memo_put(read_u32(), code); break;
      case op::MEMOIZE: memo_put(static_cast<uint32_t>(memo_.size()), code); break;
      case op::BINGET: push(memo_get(read_u8())); break;
      case op::LONG_BINGET: push(memo_get(read_u32())); break;
      case op::BINPERSID: push(persistent_load(pop(code))); break;
      case op::REDUCE: {
        Obj args = pop(code);
        Obj callable = pop(code);
        push(call(callable, args));
        break;
      }
      case op::BUILD: {
        pop(code);  // the state
        // OrderedDict state dicts carry Python attributes (`_metadata`); they are not weights.
        top_of_kind(code, Kind::Dict);
        break;
      }
      default:
        fail("unsupported pickle opcode " + opcode_string(code) + "; only torch.save state dicts can be read");
    }
  }

  Obj resolve_global(const std::string& module, const std::string& name) {
    Obj g = make(Kind::Global);
    g->text = module + "." + name;
    if (g->text == "collections.OrderedDict") {
      g->global = Global::OrderedDict;
      return g;
    }
    if (module == "torch._utils") {
      if (name == "_rebuild_tensor_v2") g->global = Global::RebuildTensorV2;
      else if (name == "_rebuild_tensor_v3") g->global = Global::RebuildTensorV3;
      else if (name == "_rebuild_parameter") g->global = Global::RebuildParameter;
      else unsupported_global(g->text);
      return g;
    }
    if (module == "torch") {
      if (name == "UntypedStorage") {
        g->global = Global::StorageType;
        g->dtype = at::kByte;
        g->untyped = true;
        return g;
      }
      for (const StorageType& s : kStorageTypes) {
        if (name == s.name) {
          g->global = Global::StorageType;
          g->dtype = s.dtype;
          return g;
        }
      }
      for (const DtypeName& d : kDtypeNames) {
        if (name == d.name) {
          g->global = Global::Dtype;
          g->dtype = d.dtype;
          return g;
        }
      }
    }
    unsupported_global(g->text);
  }

  [[noreturn]] void unsupported_global(const std::string& dotted) const {
    fail("unsupported global '" + dotted + "'; only state dicts of plain tensors (float, half, "
         "bfloat16, double, integer, bool) can be read");
  }

  // torch.save's persistent id for a storage: ('storage', storage_type, key, location, numel).
  Obj persistent_load(const Obj& pid) {
    const auto& t = pid->items;
    const bool ok = pid->kind == Kind::Tuple && t.size() == 5 && t[0]->kind == Kind::String &&
                    t[0]->text == "storage" && t[1]->kind == Kind::Global &&
                    t[1]->global == Global::StorageType && t[2]->kind == Kind::String &&
                    t[3]->kind == Kind::String && t[4]->kind == Kind::Int && t[4]->integer >= 0;
    if (!ok) fail("persistent id is not ('storage', storage_type, key, location, numel)");
    Obj storage = make(Kind::Storage);
    storage->text = "data/" + t[2]->text;  // the record name, for messages
    storage->dtype = t[1]->dtype;
    storage->untyped = t[1]->untyped;
    storage->tensor = load_storage_(t[2]->text, t[1]->dtype, static_cast<uint64_t>(t[4]->integer));
    return storage;
  }

  Obj call(const Obj& callable, const Obj& args) {
    if (callable->kind != Kind::Global) fail(std::string("REDUCE on ") + a_kind(callable->kind));
    if (args->kind != Kind::Tuple) fail(std::string("REDUCE with ") + a_kind(args->kind) + " as arguments");
    const std::vector<Obj>& a = args->items;
    switch (callable->global) {
      case Global::OrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments");
        return make(Kind::Dict);
      case Global::RebuildTensorV2:
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() < 6 || a.size() > 7) fail("_rebuild_tensor_v2 expects 6 or 7 arguments");
        return rebuild_tensor(a, typed_storage(a[0]), "_rebuild_tensor_v2");
      case Global::RebuildTensorV3: {
        // (untyped storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
        if (a.size() < 7 || a.size() > 8) fail("_rebuild_tensor_v3 expects 7 or 8 arguments");
        if (a[6]->kind != Kind::Global || a[6]->global != Global::Dtype) fail("_rebuild_tensor_v3 without a dtype");
        return rebuild_tensor(a, untyped_storage_as(a[0], a[6]->dtype), "_rebuild_tensor_v3");
      }
      case Global::RebuildParameter:
        // (data, requires_grad, backward_hooks)
        if (a.size() != 3 || a[0]->kind != Kind::Tensor) fail("_rebuild_parameter expects (tensor, requires_grad, hooks)");
        return a[0];
      default:
        fail("global '" + callable->text + "' cannot be called");
    }
  }

  const Obj& storage_arg(const Obj& o) {
    if (o->kind != Kind::Storage) fail(std::string("tensor rebuilt from ") + a_kind(o->kind) + ", expected a storage");
    return o;
  }

  at::Tensor typed_storage(const Obj& o) {
    if (storage_arg(o)->untyped) fail("_rebuild_tensor_v2 with an untyped storage");
    return o->tensor;
  }

  at::Tensor untyped_storage_as(const Obj& o, at::ScalarType dtype) {
    if (!storage_arg(o)->untyped) fail("_rebuild_tensor_v3 with a typed storage");
    const int64_t element_size = static_cast<int64_t>(c10::elementSize(dtype));
    if (o->tensor.numel() % element_size != 0) {
      fail("storage '" + o->text + "' of " + std::to_string(o->tensor.numel()) + " bytes is not a whole number of " +
           c10::toString(dtype) + " elements");
    }
    if (dtype == at::kBool) return o->tensor.ne(0);  // only 0/1 are valid bools
    return o->tensor.view(dtype);
  }

  std::vector<int64_t> int_tuple(const Obj& o, const char* what) {
    if (o->kind != Kind::Tuple) fail(std::string("tensor ") + what + " is " + a_kind(o->kind) + ", expected a tuple");
    std::vector<int64_t> values;
    for (const Obj& item : o->items) {
      if (item->kind != Kind::Int || item->integer < 0) fail(std::string("tensor ") + what + " holds a value that is not a non-negative int");
      values.push_back(item->integer);
    }
    return values;
  }

  // The view (size, stride, offset) of `storage`, checked to stay inside it before any access.
  Obj rebuild_tensor(const std::vector<Obj>& a, const at::Tensor& storage, const char* fn) {
    if (a[1]->kind != Kind::Int || a[1]->integer < 0) fail(std::string(fn) + ": storage offset is not a non-negative int");
    const int64_t offset = a[1]->integer;
    const std::vector<int64_t> size = int_tuple(a[2], "size");
    const std::vector<int64_t> stride = int_tuple(a[3], "stride");
    if (size.size() != stride.size()) fail(std::string(fn) + ": size and stride differ in length");

    const uint64_t storage_numel = static_cast<uint64_t>(storage.numel());
    uint64_t numel = 1, last = static_cast<uint64_t>(offset);  // index of the last element reached
    bool overflow = false;
    for (size_t i = 0; i < size.size(); ++i) {
      uint64_t reach = 0;
      overflow = overflow || !checked_mul(numel, static_cast<uint64_t>(size[i]), &numel);
      if (size[i] > 0) {
        overflow = overflow || !checked_mul(static_cast<uint64_t>(size[i] - 1), static_cast<uint64_t>(stride[i]), &reach);
        overflow = overflow || reach > UINT64_MAX - last;
        if (!overflow) last += reach;
      }
    }
    const std::string view = "size " + shape_string(size) + ", stride " + shape_string(stride) + " and offset " +
                             std::to_string(offset);
    if (overflow) fail("tensor view with " + view + " overflows");
    const bool inside = numel == 0 ? static_cast<uint64_t>(offset) <= storage_numel : last < storage_numel;
    if (!inside) {
      fail("tensor view with " + view + " reaches past the end of storage '" + a[0]->text + "' (" +
           std::to_string(storage_numel) + " elements)");
    }

    Obj t = make(Kind::Tensor);
    const at::Tensor v = storage.as_strided(size, stride, offset);
    // A view of the whole storage is returned as is; any other is copied so the result owns
    // exactly its own elements rather than keeping a larger storage alive.
    const bool whole = offset == 0 && numel == storage_numel && v.is_contiguous();
    t->tensor = whole ? v : v.clone(at::MemoryFormat::Contiguous);
    return t;
  }

  std::string_view data_;
  std::string where_;
  StorageLoader load_storage_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<Obj> stack_;
  std::vector<std::vector<Obj>> metastack_;
  std::unordered_map<uint32_t, Obj> memo_;
  std::vector<Obj> arena_;
};

// The state dict's tensors, float32 where floating, each owning distinct memory (tied weights
// that share one storage are copied apart).
NamedTensors state_dict_tensors(const std::string& path, const PyObject& root) {
  if (root.kind != Kind::Dict) {
    throw FormatError(path + ": data.pkl holds " + std::string(a_kind(root.kind)) +
                      ", expected a state dict (a dict of name → tensor)");
  }
  NamedTensors tensors;
  std::set<std::string> names;
  std::unordered_set<const void*> seen;
  for (const auto& [key, value] : root.dict) {
    if (key->kind != Kind::String) {
      throw FormatError(path + ": state dict has a key that is " + std::string(a_kind(key->kind)) + ", expected a str");
    }
    if (value->kind != Kind::Tensor) {
      throw FormatError(path + ": state dict entry '" + key->text + "' is " + a_kind(value->kind) +
                        ", not a tensor; only flat state dicts (name → tensor) can be read");
    }
    if (!names.insert(key->text).second) throw FormatError(path + ": state dict has '" + key->text + "' twice");
    at::Tensor t = to_float32_if_floating(value->tensor);
    if (t.numel() > 0 && !seen.insert(t.data_ptr()).second) t = t.clone();
    tensors.emplace_back(key->text, std::move(t));
  }
  return tensors;
}

}  // namespace

NamedTensors read_torch_bin(const std::string& path) {
  InputFile file(path);
  TorchArchive archive(file);
  const std::string pickle = archive.read_pickle();
  Unpickler unpickler(pickle, path + ": data.pkl",
                      [&archive](const std::string& key, at::ScalarType dtype, uint64_t numel) {
                        return archive.load_storage(key, dtype, numel);
                      });
  const Obj root = unpickler.load();
  return state_dict_tensors(path, *root);
}

}  // namespace tce
