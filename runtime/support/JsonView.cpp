//===- JsonView.cpp - Reading JSON documents with clear errors ------------===//

#include "runtime/support/JsonView.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace nsl::support {

using nlohmann::json;

namespace {

bool isIdentifier(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])))
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// A JSON string literal; invalid UTF-8 (never in a parsed document) becomes
/// U+FFFD rather than an exception.
std::string jsonQuoted(std::string_view s) {
  return json(std::string(s))
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Appends a member access to a document path: `a.b`, `a["conv.weight"]`.
void appendKey(std::string &path, std::string_view key) {
  if (!isIdentifier(key)) {
    path += "[" + jsonQuoted(key) + "]";
    return;
  }
  if (!path.empty())
    path += '.';
  path.append(key);
}

void appendIndex(std::string &path, size_t index) {
  path += "[" + std::to_string(index) + "]";
}

std::string locationOf(const std::string &path) {
  return path.empty() ? "at the top level" : "at '" + path + "'";
}

/// "the string \"abc\"", "1.5", "an array", … for "expected X, got Y".
std::string describeValue(const json &value) {
  if (value.is_boolean())
    return value.dump();
  if (value.is_number()) {
    std::optional<int64_t> integer = exactInteger(value);
    return integer ? std::to_string(*integer) : value.dump();
  }
  if (value.is_string()) {
    const std::string &s = *value.get_ptr<const std::string *>();
    return s.size() > 40 ? "a string" : "the string " + jsonQuoted(s);
  }
  return kindDescription(value);
}

/// Follows nlohmann's parse events to find the first duplicate key, which
/// nlohmann accepts (keeping the last value) but our files must not have.
class DuplicateKeyFinder {
public:
  bool operator()(int /*depth*/, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
    case json::parse_event_t::array_start:
      startElement();
      frames_.push_back({{}, 0, event == json::parse_event_t::object_start});
      if (frames_.back().isObject)
        keys_.emplace_back();
      break;
    case json::parse_event_t::key:
      frames_.back().key = *parsed.get_ptr<const std::string *>();
      if (!keys_.back().insert(frames_.back().key).second && problem_.empty())
        problem_ = "duplicate key " + jsonQuoted(frames_.back().key) + " " +
                   locationOf(pathTo(frames_.size() - 1));
      break;
    case json::parse_event_t::object_end:
    case json::parse_event_t::array_end:
      if (frames_.back().isObject)
        keys_.pop_back();
      frames_.pop_back();
      break;
    case json::parse_event_t::value:
      startElement();
      break;
    }
    return true;
  }

  const std::string &problem() const { return problem_; }

private:
  struct Frame {
    std::string key;     // objects: the member being read
    size_t elements = 0; // arrays: the elements started so far
    bool isObject;
  };
  std::vector<Frame> frames_;               // the open arrays and objects
  std::vector<std::set<std::string>> keys_; // the keys of the open objects
  std::string problem_;

  void startElement() {
    if (!frames_.empty() && !frames_.back().isObject)
      ++frames_.back().elements;
  }
  /// The path of the value that the first `levels` frames lead to.
  std::string pathTo(size_t levels) const {
    std::string path;
    for (size_t i = 0; i < levels; ++i) {
      if (frames_[i].isObject)
        appendKey(path, frames_[i].key);
      else
        appendIndex(path, frames_[i].elements - 1);
    }
    return path;
  }
};

/// A second pass over a document that failed to parse, for nlohmann's
/// description of the first syntax error (the non-throwing parse only says
/// that there was one).
class SyntaxErrorFinder : public nlohmann::json_sax<json> {
public:
  size_t position = 0;
  std::string message;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t &) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t at, const std::string &,
                   const nlohmann::json::exception &error) override {
    position = at;
    message = error.what();
    return false;
  }
};

/// nlohmann's "syntax error while parsing object key - unexpected ',';
/// expected string literal" as "unexpected ','; expected string literal
/// (while parsing object key)": the message is already an error.
std::string rephrase(const std::string &detail) {
  const std::string syntax = "syntax error while parsing ";
  size_t dash = detail.find(" - ");
  if (detail.rfind(syntax, 0) != 0 || dash == std::string::npos)
    return detail;
  return detail.substr(dash + 3) + " (while parsing " +
         detail.substr(syntax.size(), dash - syntax.size()) + ")";
}

/// "line 2, column 16: unexpected ','; expected string literal (while
/// parsing object key)" for the first syntax error of `text`.
std::string syntaxError(std::string_view text) {
  SyntaxErrorFinder finder;
  json::sax_parse(text, &finder);
  std::string message = finder.message;
  if (message.rfind("[json.exception.", 0) == 0)
    message.erase(0, message.find("] ") + 2);
  const std::string at = "parse error at ";
  size_t colon = message.find(": ");
  if (message.rfind(at, 0) == 0 && colon != std::string::npos)
    return message.substr(at.size(), colon - at.size()) + ": " +
           rephrase(message.substr(colon + 2));
  // Other errors (a number too large for a double) give only the number of
  // bytes read; count lines and columns the way nlohmann does.
  std::string_view read = text.substr(0, finder.position);
  size_t lineStart = read.rfind('\n');
  lineStart = lineStart == std::string_view::npos ? 0 : lineStart + 1;
  return "line " +
         std::to_string(1 + std::count(read.begin(), read.end(), '\n')) +
         ", column " + std::to_string(finder.position - lineStart) + ": " +
         (message.empty() ? "malformed JSON" : message);
}

