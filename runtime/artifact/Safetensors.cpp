//===- Safetensors.cpp - safetensors files --------------------------------===//

#include "runtime/artifact/Safetensors.h"

#include "runtime/support/JsonView.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <tuple>
#include <vector>

// The data of a safetensors file is little-endian and is copied as is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the runtime assumes a little-endian host");

namespace nsl::runtime {

using support::JsonView;

namespace {

/// The safetensors package refuses headers above 100 MB, so do we: a
/// corrupt length must not make us allocate gigabytes.
constexpr uint64_t maxHeaderBytes = 100'000'000;

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

const char *fileDType(DType dtype) {
  return dtype == DType::I64 ? "I64" : "F32";
}

Entry parseEntry(const std::string &name, const JsonView &view,
                 uint64_t dataBytes) {
  auto fail = [&](const std::string &message) -> Entry {
    throw Error("tensor '" + name + "': " + message);
  };
  if (!view.isObject())
    fail("expected an object with dtype, shape and data_offsets, got " +
         std::string(support::kindDescription(view.value())));
  Entry entry{name, DType::F32, {}, 0, 0};
  const std::string &dtype = view["dtype"].asString();
  if (dtype == "F32")
    entry.dtype = DType::F32;
  else if (dtype == "I64")
    entry.dtype = DType::I64;
  else
    fail("dtype '" + dtype +
         "' is not supported (the runtime reads F32 and I64)");
  for (const JsonView &d : view["shape"].elements()) {
    int64_t extent = d.asInteger();
    if (extent < 0)
      d.fail("negative dimension " + std::to_string(extent));
    entry.shape.push_back(extent);
  }
  int64_t elements = numElements(entry.shape);
  JsonView offsets = view["data_offsets"];
  if (!offsets.isArray() || offsets.size() != 2)
    offsets.fail("expected data_offsets [begin, end]");
  int64_t begin = offsets[0].asInteger(), end = offsets[1].asInteger();
  if (begin < 0 || end < begin)
    fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
         "] are not a byte range");
  entry.begin = static_cast<uint64_t>(begin);
  entry.end = static_cast<uint64_t>(end);
  if (entry.end > dataBytes)
    fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
         "] go past the end of the data (" + std::to_string(dataBytes) +
         " bytes; is the file truncated?)");
  uint64_t expected = static_cast<uint64_t>(elements) * itemSize(entry.dtype);
  if (entry.end - entry.begin != expected)
    fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
         "] hold " + std::to_string(entry.end - entry.begin) + " bytes, but " +
         dtype + shapeToString(entry.shape) + " needs " +
         std::to_string(expected));
  return entry;
}

} // namespace

const Tensor *SafetensorsFile::find(const std::string &name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

SafetensorsFile parseSafetensors(std::string_view bytes,
                                 const std::string &sourceName) {
  auto fail = [&](const std::string &message) -> SafetensorsFile {
    throw Error(sourceName + ": " + message);
  };
  if (bytes.size() < 8)
    fail("the file has " + std::to_string(bytes.size()) +
         " bytes, too few for a safetensors header length (is it truncated?)");
  uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i)
    headerBytes = headerBytes << 8 | static_cast<unsigned char>(bytes[i]);
  if (headerBytes > maxHeaderBytes || headerBytes > bytes.size() - 8)
    fail("the header length " + std::to_string(headerBytes) + " exceeds the " +
         std::to_string(bytes.size() - 8) +
         " bytes after it (is the file truncated or not safetensors?)");
  std::string_view headerText = bytes.substr(8, headerBytes);
  std::string_view data = bytes.substr(8 + headerBytes);

  SafetensorsFile file;
  std::vector<Entry> entries;
  try {
    nlohmann::json header =
        support::parseJson(headerText, sourceName + " header");
    JsonView root(header);
    if (!root.isObject())
      root.fail("expected a JSON object mapping tensor names to tensors");
    for (const auto &[name, member] : root.members()) {
      if (name == "__metadata__") {
        for (const auto &[key, value] : member.members())
          file.metadata[key] = value.asString();
        continue;
      }
      entries.push_back(parseEntry(name, member, data.size()));
    }
  } catch (const support::JsonError &e) {
    fail(std::string("malformed header: ") + e.what());
  } catch (const Error &e) {
    fail(e.what());
  }

  // Sorted by position, the tensors must tile the data exactly.
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t position = 0;
  const Entry *previous = nullptr;
  for (const Entry &entry : entries) {
    if (entry.begin != position)
      fail("tensor '" + entry.name + "' starts at data byte " +
           std::to_string(entry.begin) + ", but " +
           (previous ? "tensor '" + previous->name + "' ends at byte "
                     : std::string("the first tensor must start at byte ")) +
           std::to_string(position) +
           " (tensors must be contiguous and must not overlap)");
    position = entry.end;
    previous = &entry;
  }
  if (position != data.size())
    fail(std::to_string(data.size() - position) +
         " bytes of data follow the last tensor (" +
         std::to_string(data.size()) + " bytes, tensors end at byte " +
         std::to_string(position) + ")");

  for (const Entry &entry : entries) {
    Tensor tensor(entry.dtype, entry.shape);
    if (tensor.byteSize())
      std::memcpy(tensor.data(), data.data() + entry.begin, tensor.byteSize());
    file.tensors.emplace(entry.name, std::move(tensor));
  }
  return file;
}

std::string readFileBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (in.bad())
    throw Error(path + ": cannot read: " + std::strerror(errno));
  return bytes;
}

SafetensorsFile readSafetensors(const std::string &path) {
  return parseSafetensors(readFileBytes(path), path);
}

std::string
encodeSafetensors(const std::map<std::string, Tensor> &tensors,
                  const std::map<std::string, std::string> &metadata) {
  // In the order written: the metadata first, then the tensors by name.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json &meta = header["__metadata__"];
    for (const auto &[key, value] : metadata)
      meta[key] = value;
  }
  uint64_t position = 0;
  for (const auto &[name, tensor] : tensors) {
    if (name == "__metadata__")
      throw Error("a tensor cannot be named '__metadata__' in safetensors");
    nlohmann::ordered_json &entry = header[name];
    entry["dtype"] = fileDType(tensor.dtype());
    entry["shape"] = tensor.shape();
    entry["data_offsets"] = {position, position + tensor.byteSize()};
    position += tensor.byteSize();
  }
  // Names and metadata that are not UTF-8 cannot be written as JSON.
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception &) {
    throw Error("a tensor name or metadata entry is not valid UTF-8, which "
                "safetensors (JSON) cannot hold");
  }
  // Padding keeps the data 8-byte aligned in the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xFF);
  bytes += text;
  bytes.reserve(bytes.size() + position);
  for (const auto &[name, tensor] : tensors)
    if (tensor.byteSize())
      bytes.append(static_cast<const char *>(tensor.data()), tensor.byteSize());
  return bytes;
}

void writeSafetensors(const std::string &path,
                      const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  std::string bytes = encodeSafetensors(tensors, metadata);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error(path + ": cannot create: " + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    throw Error(path + ": cannot write: " + std::strerror(errno));
}

} // namespace nsl::runtime
