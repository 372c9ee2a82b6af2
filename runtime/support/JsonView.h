//===- JsonView.h - Reading JSON documents with clear errors ----*- C++ -*-===//
//
// The runtime reads graph.json, manifest.json and safetensors headers with
// nlohmann::json (nlohmann-json3-dev). This adds what a reader of those files
// needs on top: parseJson, whose errors name the file, the line and the
// column (and which rejects duplicate keys, which nlohmann would silently
// merge), and JsonView, which remembers where a value sits in the document,
// for type errors such as "expected an array at 'nodes[3].operands.weight',
// got the string "x"".
//
// Nothing here throws nlohmann's exceptions: documents are parsed without
// them and every access is checked first (the compiler, built with
// -fno-exceptions, instantiates the same templates).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_SUPPORT_JSONVIEW_H
#define NSL_RUNTIME_SUPPORT_JSONVIEW_H

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nsl::support {

/// Every error of parseJson and JsonView.
class JsonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Parses exactly one JSON value (RFC 8259). Errors read
/// "[sourceName: ]line L, column C: what went wrong" for syntax errors (the
/// column counts bytes) and "[sourceName: ]duplicate key "k" at 'path'".
/// nlohmann parses and destroys documents without recursion, so any nesting
/// is safe.
nlohmann::json parseJson(std::string_view text,
                         const std::string &sourceName = {});

/// "null", "a boolean", "a number", "a string", "an array", "an object".
const char *kindDescription(const nlohmann::json &value);

/// The value of a number that is an exact int64 ("3", "3.0", "3e2"; not
/// "3.5", not 1e20), else nullopt.
std::optional<int64_t> exactInteger(const nlohmann::json &value);

/// A read-only handle to a value that remembers its path in the document.
/// Views borrow the document, which must outlive them. Every accessor throws
/// JsonError naming the path when the value has another type.
class JsonView {
public:
  explicit JsonView(const nlohmann::json &value, std::string path = {})
      : value_(&value), path_(std::move(path)) {}

  const nlohmann::json &value() const { return *value_; }
  /// "nodes[3].operands.weight"; empty for the document itself.
  const std::string &path() const { return path_; }
  /// "at 'nodes[3]'", or "at the top level".
  std::string location() const;

  bool isNull() const { return value_->is_null(); }
  bool isBool() const { return value_->is_boolean(); }
  bool isNumber() const { return value_->is_number(); }
  bool isInteger() const { return exactInteger(*value_).has_value(); }
  bool isString() const { return value_->is_string(); }
  bool isArray() const { return value_->is_array(); }
  bool isObject() const { return value_->is_object(); }

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
  /// The members of an object, in key order.
  std::vector<std::pair<std::string, JsonView>> members() const;
  /// Elements of an array or members of an object (0 for scalars).
  size_t size() const;

  /// Throws unless the view is an object.
  const JsonView &expectObject() const;
  /// Throws JsonError "<message> at '<path>'".
  [[noreturn]] void fail(const std::string &message) const;

private:
  const nlohmann::json *value_;
  std::string path_;
};

} // namespace nsl::support

#endif // NSL_RUNTIME_SUPPORT_JSONVIEW_H
