//===- Json.cpp - A small JSON library for the runtime --------------------===//
//
// Strict parsing (RFC 8259) with positions in every error, and a writer whose
// output parses back to an equal value: numbers go through std::from_chars /
// std::to_chars, which are exact and independent of the C locale.
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <unordered_set>

namespace nsl::support {

//===----------------------------------------------------------------------===//
// Helpers shared by parser, writer and views
//===----------------------------------------------------------------------===//

namespace {

/// Length of the valid UTF-8 sequence starting at s[pos] (a non-ASCII lead
/// byte), or 0 if it is malformed, overlong, a surrogate or above U+10FFFF.
size_t utf8SequenceLength(std::string_view s, size_t pos) {
  auto byte = [&](size_t i) -> unsigned {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0u;
  };
  auto isContinuation = [](unsigned b) { return (b & 0xC0u) == 0x80u; };
  unsigned lead = byte(0);
  // The allowed range of the second byte depends on the lead byte (this is
  // what excludes overlong forms, surrogates and code points > U+10FFFF).
  unsigned lo = 0x80, hi = 0xBF;
  size_t length;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      lo = 0xA0;
    else if (lead == 0xED)
      hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      lo = 0x90;
    else if (lead == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (byte(1) < lo || byte(1) > hi)
    return 0;
  for (size_t i = 2; i < length; ++i)
    if (!isContinuation(byte(i)))
      return 0;
  return length;
}

void appendUtf8(std::string &out, uint32_t codePoint) {
  if (codePoint < 0x80) {
    out += static_cast<char>(codePoint);
  } else if (codePoint < 0x800) {
    out += static_cast<char>(0xC0 | (codePoint >> 6));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else if (codePoint < 0x10000) {
    out += static_cast<char>(0xE0 | (codePoint >> 12));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (codePoint >> 18));
    out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  }
}

bool isIdentifier(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])))
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// Writes s as a JSON string literal; false if s is not valid UTF-8.
bool appendQuoted(std::string &out, std::string_view s) {
  static const char *hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t length = utf8SequenceLength(s, i);
      if (length == 0)
        return false;
      out.append(s.substr(i, length));
      i += length;
      continue;
    }
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
      } else {
        out += static_cast<char>(c);
      }
    }
    ++i;
  }
  out += '"';
  return true;
}

/// Appends a member access to a document path: `a.b`, `a["conv.weight"]`.
void appendKeyToPath(std::string &path, std::string_view key) {
  if (isIdentifier(key)) {
    if (!path.empty())
      path += '.';
    path.append(key);
    return;
  }
  path += '[';
  appendQuoted(path, key); // A key that is not UTF-8 cannot come from JSON.
  path += ']';
}

void appendIndexToPath(std::string &path, size_t index) {
  path += '[';
  path += std::to_string(index);
  path += ']';
}

std::string numberToString(double value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

/// "a string \"abc\"", "1.5", "an array", … for "expected X, got Y".
std::string describeValue(const JsonValue &value) {
  switch (value.kind()) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return value.asBool() ? "true" : "false";
  case JsonValue::Kind::Number:
    return value.isInteger() ? std::to_string(value.asInteger())
                             : numberToString(value.asNumber());
  case JsonValue::Kind::String: {
    const std::string &s = value.asString();
    std::string quoted;
    if (s.size() > 40 || !appendQuoted(quoted, s))
      return "a string";
    return "the string " + quoted;
  }
  case JsonValue::Kind::Array:
    return "an array";
  case JsonValue::Kind::Object:
    return "an object";
  }
  return "?";
}

const char *article(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return "a boolean";
  case JsonValue::Kind::Number:
    return "a number";
  case JsonValue::Kind::String:
    return "a string";
  case JsonValue::Kind::Array:
    return "an array";
  case JsonValue::Kind::Object:
    return "an object";
  }
  return "?";
}

