//===- SafetensorsTest.cpp - Tests of tensors and safetensors files -------===//
//
// Runtime tensors (alignment, views, conversions to the reference), the
// safetensors round trip, and every corruption the reader must report: each
// with its message naming the file and the tensor, and no crash on any
// truncation or byte flip.
//
//===----------------------------------------------------------------------===//
#include "TestArtifact.h"

#include "runtime/artifact/Safetensors.h"
#include "runtime/reference/Tensor.h"

#include <cstring>
#include <random>

using namespace nsl::runtime;
using namespace nsl::runtime::test;

namespace {

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

TEST(TensorTest, OwnedStorageIsZeroedAndAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t(DType::F32, {n, 3});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % Tensor::alignment, 0u);
    EXPECT_EQ(t.numel(), n * 3);
    EXPECT_EQ(t.byteSize(), static_cast<size_t>(n * 3 * 4));
    for (int64_t i = 0; i < t.numel(); ++i)
      EXPECT_EQ(t.at<float>(i), 0.0f);
  }
  Tensor scalar(DType::I64, {});
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.typeString(), "i64[]");
  Tensor empty(DType::F32, {0, 4});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(Tensor().numel(), 0);
}

TEST(TensorTest, CopiesShareStorageAndClonesDoNot) {
  Tensor a(DType::F32, {2});
  Tensor shared = a;
  Tensor copy = a.clone();
  a.at<float>(1) = 5.0f;
  EXPECT_EQ(shared.at<float>(1), 5.0f);
  EXPECT_EQ(copy.at<float>(1), 0.0f);
  EXPECT_FALSE(a.isView());
}

TEST(TensorTest, ViewsUseTheCallersMemory) {
  int64_t memory[6] = {1, 2, 3, 4, 5, 6};
  Tensor v = Tensor::view(DType::I64, {2, 3}, memory);
  EXPECT_TRUE(v.isView());
  EXPECT_EQ(v.at<int64_t>(4), 5);
  v.at<int64_t>(0) = 9;
  EXPECT_EQ(memory[0], 9);
  EXPECT_CONTAINS(errorOf([] { Tensor::view(DType::F32, {2}, nullptr); }),
                  "needs data");
}

TEST(TensorTest, ElementAccessIsChecked) {
  Tensor t(DType::F32, {2, 2});
  EXPECT_CONTAINS(errorOf([&] { t.at<float>(4); }),
                  "index 4 is out of range for f32[2, 2]");
  EXPECT_CONTAINS(errorOf([&] { t.data<int64_t>(); }),
                  "the elements of a tensor f32[2, 2] are float");
  EXPECT_CONTAINS(errorOf([] { Tensor(DType::F32, {-1}); }),
                  "negative dimension");
  EXPECT_CONTAINS(
      errorOf([] { Tensor(DType::F32, {int64_t(1) << 40, int64_t(1) << 40}); }),
      "too many elements");
}

TEST(TensorTest, ConvertsToAndFromTheReference) {
  Tensor f = randomTensor({3, 4}, 7);
  nsl::reference::Tensor r = toReference(f);
  EXPECT_EQ(r.shape, f.shape());
  EXPECT_EQ(r.dtype, nsl::reference::DType::F32);
  Tensor back = fromReference(r);
  EXPECT_EQ(std::memcmp(back.data(), f.data(), f.byteSize()), 0);

  nsl::reference::Tensor labels({3}, {0.0, 4.0, -2.0},
                                nsl::reference::DType::I64);
  Tensor i = fromReference(labels);
  EXPECT_EQ(i.dtype(), DType::I64);
  EXPECT_EQ(i.at<int64_t>(1), 4);
  EXPECT_EQ(toReference(i).data, labels.data);
  labels.data[2] = 0.5;
  EXPECT_CONTAINS(errorOf([&] { fromReference(labels); }), "not an int64");
}

//===----------------------------------------------------------------------===//
// Safetensors
//===----------------------------------------------------------------------===//

std::map<std::string, Tensor> sampleTensors() {
  std::map<std::string, Tensor> tensors;
  tensors["conv.weight"] = randomTensor({2, 3, 2}, 1);
  Tensor labels(DType::I64, {4});
  for (int64_t i = 0; i < 4; ++i)
    labels.at<int64_t>(i) = (i - 2) * (int64_t(1) << 40);
  tensors["labels"] = labels;
  tensors["scalar"] = randomTensor({}, 2);
  tensors["empty"] = Tensor(DType::F32, {0, 3});
  return tensors;
}

void expectSameTensors(const std::map<std::string, Tensor> &a,
                       const std::map<std::string, Tensor> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto &[name, tensor] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const Tensor &other = b.at(name);
    EXPECT_EQ(other.dtype(), tensor.dtype()) << name;
    EXPECT_EQ(other.shape(), tensor.shape()) << name;
    ASSERT_EQ(other.byteSize(), tensor.byteSize()) << name;
    if (tensor.byteSize())
      EXPECT_EQ(std::memcmp(other.data(), tensor.data(), tensor.byteSize()), 0)
          << name;
  }
}

TEST(SafetensorsTest, RoundTrip) {
  std::map<std::string, Tensor> tensors = sampleTensors();
  std::string bytes = encodeSafetensors(tensors, {{"format", "pt"}});
  SafetensorsFile file = parseSafetensors(bytes, "mem");
  expectSameTensors(tensors, file.tensors);
  EXPECT_EQ(file.metadata.at("format"), "pt");
  EXPECT_NE(file.find("labels"), nullptr);
  EXPECT_EQ(file.find("nothing"), nullptr);

  std::string path = freshDirectory() + "/w.safetensors";
  writeSafetensors(path, tensors);
  expectSameTensors(tensors, readSafetensors(path).tensors);
}

