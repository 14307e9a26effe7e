#include "formats/torch_bin.h"

#include <map>
#include <set>
#include <unordered_set>

#include <ATen/ATen.h>

#include "formats/unpickler.h"
#include "formats/zip_reader.h"
#include "runtime/errors.h"

namespace tce {

namespace {

using pickle::a_kind;
using pickle::Kind;
using pickle::Obj;
using pickle::PyObject;
using pickle::Unpickler;

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
  const std::string pickled = archive.read_pickle();
  Unpickler unpickler(pickled, path + ": data.pkl",
                      [&archive](const std::string& key, at::ScalarType dtype, uint64_t numel) {
                        return archive.load_storage(key, dtype, numel);
                      });
  const Obj root = unpickler.load();
  return state_dict_tensors(path, *root);
}

}  // namespace tce
