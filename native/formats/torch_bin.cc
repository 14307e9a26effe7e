#include "formats/torch_bin.h"

#include <map>
#include <memory>
#include <set>

#include <ATen/ATen.h>

#include "formats/unpickler.h"
#include "formats/zip_reader.h"
#include "runtime/errors.h"

namespace tce {

namespace {

using pickle::a_kind;
using pickle::Kind;
using pickle::Obj;
using pickle::Unpickler;

class TorchArchive {
 public:
  explicit TorchArchive(const std::string& path) : file_(path), zip_(open_zip(file_)) {
    find_prefix();
    check_byte_order();
  }

  const std::string& path() const { return file_.path(); }

  std::string read_pickle() {
    const std::string name = prefix_ + "data.pkl";
    return zip_.read(name, *zip_.find(name));
  }

  // Checks the record a view lives in, without reading it, and counts the view as a reader of it.
  void add_view(const pickle::TensorView& view) {
    const std::string name = prefix_ + "data/" + view.storage_key;
    const std::string where = file_.path() + ": storage '" + name + "'";
    const ZipEntry* entry = zip_.find(name);
    if (!entry) throw FormatError(where + " is referenced by data.pkl but missing from the archive");
    if (entry->size != view.storage_bytes) {
      throw FormatError(where + " holds " + std::to_string(entry->size) + " bytes but data.pkl declares " +
                        std::to_string(view.storage_bytes));
    }
    zip_.data_offset(name, *entry);  // bounds and method checked now, not at the first read
    ++storages_[view.storage_key].readers;
  }

  // The view's elements as a tensor of its own (contiguous, float32 if floating). A storage that
  // other views still need is kept until the last of them is read; no storage is read twice.
  at::Tensor read_view(const pickle::TensorView& view) {
    auto& storage = storages_[view.storage_key];
    if (!storage.bytes.defined()) {
      const std::string name = prefix_ + "data/" + view.storage_key;
      storage.bytes = at::empty({static_cast<int64_t>(view.storage_bytes)}, at::TensorOptions().dtype(at::kByte));
      zip_.read_into(name, *zip_.find(name), storage.bytes.data_ptr());
    }
    const bool shared = --storage.readers > 0;
    // Bools are read as bytes: any value other than 0/1 would be an invalid bool.
    const at::Tensor typed = view.dtype == at::kBool ? storage.bytes : storage.bytes.view(view.dtype);
    at::Tensor tensor = typed.as_strided(view.size, view.stride, view.offset);
    const bool whole = !shared && view.offset == 0 && tensor.numel() == typed.numel() && tensor.is_contiguous();
    tensor = whole ? tensor : tensor.clone(at::MemoryFormat::Contiguous);
    if (!shared) storage.bytes = at::Tensor();
    if (view.dtype == at::kBool) tensor = tensor.ne(0);
    return to_float32_if_floating(tensor);
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

  struct Storage {
    at::Tensor bytes;  // read at the first read_view, dropped after the last
    int readers = 0;
  };

  InputFile file_;
  ZipReader zip_;
  std::string prefix_;
  std::map<std::string, Storage> storages_;
};

}  // namespace

StoredTensors scan_torch_bin(const std::string& path) {
  auto archive = std::make_shared<TorchArchive>(path);
  const std::string pickled = archive->read_pickle();
  Unpickler unpickler(pickled, path + ": data.pkl");
  const Obj root = unpickler.load();
  if (root->kind != Kind::Dict) {
    throw FormatError(path + ": data.pkl holds " + std::string(a_kind(root->kind)) +
                      ", expected a state dict (a dict of name → tensor)");
  }
  StoredTensors stored;
  std::set<std::string> names;
  for (const auto& [key, value] : root->dict) {
    if (key->kind != Kind::String) {
      throw FormatError(path + ": state dict has a key that is " + std::string(a_kind(key->kind)) + ", expected a str");
    }
    if (value->kind != Kind::Tensor) {
      throw FormatError(path + ": state dict entry '" + key->text + "' is " + a_kind(value->kind) +
                        ", not a tensor; only flat state dicts (name → tensor) can be read");
    }
    if (!names.insert(key->text).second) throw FormatError(path + ": state dict has '" + key->text + "' twice");
    archive->add_view(value->view);
    StoredTensor t;
    t.name = key->text;
    t.dtype = value->view.dtype;
    t.shape = value->view.size;
    t.read = [archive, view = value->view] { return archive->read_view(view); };
    stored.push_back(std::move(t));
  }
  return stored;
}

NamedTensors read_torch_bin(const std::string& path) { return read_all(scan_torch_bin(path)); }

}  // namespace tce
