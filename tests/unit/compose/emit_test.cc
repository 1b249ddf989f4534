// emitYaml(): `stack config`'s output, and that it loads back to the same tree.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "compose/compose.h"
#include "compose/interpolation.h"
#include "compose/merge.h"
#include "support/compose_fixtures.h"

namespace overmesh::compose {
namespace {

using ::testing::HasSubstr;

// Same kinds and texts everywhere; a quoted scalar stays quoted (a plain one may come back
// quoted when its text needed it).
void expectSameTree(const Value& before, const Value& after, const std::string& where) {
  ASSERT_EQ(before.kind, after.kind) << where;
  EXPECT_EQ(before.text, after.text) << where;
  if (before.quoted) {
    EXPECT_TRUE(after.quoted) << where;
  }
  ASSERT_EQ(before.items.size(), after.items.size()) << where;
  for (std::size_t i = 0; i < before.items.size(); ++i) {
    expectSameTree(before.items[i], after.items[i], fmt::format("{}[{}]", where, i));
  }
  ASSERT_EQ(before.entries.size(), after.entries.size()) << where;
  for (std::size_t i = 0; i < before.entries.size(); ++i) {
    EXPECT_EQ(before.entries[i].first.text, after.entries[i].first.text) << where;
    expectSameTree(before.entries[i].second, after.entries[i].second,
                   where + "." + before.entries[i].first.text);
  }
}

void expectRoundTrip(const Value& value, const std::string& name) {
  std::string text = emitYaml(value);
  auto reloaded = parseYaml(text, "emitted.yml");
  ASSERT_TRUE(reloaded.has_value()) << name << ": " << reloaded.error().message << "\n" << text;
  // Deploying the output interpolates it again: that must give back the same texts.
  Warnings warnings;
  auto interpolated = interpolate(*reloaded, Environment{{"HOME", "/root"}}, warnings);
  ASSERT_TRUE(interpolated.has_value()) << name << ": " << interpolated.error().message;
  EXPECT_TRUE(warnings.empty()) << name << ": " << warnings.front();
  expectSameTree(value, *reloaded, name);
}

TEST(EmitYamlTest, EveryFixtureRoundTrips) {
  auto fixtures = overmesh::testing::composeFixtures("core");
  ASSERT_FALSE(fixtures.empty());
  for (const auto& path : fixtures) {
    auto parsed = parseYaml(overmesh::testing::readComposeFixture(path), path.filename());
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    expectRoundTrip(*parsed, path.filename().string());
    // And once interpolated (values change; the emitted text must still load back).
    Warnings warnings;
    ASSERT_TRUE(interpolate(*parsed, Environment{{"TAG", ": x # y"}}, warnings).has_value());
    expectRoundTrip(*parsed, path.filename().string() + " (interpolated)");
  }
}

TEST(EmitYamlTest, MergedFixturesRoundTrip) {
  auto dir = overmesh::testing::composeFixtureDir("core");
  auto base = parseYaml(overmesh::testing::readComposeFixture(dir / "base.yml"), "base.yml");
  auto over =
      parseYaml(overmesh::testing::readComposeFixture(dir / "override.yml"), "override.yml");
  ASSERT_TRUE(base && over);
  auto merged = mergeFiles({*base, *over});
  ASSERT_TRUE(merged.has_value()) << merged.error().message;
  expectRoundTrip(*merged, "merged");
}

struct ScalarCase {
  std::string text;
  bool quoted;
  std::string expected;  // the emitted value after "a: "
};

void PrintTo(const ScalarCase& c, std::ostream* os) {
  *os << '"' << c.text << '"' << (c.quoted ? " quoted" : " plain");
}

class EmitScalarTest : public ::testing::TestWithParam<ScalarCase> {};

TEST_P(EmitScalarTest, QuotesWhatWouldReadAsAnotherValue) {
  Value root = Value::mapping();
  Value scalar = Value::scalar(GetParam().text);
  scalar.quoted = GetParam().quoted;
  root.entries.emplace_back(Value::scalar("a"), scalar);
  EXPECT_EQ(emitYaml(root), "a: " + GetParam().expected + "\n");
  expectRoundTrip(root, GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Scalars, EmitScalarTest,
    ::testing::Values(ScalarCase{"nginx", false, "nginx"}, ScalarCase{"nginx", true, "\"nginx\""},
                      ScalarCase{"3", false, "3"}, ScalarCase{"3.9", true, "\"3.9\""},
                      ScalarCase{"0777", true, "\"0777\""}, ScalarCase{"1e3", true, "\"1e3\""},
                      ScalarCase{"yes", true, "\"yes\""}, ScalarCase{"on", true, "\"on\""},
                      ScalarCase{"off", true, "\"off\""}, ScalarCase{"true", false, "true"},
                      ScalarCase{"false", true, "\"false\""}, ScalarCase{"no", true, "\"no\""},
                      ScalarCase{"null", true, "\"null\""}, ScalarCase{"null", false, "\"null\""},
                      ScalarCase{"~", true, "\"~\""}, ScalarCase{"", false, "\"\""},
                      ScalarCase{"", true, "\"\""}, ScalarCase{" padded ", false, "\" padded \""},
                      ScalarCase{"a: b", false, "\"a: b\""}, ScalarCase{"x #y", false, "\"x #y\""},
                      ScalarCase{"#x", false, "\"#x\""}, ScalarCase{"key:", false, "\"key:\""},
                      ScalarCase{"- x", false, "\"- x\""}, ScalarCase{"-1", false, "-1"},
                      ScalarCase{"*ref", false, "\"*ref\""},
                      ScalarCase{"two\nlines", true, "\"two\\nlines\""},
                      ScalarCase{"héllo ✓", true, "\"héllo ✓\""}, ScalarCase{"a:b", false, "a:b"},
                      // Not in an interpolated section: written as it is.
                      ScalarCase{"$HOME", false, "$HOME"}, ScalarCase{"${X}", true, "\"${X}\""}));

TEST(EmitYamlTest, DollarsAreDoubledOnlyInInterpolatedSections) {
  auto root = parseYaml(
      "version: \"$V\"\nx-meta: $X\nservices:\n  web:\n    image: \"$$TAG\"\n"
      "networks:\n  n:\n    name: a$$b\n",
      "f.yml");
  ASSERT_TRUE(root.has_value()) << root.error().message;
  Warnings warnings;
  ASSERT_TRUE(interpolate(*root, {}, warnings).has_value());
  std::string text = emitYaml(*root);
  EXPECT_THAT(text, HasSubstr("version: \"$V\"\n"));
  EXPECT_THAT(text, HasSubstr("x-meta: $X\n"));
  EXPECT_THAT(text, HasSubstr("image: \"$$TAG\"\n"));
  EXPECT_THAT(text, HasSubstr("name: a$$b\n"));
  expectRoundTrip(*root, "sections");
}

TEST(EmitYamlTest, NullEmptyCollectionsAndKeys) {
  Value root = Value::mapping();
  root.entries.emplace_back(Value::scalar("nothing"), Value{});
  root.entries.emplace_back(Value::scalar("list"), Value::sequence());
  root.entries.emplace_back(Value::scalar("map"), Value::mapping());
  root.entries.emplace_back(Value::scalar("<<"), Value::scalar("literal"));
  root.entries.emplace_back(Value::scalar("$KEY"), Value::scalar("keys are not interpolated"));
  root.entries.emplace_back(Value::scalar("true"), Value::scalar("x"));
  std::string text = emitYaml(root);
  EXPECT_THAT(text, HasSubstr("nothing: null\n"));
  EXPECT_THAT(text, HasSubstr("list: []\n"));
  EXPECT_THAT(text, HasSubstr("map: {}\n"));
  EXPECT_THAT(text, HasSubstr("\"<<\": literal\n"));
  EXPECT_THAT(text, HasSubstr("$KEY: keys are not interpolated\n"));
  expectRoundTrip(root, "keys");
}

TEST(EmitYamlTest, KeepsKeysInFileOrder) {
  auto parsed = parseYaml("z: 1\na: 2\nm: 3\n", "f.yml");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(emitYaml(*parsed), "z: 1\na: 2\nm: 3\n");
}

}  // namespace
}  // namespace overmesh::compose
