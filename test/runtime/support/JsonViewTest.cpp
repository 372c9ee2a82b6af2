//===- JsonViewTest.cpp - Tests of the runtime's JSON reading -------------===//
//
// What the runtime adds to nlohmann::json: parse errors that name the file,
// line and column, duplicate keys and deep nesting refused, type errors that
// name the document path, exact integers, and numbers that read back
// bit-exactly after nlohmann writes them.
//
//===----------------------------------------------------------------------===//
#include "runtime/support/JsonView.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using nlohmann::json;
using nsl::support::exactInteger;
using nsl::support::JsonError;
using nsl::support::JsonView;
using nsl::support::parseJson;

namespace {

/// The message of the JsonError that `f` throws ("" if none).
template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const JsonError &e) {
    return e.what();
  }
  return "";
}

std::string parseError(std::string_view text) {
  return errorOf([&] { parseJson(text, "f.json"); });
}

TEST(ParseJson, SyntaxErrorsNameFileLineAndColumn) {
  EXPECT_EQ(parseError("{\"a\": 1,\n  \"b\": 2,,}"),
            "f.json: line 2, column 10: unexpected ','; expected string "
            "literal (while parsing object key)");
  EXPECT_EQ(parseError(""), "f.json: line 1, column 1: unexpected end of "
                            "input; expected '[', '{', or a literal (while "
                            "parsing value)");
  EXPECT_EQ(parseError("[1, 2] x"),
            "f.json: line 1, column 8: invalid literal; last read: '2] x'; "
            "expected end of input (while parsing value)");
  EXPECT_NE(parseError("[NaN]").find("f.json: line 1, column 2: "),
            std::string::npos);
  EXPECT_NE(parseError("[\"\xFF\"]").find("ill-formed UTF-8"),
            std::string::npos);
  // Errors nlohmann reports without a position get one all the same.
  EXPECT_EQ(parseError("[1,\n 1e999]"),
            "f.json: line 2, column 6: number overflow parsing '1e999'");
  // Without a source name, the message starts with the position.
  EXPECT_EQ(errorOf([] { parseJson("{"); }).rfind("line 1, column 2: ", 0), 0u);
}

TEST(ParseJson, DuplicateKeysAreErrors) {
  EXPECT_EQ(parseError(R"({"a": 1, "a": 2})"),
            "f.json: duplicate key \"a\" at the top level");
  EXPECT_EQ(parseError(R"({"nodes": [{}, {"attributes": {"stride": [1, 1],
                           "x": {"stride": 0}, "stride": [2, 2]}}]})"),
            "f.json: duplicate key \"stride\" at 'nodes[1].attributes'");
  EXPECT_EQ(parseError(R"([[], [{"conv.weight": 1, "conv.weight": 2}]])"),
            "f.json: duplicate key \"conv.weight\" at '[1][0]'");
  // The same key in different objects is fine.
  EXPECT_EQ(parseError(R"([{"a": 1}, {"a": 2, "b": {"a": 3}}])"), "");
}

TEST(ParseJson, DeepNestingIsSafe) {
  // Deeper than a recursive parser's (or destructor's) stack would allow.
  const size_t depth = 200'000;
  std::string open, close;
  for (size_t i = 0; i < depth; ++i) {
    open += i % 2 ? "[" : "{\"a\": ";
    close += i % 2 ? "]" : "}";
  }
  std::reverse(close.begin(), close.end());
  EXPECT_EQ(parseError(open + "{\"x\": 1, \"x\": 2}" + close)
                .rfind("f.json: duplicate key \"x\" at 'a[0].a[0].a[0]", 0),
            0u);
  EXPECT_EQ(parseError(open + "1" + close), "");
  EXPECT_NE(parseError(open + "1").find("unexpected end of input"),
            std::string::npos);
}

