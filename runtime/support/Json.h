//===- Json.h - A small JSON library for the runtime ------------*- C++ -*-===//
//
// The runtime reads graph.json and manifest.json and writes reports without
// MLIR, LLVM or third-party code (DESIGN.md §2), so it carries its own JSON:
// a value type that keeps object members in insertion order, a strict RFC 8259
// parser whose errors give line and column, and a writer whose numbers read
// back bit-exactly. JsonView adds the document path to type errors
// ("expected an array at 'nodes[3].operands.weight'").
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_SUPPORT_JSON_H
#define NSL_RUNTIME_SUPPORT_JSON_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace nsl::support {

/// Every JSON error (syntax, wrong type, missing member, unwritable value).
class JsonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<JsonValue>;
  /// Members in insertion (document) order; keys are unique.
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;
  JsonValue(std::nullptr_t) {}
  JsonValue(bool b) : data_(b) {}
  /// An integral double that fits int64 (other than -0.0) is also an integer.
  JsonValue(double number);
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  JsonValue(T integer) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (integer > static_cast<T>(INT64_MAX)) {
        data_ = Number{static_cast<double>(integer), 0, false};
        return;
      }
    }
    data_ = Number{static_cast<double>(integer), static_cast<int64_t>(integer),
                   true};
  }
  JsonValue(std::string s) : data_(std::move(s)) {}
  JsonValue(std::string_view s) : data_(std::string(s)) {}
  JsonValue(const char *s) : data_(std::string(s)) {}
  JsonValue(Array a) : data_(std::move(a)) {}
  JsonValue(Object o) : data_(std::move(o)) {}
  static JsonValue array() { return JsonValue(Array{}); }
  static JsonValue object() { return JsonValue(Object{}); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool isNull() const { return kind() == Kind::Null; }
  bool isBool() const { return kind() == Kind::Bool; }
  bool isNumber() const { return kind() == Kind::Number; }
  /// A number whose value is an exact int64 ("3", "3.0", "3e2"; not "3.5",
  /// not 1e20).
  bool isInteger() const {
    return isNumber() && std::get<Number>(data_).isInteger;
  }
  bool isString() const { return kind() == Kind::String; }
  bool isArray() const { return kind() == Kind::Array; }
  bool isObject() const { return kind() == Kind::Object; }

  /// Typed accessors; each throws JsonError naming the expected and the
  /// actual kind when the value has another kind.
  bool asBool() const;
  double asNumber() const;
  int64_t asInteger() const;
  const std::string &asString() const;
  const Array &asArray() const;
  Array &asArray();
  const Object &asObject() const;
  Object &asObject();

  /// Elements of an array or members of an object (0 for scalars).
  size_t size() const;
  /// The member named key of an object, or null if absent or not an object.
  const JsonValue *find(std::string_view key) const;
  JsonValue *find(std::string_view key);
  /// The member named key; inserts a null member at the end if absent.
  /// Turns a null value into an empty object first, so documents can be
  /// built with `doc["a"]["b"] = 1`.
  JsonValue &operator[](std::string_view key);
  /// Appends to an array (a null value becomes an empty array first).
  void push_back(JsonValue element);

  /// Structural equality: numbers by value, object members regardless of
  /// order.
  friend bool operator==(const JsonValue &a, const JsonValue &b);
  friend bool operator!=(const JsonValue &a, const JsonValue &b) {
    return !(a == b);
  }

private:
  struct Number {
    double value;
    int64_t integer; // exact value when isInteger
    bool isInteger;
  };
  // Alternatives in the order of Kind.
  std::variant<std::nullptr_t, bool, Number, std::string, Array, Object> data_;
};

/// "null", "a boolean", "a number", … for messages.
const char *kindDescription(JsonValue::Kind kind);

struct JsonParseOptions {
  /// Prefix of error messages, normally the file name.
  std::string sourceName;
  /// Arrays and objects nested deeper than this are rejected, so that a
  /// hostile file cannot exhaust the stack.
  int maxDepth = 256;
};

/// Parses exactly one JSON value (RFC 8259: no comments, no trailing commas,
/// no duplicate keys, valid UTF-8, nothing but whitespace after the value).
/// Errors read "[sourceName: ]line L, column C: what went wrong".
JsonValue parseJson(std::string_view text,
                    const JsonParseOptions &options = {});

struct JsonWriteOptions {
  /// Spaces per level; negative writes the compact form. In the pretty form
  /// an array of scalars stays on one line (shapes, stride pairs).
  int indent = -1;
};

/// Writes a value; integers have no decimal point and other numbers are the
/// shortest text that reads back to the same double. Throws JsonError (with
/// the path) for NaN, infinities and strings that are not valid UTF-8.
std::string writeJson(const JsonValue &value,
                      const JsonWriteOptions &options = {});

/// A read-only handle to a value that remembers its path in the document,
/// for errors such as "expected an integer at 'nodes[3].attributes.stride[1]',
/// got a string". Views borrow the document, which must outlive them.
class JsonView {
public:
  explicit JsonView(const JsonValue &value, std::string path = {})
      : value_(&value), path_(std::move(path)) {}

  const JsonValue &value() const { return *value_; }
  /// "nodes[3].operands.weight"; empty for the document itself.
  const std::string &path() const { return path_; }
  /// "at 'nodes[3]'", or "at the top level".
  std::string location() const;

  JsonValue::Kind kind() const { return value_->kind(); }
  bool isNull() const { return value_->isNull(); }
  bool isBool() const { return value_->isBool(); }
  bool isNumber() const { return value_->isNumber(); }
  bool isInteger() const { return value_->isInteger(); }
  bool isString() const { return value_->isString(); }
  bool isArray() const { return value_->isArray(); }
  bool isObject() const { return value_->isObject(); }

  bool asBool() const;
  double asNumber() const;
  int64_t asInteger() const;
  const std::string &asString() const;

  /// A required member of an object.
  JsonView operator[](std::string_view key) const;
  /// An optional member of an object (the view must be an object).
  std::optional<JsonView> find(std::string_view key) const;
  /// An element of an array.
  JsonView operator[](size_t index) const;
  /// The elements of an array.
  std::vector<JsonView> elements() const;
  /// The members of an object, in document order.
  std::vector<std::pair<std::string, JsonView>> members() const;
  size_t size() const;

  /// Throws if the view is not of this kind.
  const JsonView &expect(JsonValue::Kind kind) const;
  /// Throws JsonError "<message> at '<path>'".
  [[noreturn]] void fail(const std::string &message) const;

private:
  const JsonValue *value_;
  std::string path_;
};

} // namespace nsl::support

#endif // NSL_RUNTIME_SUPPORT_JSON_H