[[noreturn]] void kindError(const char *expected, const JsonValue &actual,
                            const std::string &location) {
  std::string message = std::string("expected ") + expected;
  if (!location.empty())
    message += " " + location;
  throw JsonError(message + ", got " + describeValue(actual));
}

} // namespace

const char *kindDescription(JsonValue::Kind kind) { return article(kind); }

//===----------------------------------------------------------------------===//
// JsonValue
//===----------------------------------------------------------------------===//

JsonValue::JsonValue(double number) {
  // 2^63 is exactly representable; int64 covers [-2^63, 2^63).
  constexpr double limit = 9223372036854775808.0;
  bool integral = std::isfinite(number) && std::trunc(number) == number &&
                  number >= -limit && number < limit;
  data_ = Number{number, integral ? static_cast<int64_t>(number) : 0, integral};
}

bool JsonValue::asBool() const {
  if (!isBool())
    kindError("a boolean", *this, "");
  return std::get<bool>(data_);
}

double JsonValue::asNumber() const {
  if (!isNumber())
    kindError("a number", *this, "");
  return std::get<Number>(data_).value;
}

int64_t JsonValue::asInteger() const {
  if (!isInteger())
    kindError("an integer", *this, "");
  return std::get<Number>(data_).integer;
}

const std::string &JsonValue::asString() const {
  if (!isString())
    kindError("a string", *this, "");
  return std::get<std::string>(data_);
}

const JsonValue::Array &JsonValue::asArray() const {
  if (!isArray())
    kindError("an array", *this, "");
  return std::get<Array>(data_);
}

JsonValue::Array &JsonValue::asArray() {
  if (!isArray())
    kindError("an array", *this, "");
  return std::get<Array>(data_);
}

const JsonValue::Object &JsonValue::asObject() const {
  if (!isObject())
    kindError("an object", *this, "");
  return std::get<Object>(data_);
}

JsonValue::Object &JsonValue::asObject() {
  if (!isObject())
    kindError("an object", *this, "");
  return std::get<Object>(data_);
}

size_t JsonValue::size() const {
  if (isArray())
    return std::get<Array>(data_).size();
  if (isObject())
    return std::get<Object>(data_).size();
  return 0;
}

const JsonValue *JsonValue::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const auto &[name, value] : std::get<Object>(data_))
    if (name == key)
      return &value;
  return nullptr;
}

JsonValue *JsonValue::find(std::string_view key) {
  return const_cast<JsonValue *>(std::as_const(*this).find(key));
}

JsonValue &JsonValue::operator[](std::string_view key) {
  if (isNull())
    data_ = Object{};
  Object &object = asObject();
  for (auto &[name, value] : object)
    if (name == key)
      return value;
  object.emplace_back(std::string(key), JsonValue());
  return object.back().second;
}

void JsonValue::push_back(JsonValue element) {
  if (isNull())
    data_ = Array{};
  asArray().push_back(std::move(element));
}

