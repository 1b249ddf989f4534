// parseYaml: the bounds (bombs, nesting, size, bytes), YAML's forms (merge keys, anchors,
// quoting, documents) and the marks on every value.

#include "compose/value.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>

#include "support/compose_fixtures.h"

namespace overmesh::compose {
namespace {

using ::testing::HasSubstr;

Value parseOk(const std::string& text) {
  auto parsed = parseYaml(text, "f.yml");
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  return parsed ? *parsed : Value{};
}

std::string parseError(const std::string& text, const LoadLimits& limits = {}) {
  auto parsed = parseYaml(text, "f.yml", limits);
  EXPECT_FALSE(parsed.has_value());
  if (parsed) {
    return {};
  }
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
  return parsed.error().message;
}

// Each level holds nine aliases of the level below: 9^9 values once expanded.
std::string billionLaughs(int levels) {
  std::string text =
      "l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", "
      "\"lol\", \"lol\"]\n";
  for (int level = 1; level <= levels; ++level) {
    text += fmt::format("l{0}: &l{0} [", level);
    for (int i = 0; i < 9; ++i) {
      text += fmt::format("{}*l{}", i == 0 ? "" : ", ", level - 1);
    }
    text += "]\n";
  }
  return text;
}

TEST(ParseYamlTest, RefusesBillionLaughsWithinTheNodeBudget) {
  auto started = std::chrono::steady_clock::now();
  std::string message = parseError(billionLaughs(9));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::printf("9-level YAML bomb refused in %lld ms\n", static_cast<long long>(took.count()));
  EXPECT_THAT(message, HasSubstr("expands to more than 200000 values"));
  EXPECT_THAT(message, HasSubstr("f.yml:"));
}

TEST(ParseYamlTest, RefusesAliasesOfALargeScalarBeyondTheByteBudget) {
  // 3,000 aliases of a 100 kB scalar: a 112 kB file, few nodes, 300 MB once expanded.
  std::string text = "big: &big " + std::string(100'000, 'x') + "\nmany: [";
  for (int i = 0; i < 3000; ++i) {
    text += i == 0 ? "*big" : ", *big";
  }
  text += "]\n";
  EXPECT_THAT(parseError(text), HasSubstr("expands to more than 33554432 bytes of values"));
}

TEST(ParseYamlTest, ExpandsAliasesWithinTheBudget) {
  Value root = parseOk(billionLaughs(2));  // 81 + 9 + 9 values: fine
  ASSERT_TRUE(root.isMapping());
  const Value* l2 = root.find("l2");
  ASSERT_NE(l2, nullptr);
  ASSERT_EQ(l2->items.size(), 9u);
  EXPECT_EQ(l2->items[8].items[8].items[8].text, "lol");
}

struct DeepCase {
  std::string name;
  std::string text;
};

// Names the case in gtest output instead of dumping 100k brackets.
void PrintTo(const DeepCase& c, std::ostream* os) { *os << c.name; }

class DeepNestingTest : public ::testing::TestWithParam<DeepCase> {};

TEST_P(DeepNestingTest, RefusesWithoutOverflowingTheStack) {
  std::string message = parseError(GetParam().text);
  EXPECT_THAT(message, HasSubstr("nested deeper than 64 levels"));
  EXPECT_THAT(message, HasSubstr("f.yml:1"));
}

std::string repeat(const std::string& piece, int times) {
  std::string text;
  for (int i = 0; i < times; ++i) {
    text += piece;
  }
  return text;
}

INSTANTIATE_TEST_SUITE_P(
    Forms, DeepNestingTest,
    ::testing::Values(DeepCase{"FlowSequences", repeat("[", 100'000)},
                      DeepCase{"FlowMappings", repeat("{a: ", 100'000)},
                      DeepCase{"ClosedFlowSequences", repeat("[", 100'000) + repeat("]", 100'000)},
                      DeepCase{"CompactBlockSequences", repeat("- ", 100'000) + "x\n"}),
    [](const auto& param) { return param.param.name; });

TEST(ParseYamlTest, RefusesBlockNestingBeyondTheLimit) {
  std::string text;
  for (int level = 0; level < 100; ++level) {
    text += std::string(static_cast<std::size_t>(level) * 2, ' ') + "a:\n";
  }
  EXPECT_THAT(parseError(text), HasSubstr("nested deeper than 64 levels"));
}

// Nesting by indentation alone passes the pre-scan: yaml-cpp's recursion (its own guard
// at 2000 levels) and then the copy's depth check refuse it.
TEST(ParseYamlTest, RefusesDeepIndentationBelowAndAboveYamlCppsGuard) {
  for (std::size_t levels : {1500u, 2500u}) {
    std::string text;
    for (std::size_t level = 0; level < levels; ++level) {
      text += std::string(level, ' ') + "a:\n";
    }
    EXPECT_THAT(parseError(text), HasSubstr("nested deeper than 64 levels")) << levels;
  }
}

TEST(ParseYamlTest, AcceptsNestingUpToTheLimit) {
  Value root = parseOk(repeat("[", 60) + "x" + repeat("]", 60));
  EXPECT_TRUE(root.isSequence());
}

TEST(ParseYamlTest, BracketsInsideQuotesAndCommentsAreNotNesting) {
  std::string many = repeat("[", 200);
  Value root = parseOk("a: \"" + many + "\"\nb: '" + many + "' # " + many + "\n");
  EXPECT_EQ(root.find("a")->text, many);
  EXPECT_EQ(root.find("b")->text, many);
}

TEST(ParseYamlTest, BracketsInsidePlainScalarsAreNotNesting) {
  // Found by fuzz_compose_loader: brackets in a plain scalar counted as flow nesting, and
  // they added up over lines until `stack config`'s output was refused.
  std::string many = repeat("[", 50);
  Value root = parseOk("a" + many + "b: 1\nc: echo " + many + "\nd: x" + many + "\n");
  EXPECT_EQ(root.find("c")->text, "echo " + many);
}

TEST(ParseYamlTest, RefusesSeveralDocuments) {
  EXPECT_THAT(parseError("a: 1\n---\nb: 2\n"), HasSubstr("holds more than one YAML document"));
  EXPECT_THAT(parseError("a: 1\n---\nb: 2\n---\nc: 3\n"),
              HasSubstr("holds more than one YAML document"));
}

TEST(ParseYamlTest, AStrayCommaAtTheTopIsRefusedInBoundedMemory) {
  // Found by fuzz_compose_loader: yaml-cpp's LoadAll collected empty documents without end
  // for these (4 GB from a 961-byte file).
  for (const char* text : {",version: \"3.9\"\nservices: {}\n", ",", ",]", "  ,a\n"}) {
    EXPECT_THAT(parseError(text), HasSubstr("more than one YAML document")) << text;
  }
}

TEST(ParseYamlTest, AcceptsOneDocumentWithMarkers) {
  Value root = parseOk("---\na: 1\n...\n");
  EXPECT_EQ(root.find("a")->text, "1");
}

TEST(ParseYamlTest, EmptyTextIsNull) {
  auto parsed = parseYaml("", "f.yml");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->isNull());
  EXPECT_EQ(parsed->mark.line, 1);
}

TEST(ParseYamlTest, TabIndentationNamesTheLineAndTheReason) {
  std::string message = parseError("services:\n\tweb:\n\t\timage: x\n");
  EXPECT_THAT(message, HasSubstr("f.yml:2"));
  EXPECT_THAT(message, HasSubstr("a tab in the indentation"));
}

TEST(ParseYamlTest, RefusesBytesThatAreNotUtf8) {
  EXPECT_THAT(parseError("a: 1\nb: \xff\xfe\n"), HasSubstr("f.yml:2: byte 0xFF is not UTF-8"));
  EXPECT_THAT(parseError(std::string("a: \"x\0y\"\n", 10)), HasSubstr("a NUL byte"));
  EXPECT_THAT(parseError("a: \"\\\xc0\x80\"\n"), HasSubstr("0xC0 is not UTF-8"));
}

TEST(ParseYamlTest, BinaryGarbageIsAnErrorNotACrash) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    garbage += static_cast<char>((i * 7919 + 13) % 256);
  }
  auto parsed = parseYaml(garbage, "f.yml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
}

TEST(ParseYamlTest, LongLinesAreBoundedByTheScalarLimit) {
  Value root = parseOk("a: " + std::string(500'000, 'x') + "\n");
  EXPECT_EQ(root.find("a")->text.size(), 500'000u);
  EXPECT_THAT(parseError("a: " + std::string(1'100'000, 'x') + "\n"),
              HasSubstr("a: a value longer than 1048576 bytes"));
}

TEST(ParseYamlTest, RefusesAFileBeyondTheByteLimit) {
  LoadLimits limits;
  limits.maxBytes = 10;
  EXPECT_THAT(parseError("a: 12345678901\n", limits), HasSubstr("at most 10 are read"));
}

TEST(ParseYamlTest, QuotedScalarsAreMarked) {
  Value root = parseOk(
      "plain: yes\nsingle: 'yes'\ndouble: \"3.9\"\nblock: |\n  text\n"
      "tagged: !!str 3\nempty: \"\"\nnothing:\n");
  EXPECT_FALSE(root.find("plain")->quoted);
  EXPECT_TRUE(root.find("single")->quoted);
  EXPECT_TRUE(root.find("double")->quoted);
  EXPECT_EQ(root.find("double")->text, "3.9");
  EXPECT_TRUE(root.find("block")->quoted);
  EXPECT_EQ(root.find("block")->text, "text\n");
  EXPECT_TRUE(root.find("tagged")->quoted);
  EXPECT_TRUE(root.find("empty")->isScalar());
  EXPECT_TRUE(root.find("nothing")->isNull());
}

TEST(ParseYamlTest, MergeKeysOwnKeysWinThenTheFirstSource) {
  Value root = parseOk(
      "a: &a {x: a, y: a}\n"
      "b: &b {y: b, z: b}\n"
      "one:\n  <<: *a\n  x: own\n"
      "two:\n  <<: [*a, *b]\n  z: own\n");
  const Value* one = root.find("one");
  EXPECT_EQ(one->find("x")->text, "own");
  EXPECT_EQ(one->find("y")->text, "a");
  const Value* two = root.find("two");
  EXPECT_EQ(two->find("x")->text, "a");
  EXPECT_EQ(two->find("y")->text, "a");
  EXPECT_EQ(two->find("z")->text, "own");
  EXPECT_EQ(two->find("<<"), nullptr);
}

TEST(ParseYamlTest, AQuotedMergeKeyIsAnOrdinaryKey) {
  Value root = parseOk("m:\n  \"<<\": text\n");
  EXPECT_EQ(root.find("m")->find("<<")->text, "text");
}

TEST(ParseYamlTest, RefusesAMergeKeyOverAScalar) {
  EXPECT_THAT(parseError("a: &a 1\nb:\n  <<: *a\n"), HasSubstr("a merge key (<<) takes"));
}

TEST(ParseYamlTest, AnchorsOnScalarsAndSequences) {
  Value root = parseOk("s: &s word\nl: &l [1, 2]\nuse: [*s, *l]\n");
  const Value* use = root.find("use");
  EXPECT_EQ(use->items[0].text, "word");
  ASSERT_TRUE(use->items[1].isSequence());
  EXPECT_EQ(use->items[1].items[1].text, "2");
}

TEST(ParseYamlTest, RefusesKeysThatAreNotScalars) {
  EXPECT_THAT(parseError("services:\n  ? [a, b]\n  : 1\n"),
              HasSubstr("services: a key must be a plain string"));
  EXPECT_THAT(parseError("{a: 1}: 2\n"), HasSubstr("a key must be a plain string"));
}

TEST(ParseYamlTest, RefusesDuplicateKeysWithTheirPath) {
  EXPECT_THAT(parseError("services:\n  web:\n    image: a\n    image: b\n"),
              HasSubstr("f.yml:4: services.web.image: the key is given twice"));
}

TEST(ParseYamlTest, RefusesADuplicateKeyAmongManyAndKeepsMergeKeySemantics) {
  std::string text = "x-meta:\n";
  for (int i = 0; i < 1000; ++i) {
    text += fmt::format("  k{}: v\n", i);
  }
  EXPECT_THAT(parseError(text + "  k500: again\n"),
              HasSubstr("f.yml:1002: x-meta.k500: the key is given twice"));
  Value root = parseOk("base: &b {a: 1, b: 2}\nm:\n  <<: [*b, {b: 3, c: 4}]\n  a: 0\n");
  const Value& merged = *root.find("m");
  ASSERT_EQ(merged.entries.size(), 3u);
  EXPECT_EQ(merged.find("a")->text, "0");
  EXPECT_EQ(merged.find("b")->text, "2");
  EXPECT_EQ(merged.find("c")->text, "4");
}

// A flat mapping of 200,000 keys loads in linear time (the time is printed, not asserted).
TEST(ParseYamlTest, LoadsAFlatMappingOf200kKeys) {
  constexpr int kKeys = 200'000;
  std::string text = "x-meta:\n";
  for (int i = 0; i < kKeys; ++i) {
    text += fmt::format("  k{}: v\n", i);
  }
  LoadLimits limits;
  limits.maxNodes = kKeys + 10;
  auto start = std::chrono::steady_clock::now();
  auto parsed = parseYaml(text, "f.yml", limits);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->find("x-meta")->entries.size(), static_cast<std::size_t>(kKeys));
  std::printf("loaded a mapping of %d keys in %lld ms\n", kKeys,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(ParseYamlTest, FileNamesInMessagesArePrintable) {
  auto parsed = parseYaml("a: 1\na: 2\n", "evil\x1b[2J.yml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message, HasSubstr("evil\\x1b[2J.yml:2: a: the key is given twice"));
  parsed = parseYaml("a: [\n", "evil\n.yml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message, HasSubstr("evil\\n.yml:"));
  EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
}

TEST(ParseYamlTest, MarksEveryValueWithFileLineAndColumn) {
  Value root = parseOk("services:\n  web:\n    ports:\n      - \"80:80\"\n");
  EXPECT_EQ(root.mark.file, "f.yml");
  const Value& key = root.entries[0].first;
  EXPECT_EQ(key.mark.line, 1);
  EXPECT_EQ(key.mark.column, 1);
  const Value& port = root.find("services")->find("web")->find("ports")->items[0];
  EXPECT_EQ(port.mark.file, "f.yml");
  EXPECT_EQ(port.mark.line, 4);
  EXPECT_EQ(port.mark.column, 9);
}

TEST(ParseYamlTest, EveryFixtureParsesWithMarksEverywhere) {
  for (const auto& path : overmesh::testing::composeFixtures("core")) {
    auto parsed = parseYaml(overmesh::testing::readComposeFixture(path), path.filename());
    ASSERT_TRUE(parsed.has_value()) << path << ": " << parsed.error().message;
    std::vector<const Value*> stack{&*parsed};
    while (!stack.empty()) {
      const Value* value = stack.back();
      stack.pop_back();
      EXPECT_EQ(value->mark.file, path.filename().string());
      EXPECT_GE(value->mark.line, 1) << path;
      EXPECT_GE(value->mark.column, 1) << path;
      for (const Value& item : value->items) {
        stack.push_back(&item);
      }
      for (const auto& [key, item] : value->entries) {
        stack.push_back(&key);
        stack.push_back(&item);
      }
    }
  }
}

TEST(KeyPathTest, JoinsKeysAndIndexes) {
  EXPECT_EQ(keyPath({"services", "web", "ports", "[1]"}), "services.web.ports[1]");
  EXPECT_EQ(keyPath({}), "");
}

}  // namespace
}  // namespace overmesh::compose
