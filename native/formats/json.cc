#include "formats/json.h"

#include <cstdio>
#include <limits>
#include <locale>
#include <sstream>

#include "runtime/errors.h"

namespace tce::json {

// ---- Value -------------------------------------------------------------------------------

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

Value Value::number(std::string text) {
  Value v;
  v.type_ = Type::Number;
  v.text_ = std::move(text);
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.text_ = std::move(s);
  return v;
}

Value Value::array(Array items) {
  Value v;
  v.type_ = Type::Array;
  v.array_ = std::move(items);
  return v;
}

Value Value::object(Object members) {
  Value v;
  v.type_ = Type::Object;
  v.object_ = std::move(members);
  return v;
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "unknown";
}

namespace {

[[noreturn]] void wrong_type(const Value& v, const char* expected) {
  throw FormatError(std::string("JSON value is a ") + v.type_name() + ", expected a " + expected);
}

}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) wrong_type(*this, "boolean");
  return bool_;
}

const std::string& Value::number_text() const {
  if (!is_number()) wrong_type(*this, "number");
  return text_;
}

double Value::as_double() const {
  // istringstream with the classic locale: strtod would honour a ',' decimal point.
  std::istringstream in(number_text());
  in.imbue(std::locale::classic());
  double d = 0;
  in >> d;
  if (in.fail()) throw FormatError("JSON number " + text_ + " is out of range for a double");
  return d;
}

const std::string& Value::as_string() const {
  if (!is_string()) wrong_type(*this, "string");
  return text_;
}

const Value::Array& Value::as_array() const {
  if (!is_array()) wrong_type(*this, "array");
  return array_;
}

const Value::Object& Value::as_object() const {
  if (!is_object()) wrong_type(*this, "object");
  return object_;
}

namespace {

// Magnitude of an integer literal ("-12" → 12, negative = true); nullopt for fractions,
// exponents or values beyond uint64_t.
std::optional<uint64_t> integer_magnitude(const std::string& text, bool* negative) {
  size_t i = 0;
  *negative = !text.empty() && text[0] == '-';
  if (*negative) i = 1;
  if (i == text.size()) return std::nullopt;
  uint64_t value = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

std::optional<int64_t> Value::as_int64() const {
  if (!is_number()) return std::nullopt;
  bool negative = false;
  const auto magnitude = integer_magnitude(text_, &negative);
  if (!magnitude) return std::nullopt;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!negative) {
    if (*magnitude > kMax) return std::nullopt;
    return static_cast<int64_t>(*magnitude);
  }
  if (*magnitude > kMax + 1) return std::nullopt;
  return *magnitude == kMax + 1 ? std::numeric_limits<int64_t>::min()
                                : -static_cast<int64_t>(*magnitude);
}

std::optional<uint64_t> Value::as_uint64() const {
  if (!is_number()) return std::nullopt;
  bool negative = false;
  const auto magnitude = integer_magnitude(text_, &negative);
  if (!magnitude || (negative && *magnitude != 0)) return std::nullopt;
  return magnitude;
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (auto it = object_.rbegin(); it != object_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

// ---- Parser ------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  Value parse_document() {
    skip_whitespace();
    Value v = parse_value(0);
    skip_whitespace();
    if (pos_ != text_.size()) fail("unexpected " + describe_current() + " after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw FormatError(where_ + ": invalid JSON at byte " + std::to_string(pos) + " (line " +
                      std::to_string(line) + ", column " + std::to_string(column) + "): " + what);
  }

  std::string describe_current() const {
    if (pos_ >= text_.size()) return "end of input";
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c >= 0x20 && c < 0x7f) return std::string("character '") + static_cast<char>(c) + "'";
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  Value parse_value(int depth) {
    if (at_end()) fail("unexpected end of input, expected a value");
    switch (peek()) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Value::string(parse_string());
      case 't': expect_literal("true"); return Value::boolean(true);
      case 'f': expect_literal("false"); return Value::boolean(false);
      case 'n': expect_literal("null"); return Value();
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        fail("unexpected " + describe_current() + ", expected a value");
    }
  }

  void check_depth(int depth) const {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  }

  Value parse_object(int depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Value::Object members;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return Value::object(std::move(members));
    }
    for (;;) {
      skip_whitespace();
      if (at_end() || peek() != '"') fail("unexpected " + describe_current() + ", expected a string key");
      std::string key = parse_string();
      skip_whitespace();
      if (at_end() || peek() != ':') fail("unexpected " + describe_current() + ", expected ':' after an object key");
      ++pos_;
      skip_whitespace();
      Value value = parse_value(depth);
      members.emplace_back(std::move(key), std::move(value));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      if (!at_end() && peek() == '}') {
        ++pos_;
        return Value::object(std::move(members));
      }
      fail("unexpected " + describe_current() + ", expected ',' or '}' in an object");
    }
  }