bool operator==(const JsonValue &a, const JsonValue &b) {
  if (a.kind() != b.kind())
    return false;
  switch (a.kind()) {
  case JsonValue::Kind::Null:
    return true;
  case JsonValue::Kind::Bool:
    return a.asBool() == b.asBool();
  case JsonValue::Kind::Number:
    if (a.isInteger() && b.isInteger())
      return a.asInteger() == b.asInteger();
    return a.asNumber() == b.asNumber();
  case JsonValue::Kind::String:
    return a.asString() == b.asString();
  case JsonValue::Kind::Array:
    return a.asArray() == b.asArray();
  case JsonValue::Kind::Object: {
    if (a.size() != b.size())
      return false;
    for (const auto &[key, value] : a.asObject()) {
      const JsonValue *other = b.find(key);
      if (!other || *other != value)
        return false;
    }
    return true;
  }
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace {

class Parser {
public:
  Parser(std::string_view text, const JsonParseOptions &options)
      : text_(text), options_(options) {}

  JsonValue parseDocument() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") // A byte order mark is harmless.
      pos_ = 3;
    skipWhitespace();
    JsonValue value = parseValue();
    skipWhitespace();
    if (pos_ < text_.size())
      fail(pos_, "unexpected " + describeHere() +
                     " after the JSON value (only one value is allowed)");
    return value;
  }

private:
  std::string_view text_;
  const JsonParseOptions &options_;
  size_t pos_ = 0;
  int depth_ = 0;

  [[noreturn]] void fail(size_t at, const std::string &message) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
        ++column; // Columns count characters, not UTF-8 continuation bytes.
      }
    }
    std::string prefix =
        options_.sourceName.empty() ? "" : options_.sourceName + ": ";
    throw JsonError(prefix + "line " + std::to_string(line) + ", column " +
                    std::to_string(column) + ": " + message);
  }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  /// The character at the current position, for messages.
  std::string describeHere() const {
    if (atEnd())
      return "end of input";
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c >= 0x20 && c < 0x7F)
      return std::string("'") + static_cast<char>(c) + "'";
    static const char *hex = "0123456789ABCDEF";
    return std::string("byte 0x") + hex[c >> 4] + hex[c & 0xF];
  }

  void skipWhitespace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos_;
  }

  void expectLiteral(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal)
      fail(pos_, "invalid literal; expected '" + std::string(literal) + "'");
    pos_ += literal.size();
  }

  JsonValue parseValue() {
    switch (peek()) {
    case '{':
      return parseObject();
    case '[':
      return parseArray();
    case '"':
      return JsonValue(parseString());
    case 't':
      expectLiteral("true");
      return JsonValue(true);
    case 'f':
      expectLiteral("false");
      return JsonValue(false);
    case 'n':
      expectLiteral("null");
      return JsonValue();
    case 'N':
    case 'I':
      fail(pos_,
           "unexpected " + describeHere() + "; JSON has no NaN or Infinity");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber();
      fail(pos_, "expected a JSON value, got " + describeHere());
    }
  }

  void enterContainer(size_t start) {
    if (++depth_ > options_.maxDepth)
      fail(start, "nesting deeper than " + std::to_string(options_.maxDepth) +
                      " levels");
  }

  JsonValue parseArray() {
    enterContainer(pos_);
    ++pos_; // '['
    JsonValue::Array elements;
    skipWhitespace();
    if (peek() == ']') {
      ++pos_;
      --depth_;
      return JsonValue(std::move(elements));
    }
    while (true) {
      skipWhitespace();
      if (peek() == ']')
        fail(pos_, "expected a value after ',' (trailing commas are not "
                   "allowed)");
      elements.push_back(parseValue());
      skipWhitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      fail(pos_,
           "expected ',' or ']' after an array element, got " + describeHere());
    }
    --depth_;
    return JsonValue(std::move(elements));
  }

  JsonValue parseObject() {
    enterContainer(pos_);
    ++pos_; // '{'
    JsonValue::Object members;
    // Duplicate keys are found by a linear scan while the object is small
    // and by a hash set once it is large (a hostile file must not be slow).
    std::unordered_set<std::string> keys;
    constexpr size_t linearScanLimit = 16;
    skipWhitespace();
    if (peek() == '}') {
      ++pos_;
      --depth_;
      return JsonValue(std::move(members));
    }
    while (true) {
      skipWhitespace();
      if (peek() != '"')
        fail(pos_, peek() == '}'
                       ? std::string("expected a key after ',' (trailing "
                                     "commas are not allowed)")
                       : "expected a string key, got " + describeHere());
      size_t keyStart = pos_;
      std::string key = parseString();
      bool duplicate;
      if (members.size() < linearScanLimit) {
        duplicate = std::any_of(members.begin(), members.end(),
                                [&](const auto &m) { return m.first == key; });
      } else {
        if (keys.empty())
          for (const auto &member : members)
            keys.insert(member.first);
        duplicate = !keys.insert(key).second;
      }
      if (duplicate) {
        std::string quoted;
        appendQuoted(quoted, key);
        fail(keyStart, "duplicate key " + quoted);
      }
      skipWhitespace();
      if (peek() != ':')
        fail(pos_, "expected ':' after the key, got " + describeHere());
      ++pos_;
      skipWhitespace();
      JsonValue value = parseValue();
      members.emplace_back(std::move(key), std::move(value));
      skipWhitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      fail(pos_,
           "expected ',' or '}' after an object member, got " + describeHere());
    }
    --depth_;
    return JsonValue(std::move(members));
  }

  uint32_t parseHex4() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        fail(pos_, "expected 4 hexadecimal digits after '\\u', got " +
                       describeHere());
      value = value * 16 + digit;
      ++pos_;
    }
    return value;
  }

  std::string parseString() {
    size_t start = pos_;
    ++pos_; // '"'
    std::string out;
    while (true) {
      if (atEnd())
        fail(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20)
        fail(pos_, std::string("control character ") + describeHere() +
                       " must be escaped in a string" +
                       (c == '\n' ? " (unterminated string?)" : ""));
      if (c >= 0x80) {
        size_t length = utf8SequenceLength(text_, pos_);
        if (length == 0)
          fail(pos_, "invalid UTF-8 (" + describeHere() + ") in a string");
        out.append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      size_t escapeStart = pos_;
      ++pos_;
      if (atEnd())
        fail(start, "unterminated string");
      std::string escaped = describeHere();
      char e = text_[pos_++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t unit = parseHex4();
        if (unit >= 0xDC00 && unit <= 0xDFFF)
          fail(escapeStart, "unpaired low surrogate in a \\u escape");
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          // UTF-16 surrogate pair: the low half must follow at once.
          if (text_.substr(pos_, 2) != "\\u")
            fail(escapeStart, "unpaired high surrogate in a \\u escape");
          pos_ += 2;
          uint32_t low = parseHex4();
          if (low < 0xDC00 || low > 0xDFFF)
            fail(escapeStart, "unpaired high surrogate in a \\u escape");
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, unit);
        break;
      }
      default:
        fail(escapeStart, "invalid escape: backslash followed by " + escaped);
      }
    }
  }

  JsonValue parseNumber() {
    size_t start = pos_;
    auto isDigit = [&] { return peek() >= '0' && peek() <= '9'; };
    auto skipDigits = [&] {
      while (isDigit())
        ++pos_;
    };
    if (peek() == '-')
      ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (isDigit())
        fail(start, "leading zeros are not allowed in a number");
    } else if (isDigit()) {
      skipDigits();
    } else {
      fail(pos_, "expected a digit after '-', got " + describeHere());
    }
    bool plainInteger = true;
    if (peek() == '.') {
      plainInteger = false;
      ++pos_;
      if (!isDigit())
        fail(pos_,
             "expected a digit after the decimal point, got " + describeHere());
      skipDigits();
    }
    if (peek() == 'e' || peek() == 'E') {
      plainInteger = false;
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (!isDigit())
        fail(pos_, "expected a digit in the exponent, got " + describeHere());
      skipDigits();
    }
    std::string_view token = text_.substr(start, pos_ - start);
    const char *first = token.data(), *last = token.data() + token.size();
    double value = 0.0;
    auto result = std::from_chars(first, last, value);
    if (result.ec == std::errc::result_out_of_range) {
      if (!isTiny(token))
        fail(start, "number " + std::string(token) +
                        " is out of the range of a double");
      value = token[0] == '-' ? -0.0 : 0.0; // Underflow rounds to zero.
    }
    if (plainInteger) {
      // Keep integers exact even beyond 2^53 (ids, sizes).
      int64_t integer = 0;
      auto intResult = std::from_chars(first, last, integer);
      if (intResult.ec == std::errc())
        return integer == 0 ? JsonValue(value) : JsonValue(integer); // -0
    }
    return JsonValue(value);
  }

  /// Whether an out-of-range number underflowed (rather than overflowed):
  /// the decimal exponent of its first significant digit is negative.
  static bool isTiny(std::string_view token) {
    size_t i = token[0] == '-' ? 1 : 0;
    int64_t leading = 0; // exponent of the first significant digit
    bool seenDigit = false, inFraction = false;
    int64_t integerDigits = 0, fractionZeros = 0;
    for (; i < token.size() && token[i] != 'e' && token[i] != 'E'; ++i) {
      if (token[i] == '.') {
        inFraction = true;
      } else if (!seenDigit) {
        if (token[i] != '0')
          seenDigit = true;
        if (inFraction && !seenDigit)
          ++fractionZeros;
        if (!inFraction && seenDigit)
          ++integerDigits;
      } else if (!inFraction) {
        ++integerDigits;
      }
    }
    leading = integerDigits > 0 ? integerDigits - 1 : -(fractionZeros + 1);
    int64_t exponent = 0;
    if (i < token.size()) {
      ++i;
      bool negative = token[i] == '-';
      if (token[i] == '-' || token[i] == '+')
        ++i;
      for (; i < token.size(); ++i)
        exponent = std::min<int64_t>(exponent * 10 + (token[i] - '0'),
                                     int64_t(1) << 40); // saturate
      if (negative)
        exponent = -exponent;
    }
    return leading + exponent < 0;
  }
};

} // namespace

