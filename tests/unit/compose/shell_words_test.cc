#include "compose/shell_words.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace overmesh::compose {
namespace {

using ::testing::HasSubstr;

struct SplitCase {
  std::string text;
  std::vector<std::string> words;
};

void PrintTo(const SplitCase& c, std::ostream* os) { *os << c.text; }

class ShellWordsTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(ShellWordsTest, SplitsAsAShellWouldWithoutExpanding) {
  auto words = splitShellWords(GetParam().text);

  ASSERT_TRUE(words.has_value()) << words.error().message;
  EXPECT_EQ(*words, GetParam().words);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ShellWordsTest,
    ::testing::Values(SplitCase{"", {}}, SplitCase{"   \t ", {}},
                      SplitCase{"httpd -f -p 80", {"httpd", "-f", "-p", "80"}},
                      SplitCase{"  a\t\tb\nc  ", {"a", "b", "c"}},
                      SplitCase{"echo 'hello world'", {"echo", "hello world"}},
                      SplitCase{"echo \"hello world\"", {"echo", "hello world"}},
                      SplitCase{"sh -c 'echo \"$HOME\"'", {"sh", "-c", "echo \"$HOME\""}},
                      SplitCase{"echo \"a\\\"b\" \"c\\d\" \"\\$x\"",
                                {"echo", "a\"b", "c\\d", "$x"}},
                      SplitCase{"echo a\\ b", {"echo", "a b"}},
                      SplitCase{"echo '' \"\"", {"echo", "", ""}},
                      SplitCase{"--db=\"postgres://db/x\"'s'", {"--db=postgres://db/xs"}},
                      SplitCase{"echo $HOME ~ *.txt", {"echo", "$HOME", "~", "*.txt"}},
                      SplitCase{"line\\\ncontinued", {"linecontinued"}}));

TEST(ShellWordsTest, RefusesAnUnterminatedSingleQuote) {
  auto words = splitShellWords("echo 'hi");

  ASSERT_FALSE(words.has_value());
  EXPECT_EQ(words.error().message, "a single quote at offset 5 is not closed");
}

TEST(ShellWordsTest, RefusesAnUnterminatedDoubleQuote) {
  auto words = splitShellWords("echo \"hi\\\"");

  ASSERT_FALSE(words.has_value());
  EXPECT_THAT(words.error().message, HasSubstr("double quote at offset 5 is not closed"));
}

TEST(ShellWordsTest, RefusesATrailingBackslash) {
  auto words = splitShellWords("echo \\");

  ASSERT_FALSE(words.has_value());
  EXPECT_THAT(words.error().message, HasSubstr("backslash"));
}

}  // namespace
}  // namespace overmesh::compose
