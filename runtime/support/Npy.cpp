//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor
// version byte, the header length (uint16 in 1.0, uint32 in 2.0, little
// endian), an ASCII Python dict literal with 'descr', 'fortran_order' and
// 'shape', padded with spaces and a newline, then the raw data. Bytes are
// assembled by hand so the code does not depend on the host's endianness.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Npy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

namespace nsl::support {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

[[noreturn]] void fail(const std::string &name, const std::string &problem) {
  throw NpyError("npy file '" + name + "': " + problem);
}

struct DTypeInfo {
  const char *name;  // ours: "f32", ...
  const char *descr; // NumPy's type string as written: little-endian or,
                     // for single bytes, byte-order-free '|'
  size_t size;
  bool isFloat;
};

const DTypeInfo kDTypes[] = {
    {"f32", "<f4", 4, true},  {"f64", "<f8", 8, true}, {"i64", "<i8", 8, false},
    {"i32", "<i4", 4, false}, {"u8", "|u1", 1, false},
};

const DTypeInfo *findByName(const std::string &name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return &info;
  return nullptr;
}

const DTypeInfo *findByDescr(const std::string &descr) {
  // A byte has no byte order: NumPy writes '|u1', but '<u1' is valid too.
  std::string canonical = descr == "<u1" ? "|u1" : descr;
  for (const DTypeInfo &info : kDTypes)
    if (canonical == info.descr)
      return &info;
  return nullptr;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// The header dict, parsed by a small recursive-descent reader of the Python
/// literal subset NumPy writes: string keys; string, bool or int-tuple values.
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &name)
      : text(text), name(name) {}

  void parse(std::string &descr, bool &fortranOrder,
             std::vector<int64_t> &shape) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = parseString();
      expect(':');
      if (key == "descr") {
        descr = parseString();
        haveDescr = true;
      } else if (key == "fortran_order") {
        fortranOrder = parseBool();
        haveOrder = true;
      } else if (key == "shape") {
        shape = parseTuple();
        haveShape = true;
      } else {
        error("unexpected key '" + key + "'");
      }
      if (!peek('}'))
        expect(',');
    }
    expect('}');
    skipSpace();
    if (pos != text.size())
      error("unexpected text after the dict");
    if (!haveDescr || !haveOrder || !haveShape)
      error("the dict must have the keys 'descr', 'fortran_order' and "
            "'shape'");
  }

private:
  const std::string &text;
  const std::string &name;
  size_t pos = 0;

  [[noreturn]] void error(const std::string &problem) {
    fail(name, "malformed header (" + problem + " at offset " +
                   std::to_string(pos) + "): " + text);
  }
  void skipSpace() {
    while (pos < text.size() &&
           std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  bool peek(char c) {
    skipSpace();
    return pos < text.size() && text[pos] == c;
  }
  void expect(char c) {
    if (!peek(c))
      error(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string parseString() {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      error("expected a string");
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == std::string::npos)
      error("unterminated string");
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    return s;
  }
  bool parseBool() {
    skipSpace();
    for (const char *word : {"True", "False"}) {
      size_t len = std::strlen(word);
      if (text.compare(pos, len, word) == 0) {
        pos += len;
        return word[0] == 'T';
      }
    }
    error("expected True or False");
  }
  std::vector<int64_t> parseTuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!peek(')')) {
      size_t start = pos;
      while (pos < text.size() &&
             std::isdigit(static_cast<unsigned char>(text[pos])))
        ++pos;
      if (pos == start || pos - start > 18)
        error("expected a dimension");
      values.push_back(std::stoll(text.substr(start, pos - start)));
      if (pos < text.size() && text[pos] == 'L') // Python 2's long suffix
        ++pos;
      if (!peek(')'))
        expect(',');
    }
    expect(')');
    return values;
  }
};

uint64_t readLittleEndian(const unsigned char *p, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i)
    v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

