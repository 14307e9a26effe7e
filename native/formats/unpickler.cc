#include "formats/unpickler.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "formats/tensor_file.h"
#include "runtime/errors.h"

namespace tce::pickle {

namespace {

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

}  // namespace

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

class Unpickler::Machine {
 public:
  Machine(std::string_view data, std::string where) : data_(data), where_(std::move(where)) {}

  // Every object lives in arena_, so emptying the containers first frees everything without
  // recursion and breaks any reference cycle a hostile pickle built.
  ~Machine() {
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
    storage->storage_key = t[2]->text;
    storage->storage_numel = static_cast<uint64_t>(t[4]->integer);
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
        return rebuild_tensor(a, a[0]->dtype, typed_storage(a[0]), "_rebuild_tensor_v2");
      case Global::RebuildTensorV3: {
        // (untyped storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
        if (a.size() < 7 || a.size() > 8) fail("_rebuild_tensor_v3 expects 7 or 8 arguments");
        if (a[6]->kind != Kind::Global || a[6]->global != Global::Dtype) fail("_rebuild_tensor_v3 without a dtype");
        return rebuild_tensor(a, a[6]->dtype, untyped_storage_as(a[0], a[6]->dtype), "_rebuild_tensor_v3");
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

  // The storage's size in elements of the tensor's dtype, and in bytes.
  struct StorageExtent {
    uint64_t numel;
    uint64_t bytes;
  };

  StorageExtent typed_storage(const Obj& o) {
    if (storage_arg(o)->untyped) fail("_rebuild_tensor_v2 with an untyped storage");
    uint64_t bytes = 0;
    if (!checked_mul(o->storage_numel, c10::elementSize(o->dtype), &bytes)) {
      fail("storage '" + o->text + "' of " + std::to_string(o->storage_numel) + " elements overflows");
    }
    return {o->storage_numel, bytes};
  }

  StorageExtent untyped_storage_as(const Obj& o, at::ScalarType dtype) {
    if (!storage_arg(o)->untyped) fail("_rebuild_tensor_v3 with a typed storage");
    const uint64_t element_size = c10::elementSize(dtype);
    if (o->storage_numel % element_size != 0) {
      fail("storage '" + o->text + "' of " + std::to_string(o->storage_numel) + " bytes is not a whole number of " +
           c10::toString(dtype) + " elements");
    }
    return {o->storage_numel / element_size, o->storage_numel};
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

  // The view (size, stride, offset) of the storage a[0], checked to stay inside it.
  Obj rebuild_tensor(const std::vector<Obj>& a, at::ScalarType dtype, StorageExtent storage, const char* fn) {
    if (a[1]->kind != Kind::Int || a[1]->integer < 0) fail(std::string(fn) + ": storage offset is not a non-negative int");
    const int64_t offset = a[1]->integer;
    const std::vector<int64_t> size = int_tuple(a[2], "size");
    const std::vector<int64_t> stride = int_tuple(a[3], "stride");
    if (size.size() != stride.size()) fail(std::string(fn) + ": size and stride differ in length");

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
    const bool inside = numel == 0 ? static_cast<uint64_t>(offset) <= storage.numel : last < storage.numel;
    if (!inside) {
      fail("tensor view with " + view + " reaches past the end of storage '" + a[0]->text + "' (" +
           std::to_string(storage.numel) + " elements)");
    }

    Obj t = make(Kind::Tensor);
    t->view = TensorView{a[0]->storage_key, storage.bytes, dtype, offset, size, stride};
    return t;
  }

  std::string_view data_;
  std::string where_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<Obj> stack_;
  std::vector<std::vector<Obj>> metastack_;
  std::unordered_map<uint32_t, Obj> memo_;
  std::vector<Obj> arena_;
};

Unpickler::Unpickler(std::string_view data, std::string where)
    : machine_(std::make_unique<Machine>(data, std::move(where))) {}

Unpickler::~Unpickler() = default;

Obj Unpickler::load() { return machine_->load(); }

}  // namespace tce::pickle
