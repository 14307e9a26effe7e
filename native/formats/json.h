// A small strict JSON (RFC 8259) reader for safetensors headers and config files, plus string
// quoting for writers. Numbers keep their source text so integers such as byte offsets are
// read exactly, beyond what a double holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tce::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;  // members in document order

  Value() = default;  // null
  static Value boolean(bool b);
  static Value number(std::string text);  // text must already be a valid JSON number
  static Value string(std::string s);
  static Value array(Array items);
  static Value object(Object members);

  Type type() const { return type_; }
  const char* type_name() const;  // "null", "boolean", "number", "string", "array", "object"
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed access; a FormatError names the actual type when it does not match.
  bool as_bool() const;
  double as_double() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // The number's source text ("1e3", "-0.5", "42").
  const std::string& number_text() const;
  // Exact value of an integer literal (no fraction or exponent) that fits; nullopt otherwise.
  std::optional<int64_t> as_int64() const;
  std::optional<uint64_t> as_uint64() const;

  // Member lookup on an object (nullptr if absent or not an object). With duplicate keys the
  // last one wins, as in Python's json module.
  const Value* find(std::string_view key) const;

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  std::string text_;  // String contents (UTF-8) or Number source text
  Array array_;
  Object object_;
};

// Deeper nesting is rejected rather than risking the stack on hostile input.
inline constexpr int kMaxDepth = 256;

// Parses one JSON document (surrounding whitespace allowed). Strings must be valid UTF-8;
// \uXXXX escapes, surrogate pairs included, become UTF-8. Nesting is limited to kMaxDepth.
// Throws tce::FormatError "<where>: invalid JSON at byte N (line L, column C): <what>".
Value parse(std::string_view text, const std::string& where);

// `s` as a JSON string literal with quotes; non-ASCII UTF-8 passes through unchanged.
std::string quote(std::string_view s);

}  // namespace tce::json