TEST(SafetensorsTest, LayoutIsThatOfTheSafetensorsPackage) {
  std::map<std::string, Tensor> tensors;
  tensors["a"] = randomTensor({3}, 1);
  std::string bytes = encodeSafetensors(tensors);
  uint64_t headerBytes = 0;
  std::memcpy(&headerBytes, bytes.data(), 8);
  EXPECT_EQ(headerBytes % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + headerBytes + 12);
  std::string header = bytes.substr(8, headerBytes);
  EXPECT_CONTAINS(header,
                  R"("a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]})");
  EXPECT_EQ(
      std::memcmp(bytes.data() + 8 + headerBytes, tensors["a"].data(), 12), 0);
}

/// A file with this header text and `data` bytes.
std::string fileWith(const std::string &header, const std::string &data) {
  std::string bytes(8, '\0');
  uint64_t size = header.size();
  std::memcpy(bytes.data(), &size, 8);
  return bytes + header + data;
}

std::string parseError(const std::string &bytes) {
  return errorOf([&] { parseSafetensors(bytes, "w.safetensors"); });
}

TEST(SafetensorsTest, ReportsEveryCorruption) {
  const std::string data12(12, '\1');
  struct Case {
    std::string bytes, message;
  } cases[] = {
      {"", "0 bytes, too few for a safetensors header length"},
      {std::string(7, '\0'), "7 bytes, too few"},
      {fileWith("{}", "").substr(0, 9), "header length 2 exceeds the 1 bytes"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}",
       "header length 18446744073709551615 exceeds"},
      {fileWith("{\"a\":", ""), "malformed header"},
      {fileWith("[1, 2]", ""), "expected a JSON object mapping tensor names"},
      {fileWith(R"({"a": 3})", ""), "tensor 'a': expected an object"},
      {fileWith(R"({"a": {"shape": [3], "data_offsets": [0, 12]}})", data12),
       "missing member 'dtype'"},
      {fileWith(
           R"({"a": {"dtype": "F16", "shape": [6], "data_offsets": [0, 12]}})",
           data12),
       "tensor 'a': dtype 'F16' is not supported (the runtime reads F32 and "
       "I64)"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [-3], "data_offsets": [0, 12]}})",
           data12),
       "negative dimension -3"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [3.5], "data_offsets": [0, 12]}})",
           data12),
       "expected an integer"},
      {fileWith(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0]}})",
                data12),
       "expected data_offsets [begin, end]"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [12, 0]}})",
           data12),
       "tensor 'a': data_offsets [12, 0] are not a byte range"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})",
           data12),
       "tensor 'a': data_offsets [0, 16] go past the end of the data (12 "
       "bytes; "
       "is the file truncated?)"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}})",
           data12),
       "tensor 'a': data_offsets [0, 12] hold 12 bytes, but F32[2] needs 8"},
      {fileWith(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                data12),
       "tensor 'b' starts at data byte 8, but tensor 'a' ends at byte 4"},
      {fileWith(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                data12),
       "tensor 'b' starts at data byte 4, but tensor 'a' ends at byte 8 "
       "(tensors must be contiguous and must not overlap)"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
           data12),
       "the first tensor must start at byte 0"},
      {fileWith(
           R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
           data12),
       "4 bytes of data follow the last tensor"},
      {fileWith(R"({"__metadata__": {"k": 1}})", ""), "expected a string"},
      {fileWith(R"({"__metadata__": [1]})", ""), "expected an object"},
  };
  for (const Case &c : cases) {
    std::string message = parseError(c.bytes);
    EXPECT_EQ(message.rfind("w.safetensors: ", 0), 0u) << message;
    EXPECT_CONTAINS(message, c.message);
  }
}

TEST(SafetensorsTest, MissingFileIsNamed) {
  std::string path = freshDirectory() + "/none.safetensors";
  EXPECT_CONTAINS(errorOf([&] { readSafetensors(path); }),
                  path + ": cannot open: No such file or directory");
}

TEST(SafetensorsTest, RefusesToWriteTheMetadataName) {
  std::map<std::string, Tensor> tensors{{"__metadata__", Tensor()}};
  EXPECT_CONTAINS(errorOf([&] { encodeSafetensors(tensors); }),
                  "cannot be named '__metadata__'");
}

TEST(SafetensorsTest, EveryTruncationIsAnError) {
  std::string bytes = encodeSafetensors(sampleTensors(), {{"k", "v"}});
  for (size_t size = 0; size < bytes.size(); ++size)
    EXPECT_NE(parseError(bytes.substr(0, size)), "") << "size " << size;
}

TEST(SafetensorsTest, ByteFlipsNeverCrash) {
  std::string bytes = encodeSafetensors(sampleTensors());
  std::mt19937 rng(42);
  int errors = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string corrupt = bytes;
    // Mostly the header (8 + JSON), where a flip can change the structure.
    size_t at = rng() % (i % 4 ? 8 + 200 : corrupt.size());
    corrupt[at] = static_cast<char>(corrupt[at] ^ (1 << (rng() % 8)));
    try {
      parseSafetensors(corrupt, "w.safetensors");
    } catch (const Error &) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 1000);
}

} // namespace
