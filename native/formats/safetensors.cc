#include "formats/safetensors.h"

#include <algorithm>
#include <memory>
#include <set>

#include <ATen/ATen.h>

#include "formats/json.h"
#include "runtime/errors.h"

namespace tce {

namespace {

// Rust safetensors' own limit: a larger header is corrupt or hostile, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

struct Dtype {
  const char* name;
  at::ScalarType type;
  uint64_t size;
};

const Dtype kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const Dtype* dtype_by_name(const std::string& name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const Dtype* dtype_by_type(at::ScalarType type) {
  for (const Dtype& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

std::string supported_dtype_names() {
  std::string s;
  for (const Dtype& d : kDtypes) s += std::string(s.empty() ? "" : ", ") + d.name;
  return s;
}

// ---- Reading -----------------------------------------------------------------------------

struct TensorEntry {
  std::string name;
  const Dtype* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // relative to the start of the data section
  uint64_t end = 0;
};

std::string span_string(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// Validates one header entry against the data section size; every failure names the tensor.
TensorEntry parse_entry(const std::string& path, const std::string& name, const json::Value& info,
                        uint64_t data_size) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!info.is_object()) {
    throw FormatError(where + " is a JSON " + info.type_name() +
                      ", expected an object with dtype, shape and data_offsets");
  }
  TensorEntry entry;
  entry.name = name;

  const json::Value* dtype = info.find("dtype");
  if (!dtype || !dtype->is_string()) throw FormatError(where + " has no \"dtype\" string");
  entry.dtype = dtype_by_name(dtype->as_string());
  if (!entry.dtype) {
    throw FormatError(where + " has unsupported dtype '" + dtype->as_string() +
                      "' (supported: " + supported_dtype_names() + ")");
  }

  const json::Value* shape = info.find("shape");
  if (!shape || !shape->is_array()) throw FormatError(where + " has no \"shape\" array");
  uint64_t numel = 1;
  for (size_t i = 0; i < shape->as_array().size(); ++i) {
    const json::Value& dim = shape->as_array()[i];
    const auto value = dim.as_int64();
    if (!value || *value < 0) {
      throw FormatError(where + " has an invalid shape: entry " + std::to_string(i) + " is " +
                        (dim.is_number() ? dim.number_text() : std::string("a ") + dim.type_name()) +
                        ", expected a non-negative integer");
    }
    entry.shape.push_back(*value);
    if (!checked_mul(numel, static_cast<uint64_t>(*value), &numel)) {
      throw FormatError(where + " has a shape whose element count overflows");
    }
  }
  uint64_t nbytes = 0;
  if (!checked_mul(numel, entry.dtype->size, &nbytes)) {
    throw FormatError(where + " declares shape " + shape_string(entry.shape) + " whose byte size overflows");
  }

  const json::Value* offsets = info.find("data_offsets");
  const bool offsets_ok = offsets && offsets->is_array() && offsets->as_array().size() == 2 &&
                          offsets->as_array()[0].as_uint64() && offsets->as_array()[1].as_uint64();
  if (!offsets_ok) {
    throw FormatError(where + " needs \"data_offsets\" as [begin, end], two non-negative integers");
  }
  entry.begin = *offsets->as_array()[0].as_uint64();
  entry.end = *offsets->as_array()[1].as_uint64();
  if (entry.begin > entry.end) {
    throw FormatError(where + " has data_offsets [" + std::to_string(entry.begin) + ", " +
                      std::to_string(entry.end) + "] whose end is before its begin");
  }
  if (entry.end > data_size) {
    throw FormatError(where + " has data_offsets [" + std::to_string(entry.begin) + ", " +
                      std::to_string(entry.end) + "] past the end of the data section (" +
                      std::to_string(data_size) + " bytes)");
  }
  if (entry.end - entry.begin != nbytes) {
    throw FormatError(where + " declares shape " + shape_string(entry.shape) + " (" +
                      std::to_string(nbytes) + " bytes as " + entry.dtype->name +
                      ") but its data_offsets span " + std::to_string(entry.end - entry.begin) +
                      " bytes");
  }
  return entry;
}

void check_metadata(const std::string& path, const json::Value& metadata) {
  if (!metadata.is_object()) {
    throw FormatError(path + ": \"__metadata__\" is a JSON " + metadata.type_name() +
                      ", expected an object of strings");
  }
  for (const auto& [key, value] : metadata.as_object()) {
    if (!value.is_string()) {
      throw FormatError(path + ": \"__metadata__\" entry '" + key + "' is a JSON " +
                        value.type_name() + ", expected a string");
    }
  }
}

// As Rust safetensors requires: sorted by offset, the tensors tile the data section exactly. A
// gap, an overlap or trailing bytes means the header and the data disagree (a header length off
// by one shifts every tensor), so the bytes cannot be trusted to be the tensors they claim to be.
void check_exact_cover(const std::string& path, const std::vector<TensorEntry>& entries, uint64_t data_size) {
  std::vector<const TensorEntry*> sorted;
  for (const TensorEntry& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* e : sorted) {
    if (e->begin != covered) {
      const std::string here = path + ": tensor '" + e->name + "' (bytes " + span_string(e->begin, e->end) + ") ";
      const std::string rule = "; the header's data_offsets must tile the data section exactly";
      if (!previous) throw FormatError(here + "leaves the first " + std::to_string(e->begin) + " bytes of the data section unused" + rule);
      throw FormatError(here + (e->begin < covered ? "overlaps" : "leaves a gap after") + " tensor '" + previous->name +
                        "' (bytes " + span_string(previous->begin, previous->end) + ")" + rule);
    }
    covered = e->end;
    previous = e;
  }
  if (covered != data_size) {
    throw FormatError(path + ": the tensors cover " + std::to_string(covered) + " bytes of the " +
                      std::to_string(data_size) + "-byte data section; " + std::to_string(data_size - covered) +
                      " trailing bytes belong to no tensor (a wrong header length, or a corrupt file)");
  }
}

std::vector<TensorEntry> parse_header(const std::string& path, const std::string& header,
                                      uint64_t data_size) {
  const json::Value root = json::parse(header, path + ": header");
  if (!root.is_object()) {
    throw FormatError(path + ": header is a JSON " + std::string(root.type_name()) + ", expected an object");
  }
  std::vector<TensorEntry> entries;
  std::set<std::string> names;
  for (const auto& [name, info] : root.as_object()) {
    if (!names.insert(name).second) throw FormatError(path + ": tensor '" + name + "' appears twice in the header");
    if (name == kMetadataKey) {
      check_metadata(path, info);
      continue;
    }
    entries.push_back(parse_entry(path, name, info, data_size));
  }
  check_exact_cover(path, entries, data_size);
  return entries;
}

at::Tensor read_tensor(InputFile& file, uint64_t data_start, const TensorEntry& entry) {
  // Read straight into the tensor's own (aligned) memory; BOOL goes through bytes so that a
  // stray value other than 0/1 cannot produce an invalid bool.
  const bool is_bool = entry.dtype->type == at::kBool;
  at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(is_bool ? at::kByte : entry.dtype->type));
  file.read(data_start + entry.begin, tensor.data_ptr(), entry.end - entry.begin);
  if (is_bool) tensor = tensor.ne(0);
  return to_float32_if_floating(tensor);
}

// ---- Writing -----------------------------------------------------------------------------

std::string header_json(const NamedTensors& tensors, const std::vector<const Dtype*>& dtypes,
                        const std::map<std::string, std::string>& metadata) {
  std::string h = "{";
  if (!metadata.empty()) {
    h += json::quote(kMetadataKey) + ":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) h += ",";
      first = false;
      h += json::quote(key) + ":" + json::quote(value);
    }
    h += "}";
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i].second;
    if (h.size() > 1) h += ",";
    h += json::quote(tensors[i].first) + ":{\"dtype\":\"" + dtypes[i]->name + "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) h += (d ? "," : "") + std::to_string(t.size(d));
    const uint64_t nbytes = t.numel() * dtypes[i]->size;
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  h += "}";
  // Pad so the data section starts 8-byte aligned, as the reference writer does.
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

}  // namespace

StoredTensors scan_safetensors(const std::string& path) {
  auto file = std::make_shared<InputFile>(path);
  if (file->size() < 8) {
    throw FormatError(path + ": file is " + std::to_string(file->size()) +
                      " bytes, too short for a safetensors header length (8 bytes)");
  }
  unsigned char length_bytes[8];
  file->read(0, length_bytes, 8);
  const uint64_t header_size = le64(length_bytes);
  if (header_size > file->size() - 8) {
    throw FormatError(path + ": header length " + std::to_string(header_size) +
                      " exceeds the file size (" + std::to_string(file->size()) +
                      " bytes); not a safetensors file, or truncated");
  }
  if (header_size > kMaxHeaderBytes) {
    throw FormatError(path + ": header length " + std::to_string(header_size) + " exceeds the " +
                      std::to_string(kMaxHeaderBytes) + "-byte limit");
  }
  const std::string header = file->read_string(8, header_size);
  const uint64_t data_start = 8 + header_size;
  StoredTensors stored;
  for (TensorEntry& entry : parse_header(path, header, file->size() - data_start)) {
    StoredTensor t;
    t.name = entry.name;
    t.dtype = entry.dtype->type;
    t.shape = entry.shape;
    t.read = [file, data_start, entry] { return read_tensor(*file, data_start, entry); };
    if (entry.dtype->type == at::kFloat) {
      t.read_into = [file, data_start, entry](const at::Tensor& dst) {
        if (dst.scalar_type() != at::kFloat || !dst.is_contiguous() || dst.sizes() != at::IntArrayRef(entry.shape)) {
          throw ArgumentError(file->path() + ": tensor '" + entry.name + "' cannot be read into a tensor of another layout");
        }
        file->read(data_start + entry.begin, dst.data_ptr(), entry.end - entry.begin);
      };
    }
    stored.push_back(std::move(t));
  }
  return stored;
}

NamedTensors read_safetensors(const std::string& path) { return read_all(scan_safetensors(path)); }

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  NamedTensors contiguous;
  std::vector<const Dtype*> dtypes;
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    if (name == kMetadataKey) throw ArgumentError(path + ": '" + name + "' is reserved and cannot name a tensor");
    if (!names.insert(name).second) throw ArgumentError(path + ": tensor '" + name + "' is given twice");
    if (!tensor.defined()) throw ArgumentError(path + ": tensor '" + name + "' is undefined");
    if (tensor.layout() != at::kStrided) throw ArgumentError(path + ": tensor '" + name + "' is not a dense tensor");
    const Dtype* dtype = dtype_by_type(tensor.scalar_type());
    if (!dtype) {
      throw ArgumentError(path + ": tensor '" + name + "' has dtype " +
                          std::string(c10::toString(tensor.scalar_type())) +
                          ", which safetensors writing does not support (supported: " +
                          supported_dtype_names() + ")");
    }
    dtypes.push_back(dtype);
    contiguous.emplace_back(name, tensor.cpu().contiguous());
  }

  const std::string header = header_json(contiguous, dtypes, metadata);
  unsigned char length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(uint64_t{header.size()} >> (8 * i));

  AtomicFileWriter out(path);
  out.write(length_bytes, sizeof length_bytes);
  out.write(header.data(), header.size());
  for (const auto& entry : contiguous) {
    const at::Tensor& t = entry.second;
    out.write(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  }
  out.commit();
}

}  // namespace tce