TEST(ParseJson, AcceptsWhatRfc8259Allows) {
  json v = parseJson("\xEF\xBB\xBF {\"s\": \"\\u20ac\\ud83d\\ude00\", "
                     "\"n\": [-0, 1E+2, 3.5e-1]}\n");
  EXPECT_EQ(v["s"], "\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(v["n"][2], 0.35);
}

TEST(ExactInteger, AcceptsIntegralNumbersOnly) {
  EXPECT_EQ(exactInteger(parseJson("-17")), -17);
  EXPECT_EQ(exactInteger(parseJson("3.0")), 3);
  EXPECT_EQ(exactInteger(parseJson("3e2")), 300);
  EXPECT_EQ(exactInteger(parseJson("-0.0")), 0);
  // Exact beyond 2^53, where a double would round.
  EXPECT_EQ(exactInteger(parseJson("9007199254740993")), 9007199254740993LL);
  EXPECT_EQ(exactInteger(parseJson("9223372036854775807")),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(exactInteger(parseJson("-9223372036854775808")),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(exactInteger(parseJson("9223372036854775808")), std::nullopt);
  EXPECT_EQ(exactInteger(parseJson("1e19")), std::nullopt);
  EXPECT_EQ(exactInteger(parseJson("3.5")), std::nullopt);
  EXPECT_EQ(exactInteger(parseJson("\"3\"")), std::nullopt);
  EXPECT_EQ(exactInteger(parseJson("true")), std::nullopt);
}

TEST(JsonViewTest, ErrorsNameThePath) {
  json doc = parseJson(R"({"nodes":[{"op":"relu"},{"op":"sim_conv2d",
      "operands":{"weight":"x","conv.bias":[1]},"attributes":{"stride":[1,2.5]}}]})");
  JsonView root(doc);
  JsonView node = root["nodes"][1];
  EXPECT_EQ(node.path(), "nodes[1]");
  EXPECT_EQ(node["op"].asString(), "sim_conv2d");
  EXPECT_EQ(errorOf([&] { node["operands"]["weight"].elements(); }),
            "expected an array at 'nodes[1].operands.weight', got the string "
            "\"x\"");
  EXPECT_EQ(errorOf([&] { node["operands"]["conv.bias"].asInteger(); }),
            "expected an integer at 'nodes[1].operands[\"conv.bias\"]', got "
            "an array");
  EXPECT_EQ(errorOf([&] { node["attributes"]["stride"][1].asInteger(); }),
            "expected an integer at 'nodes[1].attributes.stride[1]', got 2.5");
  EXPECT_EQ(errorOf([&] { node["results"]; }),
            "missing member 'results' at 'nodes[1]'");
  EXPECT_EQ(errorOf([&] { root["format"]; }),
            "missing member 'format' at the top level");
  EXPECT_EQ(errorOf([&] { root["nodes"][5]; }),
            "index 5 is out of range (the array has 2 elements) at 'nodes'");
  EXPECT_EQ(errorOf([&] { root["nodes"]["x"]; }),
            "expected an object at 'nodes', got an array");
  EXPECT_EQ(errorOf([&] { node.fail("unknown op"); }),
            "unknown op at 'nodes[1]'");
  EXPECT_FALSE(node.find("results").has_value());
  ASSERT_EQ(root["nodes"].elements().size(), 2u);
  EXPECT_EQ(root["nodes"].elements()[0]["op"].asString(), "relu");
  auto members = node["operands"].members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].first, "conv.bias"); // in key order
  EXPECT_EQ(members[0].second.path(), "nodes[1].operands[\"conv.bias\"]");
  EXPECT_EQ(node["operands"].size(), 2u);
  EXPECT_EQ(node["op"].size(), 0u);
}

TEST(JsonViewTest, AccessorErrorsDescribeTheValue) {
  json doc = parseJson(R"({"s":"text","n":1.5,"big":18446744073709551615,
      "long":"0123456789012345678901234567890123456789x","t":true,"z":null,
      "o":{}})");
  JsonView v(doc);
  EXPECT_EQ(errorOf([&] { v["s"].asInteger(); }),
            "expected an integer at 's', got the string \"text\"");
  EXPECT_EQ(errorOf([&] { v["n"].asBool(); }),
            "expected a boolean at 'n', got 1.5");
  EXPECT_EQ(errorOf([&] { v["big"].asInteger(); }),
            "expected an integer at 'big', got 18446744073709551615");
  EXPECT_EQ(errorOf([&] { v["long"].asNumber(); }),
            "expected a number at 'long', got a string");
  EXPECT_EQ(errorOf([&] { v["t"].asString(); }),
            "expected a string at 't', got true");
  EXPECT_EQ(errorOf([&] { v["z"].asNumber(); }),
            "expected a number at 'z', got null");
  EXPECT_EQ(errorOf([&] { v["o"].elements(); }),
            "expected an array at 'o', got an object");
  EXPECT_EQ(errorOf([&] { JsonView(doc["n"]).expectObject(); }),
            "expected an object at the top level, got 1.5");
  EXPECT_EQ(v["big"].asNumber(), 18446744073709551615.0);
  EXPECT_TRUE(v["t"].asBool());
}

/// nlohmann writes the shortest text that reads back to the same double:
/// graph.json's constants and attributes survive a round trip bit-exactly.
TEST(JsonNumbers, DoublesRoundTripExactly) {
  std::vector<double> values = {0.0,
                                -0.0,
                                0.1,
                                1.0 / 3.0,
                                double(0.1f),
                                double(1e-5f),
                                1e300,
                                -1e-300,
                                std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::lowest(),
                                std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::denorm_min(),
                                9007199254740993.0,
                                std::ldexp(1.0, 63)};
  std::mt19937_64 rng(11);
  while (values.size() < 20000) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    float f = static_cast<float>(d); // f32 values, as graph.json carries
    if (std::isfinite(d))
      values.push_back(d);
    if (std::isfinite(f))
      values.push_back(f);
  }
  json array = values;
  for (int indent : {-1, 2}) {
    json back = parseJson(array.dump(indent));
    ASSERT_EQ(back.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      double d = JsonView(back[i]).asNumber();
      ASSERT_EQ(std::memcmp(&d, &values[i], sizeof d), 0)
          << array[i].dump() << " read back as " << back[i].dump();
    }
  }
}

TEST(JsonNumbers, IntegersRoundTripExactly) {
  for (int64_t n :
       {std::numeric_limits<int64_t>::min(), int64_t(-1), int64_t(0),
        int64_t(9007199254740993), std::numeric_limits<int64_t>::max()})
    EXPECT_EQ(JsonView(parseJson(json(n).dump())).asInteger(), n);
}

} // namespace