JsonValue parseJson(std::string_view text, const JsonParseOptions &options) {
  return Parser(text, options).parseDocument();
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {

class Writer {
public:
  explicit Writer(const JsonWriteOptions &options) : indent_(options.indent) {}

  std::string write(const JsonValue &value) {
    writeValue(value, 0);
    return std::move(out_);
  }

private:
  /// The path to the value being written, kept as cheap segments and only
  /// turned into text for an error message.
  struct Segment {
    const std::string *key; // null for an array index
    size_t index;
  };
  std::string out_;
  int indent_;
  std::vector<Segment> path_;

  [[noreturn]] void fail(const std::string &message) const {
    std::string path;
    for (const Segment &segment : path_) {
      if (segment.key)
        appendKeyToPath(path, *segment.key);
      else
        appendIndexToPath(path, segment.index);
    }
    throw JsonError(
        "cannot write JSON: " + message +
        (path.empty() ? " at the top level" : " at '" + path + "'"));
  }

  void newline(int level) {
    out_ += '\n';
    out_.append(static_cast<size_t>(level * indent_), ' ');
  }

  void writeString(const std::string &s) {
    if (!appendQuoted(out_, s))
      fail("string is not valid UTF-8");
  }

  void writeNumber(const JsonValue &value) {
    double number = value.asNumber();
    if (!std::isfinite(number))
      fail("the number " + numberToString(number) +
           " is not finite (JSON has no NaN or Infinity)");
    if (value.isInteger() && !(number == 0.0 && std::signbit(number)))
      out_ += std::to_string(value.asInteger());
    else
      out_ += numberToString(number); // shortest round-trip form
  }

  void writeValue(const JsonValue &value, int level) {
    switch (value.kind()) {
    case JsonValue::Kind::Null:
      out_ += "null";
      return;
    case JsonValue::Kind::Bool:
      out_ += value.asBool() ? "true" : "false";
      return;
    case JsonValue::Kind::Number:
      writeNumber(value);
      return;
    case JsonValue::Kind::String:
      writeString(value.asString());
      return;
    case JsonValue::Kind::Array:
      writeArray(value.asArray(), level);
      return;
    case JsonValue::Kind::Object:
      writeObject(value.asObject(), level);
      return;
    }
  }

  void writeArray(const JsonValue::Array &elements, int level) {
    bool pretty = indent_ >= 0;
    bool oneLine = !pretty || std::none_of(elements.begin(), elements.end(),
                                           [](const JsonValue &e) {
                                             return e.isArray() || e.isObject();
                                           });
    out_ += '[';
    for (size_t i = 0; i < elements.size(); ++i) {
      if (i > 0)
        out_ += pretty && oneLine ? ", " : ",";
      if (!oneLine)
        newline(level + 1);
      path_.push_back({nullptr, i});
      writeValue(elements[i], level + 1);
      path_.pop_back();
    }
    if (!oneLine && !elements.empty())
      newline(level);
    out_ += ']';
  }

  void writeObject(const JsonValue::Object &members, int level) {
    bool pretty = indent_ >= 0;
    out_ += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0)
        out_ += ',';
      if (pretty)
        newline(level + 1);
      path_.push_back({&members[i].first, 0});
      writeString(members[i].first);
      out_ += pretty ? ": " : ":";
      writeValue(members[i].second, level + 1);
      path_.pop_back();
    }
    if (pretty && !members.empty())
      newline(level);
    out_ += '}';
  }
};

} // namespace