void appendLittleEndian(std::string &out, uint64_t v, size_t size) {
  for (size_t i = 0; i < size; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

double decode(const DTypeInfo &type, const unsigned char *p) {
  uint64_t bits = readLittleEndian(p, type.size);
  if (type.size == 1)
    return static_cast<double>(bits);
  if (type.size == 4) {
    uint32_t b32 = static_cast<uint32_t>(bits);
    if (type.isFloat) {
      float f;
      std::memcpy(&f, &b32, 4);
      return f;
    }
    int32_t i;
    std::memcpy(&i, &b32, 4);
    return i;
  }
  if (type.isFloat) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  int64_t i;
  std::memcpy(&i, &bits, 8);
  return static_cast<double>(i);
}

// Integers beyond 2^53 do not survive the double storage of NpyArray.
constexpr double kMaxExactInteger = 9007199254740992.0;

/// The integers an integer dtype of `size` bytes holds, as far as doubles
/// hold them exactly.
std::pair<double, double> exactIntegerRange(size_t size) {
  if (size == 1)
    return {0.0, 255.0};
  if (size == 4)
    return {-2147483648.0, 2147483647.0};
  return {-kMaxExactInteger, kMaxExactInteger};
}

} // namespace

NpyArray parseNpy(const std::string &bytes, const std::string &name) {
  size_t prefix = std::min(bytes.size(), kMagicSize);
  if (bytes.compare(0, prefix, kMagic, prefix) != 0)
    fail(name, "not a .npy file (bad magic string)");
  if (bytes.size() < kMagicSize + 2)
    fail(name, "truncated (too short for the .npy magic and version)");
  const auto *raw = reinterpret_cast<const unsigned char *>(bytes.data());
  unsigned major = raw[kMagicSize], minor = raw[kMagicSize + 1];
  if ((major != 1 && major != 2) || minor != 0)
    fail(name, "unsupported format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (1.0 and 2.0 are supported)");
  size_t lengthSize = major == 1 ? 2 : 4;
  size_t headerStart = kMagicSize + 2 + lengthSize;
  if (bytes.size() < headerStart)
    fail(name, "truncated header length");
  size_t headerLength = readLittleEndian(raw + kMagicSize + 2, lengthSize);
  if (bytes.size() < headerStart + headerLength)
    fail(name, "truncated header: " + std::to_string(headerLength) +
                   " bytes announced, " +
                   std::to_string(bytes.size() - headerStart) + " present");
  std::string header = bytes.substr(headerStart, headerLength);

  std::string descr;
  bool fortranOrder = false;
  NpyArray array;
  HeaderParser(header, name).parse(descr, fortranOrder, array.shape);
  if (fortranOrder)
    fail(name, "Fortran-order arrays are not supported; save a C-order array "
               "(numpy.ascontiguousarray)");
  const DTypeInfo *type = findByDescr(descr);
  if (!type)
    fail(name, "unsupported dtype '" + descr +
                   "' (supported: little-endian <f4, <f8, <i8, <i4, and |u1)");
  array.dtype = type->name;

  size_t count = 1;
  for (int64_t d : array.shape) {
    // Keep count·size far from overflow; no real file gets near this.
    if (d > 0 && count > (size_t(1) << 40) / static_cast<size_t>(d))
      fail(name, "shape " + shapeString(array.shape) + " is too large");
    count *= static_cast<size_t>(d);
  }
  size_t dataStart = headerStart + headerLength;
  size_t expected = count * type->size, present = bytes.size() - dataStart;
  if (present != expected)
    fail(name, std::string(present < expected ? "truncated data"
                                              : "data size mismatch") +
                   ": shape " + shapeString(array.shape) + " of " + descr +
                   " needs " + std::to_string(expected) + " bytes, found " +
                   std::to_string(present));

  array.values.resize(count);
  for (size_t i = 0; i < count; ++i) {
    array.values[i] = decode(*type, raw + dataStart + i * type->size);
    if (!type->isFloat && std::fabs(array.values[i]) > kMaxExactInteger)
      fail(name, "element " + std::to_string(i) +
                     " exceeds 2^53 in magnitude and cannot be held exactly");
  }
  return array;
}

NpyArray readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, "cannot open for reading (missing or unreadable)");
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (in.bad())
    fail(path, "read error");
  return parseNpy(bytes, path);
}

std::string encodeNpy(const NpyArray &array, const std::string &name) {
  const DTypeInfo *type = findByName(array.dtype);
  if (!type)
    fail(name, "cannot write dtype '" + array.dtype +
                   "' (supported: f32, f64, i64, i32, u8)");
  size_t count = 1;
  for (int64_t d : array.shape) {
    if (d < 0)
      fail(name, "negative dimension in shape " + shapeString(array.shape));
    count *= static_cast<size_t>(d);
  }
  if (count != array.values.size())
    fail(name, "shape " + shapeString(array.shape) + " has " +
                   std::to_string(count) + " elements but " +
                   std::to_string(array.values.size()) + " values were given");

  std::string dict =
      std::string("{'descr': '") + type->descr +
      "', 'fortran_order': False, 'shape': " + shapeString(array.shape) + ", }";
  // NumPy aligns the data to 64 bytes: pad with spaces, end with a newline.
  size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');

  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  appendLittleEndian(out, dict.size(), 2);
  out += dict;
  out.reserve(out.size() + count * type->size);
  for (size_t i = 0; i < count; ++i) {
    double v = array.values[i];
    if (type->isFloat) {
      uint64_t bits;
      if (type->size == 4) {
        float f = static_cast<float>(v);
        uint32_t b32;
        std::memcpy(&b32, &f, 4);
        bits = b32;
      } else {
        std::memcpy(&bits, &v, 8);
      }
      appendLittleEndian(out, bits, type->size);
      continue;
    }
    auto [low, high] = exactIntegerRange(type->size);
    if (!(std::trunc(v) == v && v >= low && v <= high))
      fail(name, "element " + std::to_string(i) + " (" + std::to_string(v) +
                     ") is not an integer representable as " + array.dtype);
    appendLittleEndian(out, static_cast<uint64_t>(static_cast<int64_t>(v)),
                       type->size);
  }
  return out;
}

void writeNpy(const std::string &path, const NpyArray &array) {
  std::string bytes = encodeNpy(array, path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    fail(path, "cannot open for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    fail(path, "write error");
}

} // namespace nsl::support
