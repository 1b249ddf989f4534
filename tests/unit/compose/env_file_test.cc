#include "compose/env_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::compose {
namespace {

TEST(EnvFileTest, ReadsVariablesSkippingCommentsAndBlankLines) {
  auto variables = parseEnvFile("# settings\n\nA=1\n  B=two words\n\t# indented comment\n", {});

  ASSERT_TRUE(variables.has_value()) << variables.error().message;
  EXPECT_EQ(*variables, (StringMap{{"A", "1"}, {"B", "two words"}}));
}

TEST(EnvFileTest, KeepsTheValueAsWrittenAfterTheFirstEquals) {
  auto variables = parseEnvFile("URL=http://x/?a=b\nQ=\"quoted\"\nEMPTY=\n", {});

  ASSERT_TRUE(variables.has_value()) << variables.error().message;
  EXPECT_EQ(*variables, (StringMap{{"URL", "http://x/?a=b"}, {"Q", "\"quoted\""}, {"EMPTY", ""}}));
}

TEST(EnvFileTest, TakesAKeyWithoutValueFromTheEnvironmentOrLeavesItOut) {
  auto variables = parseEnvFile("TOKEN\nMISSING\n", {{"TOKEN", "abc"}});

  ASSERT_TRUE(variables.has_value()) << variables.error().message;
  EXPECT_EQ(*variables, (StringMap{{"TOKEN", "abc"}}));
}

TEST(EnvFileTest, LaterLinesWinAndCarriageReturnsAndByteOrderMarkAreDropped) {
  auto variables = parseEnvFile(
      "\xEF\xBB\xBF"
      "A=1\r\nA=2\r\n",
      {});

  ASSERT_TRUE(variables.has_value()) << variables.error().message;
  EXPECT_EQ(*variables, (StringMap{{"A", "2"}}));
}

TEST(EnvFileTest, RefusesAKeyWithBlanksNamingTheLine) {
  auto variables = parseEnvFile("A=1\nexport B=2\n", {});

  ASSERT_FALSE(variables.has_value());
  EXPECT_EQ(variables.error().message,
            "line 2: the variable name \"export B\" contains blanks: write KEY=VALUE with a "
            "name without blanks");
}

TEST(EnvFileTest, RefusesBytesThatAreNotUtf8OrNul) {
  for (std::string text : {std::string("A=1\nB=\xff\n"), std::string("A=1\nB=x\0y\n", 9),
                           std::string("A=1\n\xc3=1\n")}) {
    auto variables = parseEnvFile(text, {});

    ASSERT_FALSE(variables.has_value()) << text;
    EXPECT_EQ(variables.error().message,
              "line 2: invalid UTF-8 (or a NUL byte): an env file is UTF-8 text");
  }
  EXPECT_TRUE(parseEnvFile("A=h\xc3\xa9llo \xe2\x9c\x93\n", {}).has_value());
}

TEST(EnvFileTest, RefusesAValueFromTheEnvironmentThatIsNotUtf8) {
  auto variables = parseEnvFile("A=1\nTOKEN\n", {{"TOKEN", "\xff\xfe"}});

  ASSERT_FALSE(variables.has_value());
  EXPECT_EQ(variables.error().message,
            "line 2: the value of \"TOKEN\" in the environment is invalid UTF-8: environment "
            "values are UTF-8 text");
}

TEST(EnvFileTest, RefusesAnEmptyKey) {
  auto variables = parseEnvFile("=value\n", {});

  ASSERT_FALSE(variables.has_value());
  EXPECT_EQ(variables.error().message, "line 1: \"=value\" has no variable name");
}

}  // namespace
}  // namespace overmesh::compose