  Value parse_array(int depth) {
    check_depth(depth);
    ++pos_;  // '['
    Value::Array items;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return Value::array(std::move(items));
    }
    for (;;) {
      skip_whitespace();
      items.push_back(parse_value(depth));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      if (!at_end() && peek() == ']') {
        ++pos_;
        return Value::array(std::move(items));
      }
      fail("unexpected " + describe_current() + ", expected ',' or ']' in an array");
    }
  }

  void expect_literal(const char* literal) {
    const std::string_view lit(literal);
    if (text_.substr(pos_, lit.size()) != lit) fail("unexpected " + describe_current() + ", expected a value");
    pos_ += lit.size();
  }

  size_t scan_digits() {
    const size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ - start;
  }

  Value parse_number() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!at_end() && peek() == '0') {
      ++pos_;  // a leading zero stands alone: "01" is not JSON
    } else if (scan_digits() == 0) {
      fail("unexpected " + describe_current() + ", expected a digit");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (scan_digits() == 0) fail("unexpected " + describe_current() + ", expected a digit after '.'");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (scan_digits() == 0) fail("unexpected " + describe_current() + ", expected a digit in the exponent");
    }
    return Value::number(std::string(text_.substr(start, pos_ - start)));
  }

  uint32_t parse_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9') digit = c - '0';
      else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      else fail("unexpected " + describe_current() + " in a \\u escape, expected a hex digit");
      value = value * 16 + digit;
    }
    return value;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // After the 'u' of a \u escape: one code point, joining a surrogate pair.
  uint32_t parse_unicode_escape(size_t escape_start) {
    const uint32_t unit = parse_hex4();
    if (unit >= 0xDC00 && unit <= 0xDFFF) fail_at(escape_start, "lone low surrogate in a \\u escape");
    if (unit < 0xD800 || unit > 0xDBFF) return unit;
    if (text_.substr(pos_, 2) != "\\u") fail_at(escape_start, "high surrogate not followed by a \\u low surrogate");
    pos_ += 2;
    const uint32_t low = parse_hex4();
    if (low < 0xDC00 || low > 0xDFFF) fail_at(escape_start, "high surrogate not followed by a low surrogate");
    return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
  }

  // Length of the well-formed UTF-8 sequence at pos_ (Unicode Table 3-7), 0 if ill-formed.
  size_t utf8_sequence_length() const {
    const auto byte = [&](size_t i) -> unsigned {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0x100;
    };
    const auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
      return byte(i) >= lo && byte(i) <= hi;
    };
    const unsigned b0 = byte(0);
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
    if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  std::string parse_string() {
    const size_t start = pos_;
    ++pos_;  // '"'
    std::string out;
    for (;;) {
      if (at_end()) fail_at(start, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("unescaped control " + describe_current() + " in a string");
      if (c == '\\') {
        const size_t escape_start = pos_;
        ++pos_;
        if (at_end()) fail_at(start, "unterminated string");
        const char e = peek();
        ++pos_;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': append_utf8(out, parse_unicode_escape(escape_start)); break;
          default:
            --pos_;
            fail("invalid escape: backslash followed by " + describe_current());
        }
        continue;
      }
      const size_t n = utf8_sequence_length();
      if (n == 0) fail("invalid UTF-8 " + describe_current() + " in a string");
      out.append(text_.data() + pos_, n);
      pos_ += n;
    }
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const std::string& where) {
  return Parser(text, where).parse_document();
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace tce::json