std::string writeJson(const JsonValue &value, const JsonWriteOptions &options) {
  return Writer(options).write(value);
}

//===----------------------------------------------------------------------===//
// JsonView
//===----------------------------------------------------------------------===//

std::string JsonView::location() const {
  return path_.empty() ? "at the top level" : "at '" + path_ + "'";
}

void JsonView::fail(const std::string &message) const {
  throw JsonError(message + " " + location());
}

const JsonView &JsonView::expect(JsonValue::Kind kind) const {
  if (value_->kind() != kind)
    kindError(article(kind), *value_, location());
  return *this;
}

bool JsonView::asBool() const {
  expect(JsonValue::Kind::Bool);
  return value_->asBool();
}

double JsonView::asNumber() const {
  expect(JsonValue::Kind::Number);
  return value_->asNumber();
}

int64_t JsonView::asInteger() const {
  if (!value_->isInteger())
    kindError("an integer", *value_, location());
  return value_->asInteger();
}

const std::string &JsonView::asString() const {
  expect(JsonValue::Kind::String);
  return value_->asString();
}

std::optional<JsonView> JsonView::find(std::string_view key) const {
  expect(JsonValue::Kind::Object);
  const JsonValue *member = value_->find(key);
  if (!member)
    return std::nullopt;
  std::string path = path_;
  appendKeyToPath(path, key);
  return JsonView(*member, std::move(path));
}