[[noreturn]] void kindError(const char *expected, const json &actual,
                            const std::string &location) {
  throw JsonError(std::string("expected ") + expected + " " + location +
                  ", got " + describeValue(actual));
}

} // namespace

json parseJson(std::string_view text, const std::string &sourceName) {
  std::string prefix = sourceName.empty() ? "" : sourceName + ": ";
  DuplicateKeyFinder duplicates;
  json document = json::parse(text, std::ref(duplicates),
                              /*allow_exceptions=*/false);
  if (document.is_discarded())
    throw JsonError(prefix + syntaxError(text));
  if (!duplicates.problem().empty())
    throw JsonError(prefix + duplicates.problem());
  return document;
}

const char *kindDescription(const json &value) {
  switch (value.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return "a number";
  case json::value_t::string:
    return "a string";
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  case json::value_t::binary:
  case json::value_t::discarded:
    break;
  }
  return "a value JSON text cannot hold";
}

std::optional<int64_t> exactInteger(const json &value) {
  switch (value.type()) {
  case json::value_t::number_integer:
    return *value.get_ptr<const json::number_integer_t *>();
  case json::value_t::number_unsigned: {
    json::number_unsigned_t n =
        *value.get_ptr<const json::number_unsigned_t *>();
    if (n <= static_cast<json::number_unsigned_t>(INT64_MAX))
      return static_cast<int64_t>(n);
    return std::nullopt;
  }
  case json::value_t::number_float: {
    // 2^63 is exactly representable; int64 covers [-2^63, 2^63).
    constexpr double limit = 9223372036854775808.0;
    double d = *value.get_ptr<const json::number_float_t *>();
    if (std::trunc(d) == d && d >= -limit && d < limit)
      return static_cast<int64_t>(d);
    return std::nullopt;
  }
  default:
    return std::nullopt;
  }
}

//===----------------------------------------------------------------------===//
// JsonView
//===----------------------------------------------------------------------===//

std::string JsonView::location() const { return locationOf(path_); }

void JsonView::fail(const std::string &message) const {
  throw JsonError(message + " " + location());
}

const JsonView &JsonView::expectObject() const {
  if (!isObject())
    kindError("an object", *value_, location());
  return *this;
}

bool JsonView::asBool() const {
  if (!isBool())
    kindError("a boolean", *value_, location());
  return *value_->get_ptr<const bool *>();
}

double JsonView::asNumber() const {
  if (!isNumber())
    kindError("a number", *value_, location());
  return value_->get<double>(); // no exception for any kind of number
}

int64_t JsonView::asInteger() const {
  std::optional<int64_t> integer = exactInteger(*value_);
  if (!integer)
    kindError("an integer", *value_, location());
  return *integer;
}

const std::string &JsonView::asString() const {
  if (!isString())
    kindError("a string", *value_, location());
  return *value_->get_ptr<const std::string *>();
}

std::optional<JsonView> JsonView::find(std::string_view key) const {
  expectObject();
  auto it = value_->find(key);
  if (it == value_->end())
    return std::nullopt;
  std::string path = path_;
  appendKey(path, key);
  return JsonView(*it, std::move(path));
}

JsonView JsonView::operator[](std::string_view key) const {
  std::optional<JsonView> member = find(key);
  if (!member)
    fail("missing member '" + std::string(key) + "'");
  return *member;
}

JsonView JsonView::operator[](size_t index) const {
  if (!isArray())
    kindError("an array", *value_, location());
  if (index >= value_->size())
    fail("index " + std::to_string(index) + " is out of range (the array has " +
         std::to_string(value_->size()) + " elements)");
  std::string path = path_;
  appendIndex(path, index);
  return JsonView((*value_)[index], std::move(path));
}

std::vector<JsonView> JsonView::elements() const {
  if (!isArray())
    kindError("an array", *value_, location());
  std::vector<JsonView> views;
  views.reserve(value_->size());
  for (size_t i = 0; i < value_->size(); ++i)
    views.push_back((*this)[i]);
  return views;
}

std::vector<std::pair<std::string, JsonView>> JsonView::members() const {
  expectObject();
  std::vector<std::pair<std::string, JsonView>> views;
  for (auto it = value_->begin(); it != value_->end(); ++it) {
    std::string path = path_;
    appendKey(path, it.key());
    views.emplace_back(it.key(), JsonView(it.value(), std::move(path)));
  }
  return views;
}

size_t JsonView::size() const {
  return isArray() || isObject() ? value_->size() : 0;
}

} // namespace nsl::support
