// The pickle machine for state dicts: the opcodes torch.save emits for a dict of tensors, and
// nothing more. Globals resolve against a fixed list (OrderedDict, the tensor and parameter
// rebuilders, storage types, dtypes), so a pickle cannot run code; any other opcode or global
// is a FormatError naming its byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tce::pickle {

enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

// "a dict", "an int", "None": for messages.
const char* a_kind(Kind k);

// The globals a state dict may reference; any other is rejected when the pickle names it.
enum class Global { OrderedDict, RebuildTensorV2, RebuildTensorV3, RebuildParameter, StorageType, Dtype };

struct PyObject;
using Obj = std::shared_ptr<PyObject>;

// Where a tensor's elements lie in the archive, checked to stay inside its storage. The pickle
// machine reads no storage: the caller decides which tensors to read, after checking their
// shapes, so a tiny view cannot make it allocate (a stride-0 `expand` of one element, say).
struct TensorView {
  std::string storage_key;      // the record `data/<key>`
  uint64_t storage_bytes = 0;   // the record's size, as the pickle declares it
  at::ScalarType dtype = at::kFloat;
  int64_t offset = 0;           // in elements of dtype
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

struct PyObject {
  explicit PyObject(Kind k) : kind(k) {}
  Kind kind;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                              // String; Global's dotted name; Storage record name
  std::vector<Obj> items;                        // Tuple, List
  std::vector<std::pair<Obj, Obj>> dict;         // Dict, in insertion order
  Global global = Global::OrderedDict;           // Global
  at::ScalarType dtype = at::kFloat;             // Global StorageType/Dtype; Storage
  bool untyped = false;                          // Global StorageType / Storage: torch.UntypedStorage
  std::string storage_key;                       // Storage
  uint64_t storage_numel = 0;                    // Storage: elements of dtype (bytes if untyped)
  TensorView view;                               // Tensor
};

class Unpickler {
 public:
  // `data` must outlive the Unpickler; `where` prefixes messages ("<file>: data.pkl").
  Unpickler(std::string_view data, std::string where);
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs the pickle to its STOP and returns the object on top of the stack. The objects belong
  // to the Unpickler, which empties them when destroyed: read them while it lives.
  Obj load();

 private:
  class Machine;
  std::unique_ptr<Machine> machine_;
};

}  // namespace tce::pickle