JsonView JsonView::operator[](std::string_view key) const {
  std::optional<JsonView> member = find(key);
  if (!member)
    fail("missing member '" + std::string(key) + "'");
  return *member;
}

JsonView JsonView::operator[](size_t index) const {
  expect(JsonValue::Kind::Array);
  const JsonValue::Array &elements = value_->asArray();
  if (index >= elements.size())
    fail("index " + std::to_string(index) + " is out of range (the array has " +
         std::to_string(elements.size()) + " elements)");
  std::string path = path_;
  appendIndexToPath(path, index);
  return JsonView(elements[index], std::move(path));
}

std::vector<JsonView> JsonView::elements() const {
  expect(JsonValue::Kind::Array);
  std::vector<JsonView> views;
  views.reserve(value_->size());
  for (size_t i = 0; i < value_->size(); ++i)
    views.push_back((*this)[i]);
  return views;
}

std::vector<std::pair<std::string, JsonView>> JsonView::members() const {
  expect(JsonValue::Kind::Object);
  std::vector<std::pair<std::string, JsonView>> views;
  for (const auto &[key, value] : value_->asObject()) {
    std::string path = path_;
    appendKeyToPath(path, key);
    views.emplace_back(key, JsonView(value, std::move(path)));
  }
  return views;
}

size_t JsonView::size() const { return value_->size(); }

} // namespace nsl::support
