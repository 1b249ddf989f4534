#include "cli/table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace overmesh::cli {
namespace {

using ::testing::ElementsAre;

std::string render(const Table& table) {
  std::ostringstream out;
  table.print(out);
  return out.str();
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(TableTest, PadsEachColumnToItsWidestCellPlusThreeSpaces) {
  Table table({"ID", "NAME", "SUBNET"});
  table.addRow({"abc", "frontend", "10.0.0.0/24"});
  table.addRow({"abcdef", "be", "10.0.1.0/24"});

  EXPECT_EQ(render(table),
            "ID       NAME       SUBNET\n"
            "abc      frontend   10.0.0.0/24\n"
            "abcdef   be         10.0.1.0/24\n");
}

TEST(TableTest, AHeaderWiderThanEveryCellSetsTheWidth) {
  Table table({"NETWORK ID", "NAME"});
  table.addRow({"a", "b"});

  EXPECT_THAT(linesOf(render(table)), ElementsAre("NETWORK ID   NAME", "a            b"));
}

TEST(TableTest, NoLineEndsInWhitespace) {
  Table table({"NAME", "LABELS"});
  table.addRow({"frontend", ""});
  table.addRow({"be", "team=x"});
  table.addRow({"", ""});

  for (const auto& line : linesOf(render(table))) {
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "\"" << line << "\"";
  }
}

TEST(TableTest, EmptyLastCellLeavesNoTrailingPadding) {
  Table table({"NAME", "LABELS"});
  table.addRow({"frontend", ""});

  EXPECT_THAT(linesOf(render(table)), ElementsAre("NAME       LABELS", "frontend"));
}

TEST(TableTest, ShortRowIsPaddedWithEmptyCells) {
  Table table({"A", "B", "C"});
  table.addRow({"x"});
  table.addRow({"long", "y", "z"});

  EXPECT_THAT(linesOf(render(table)), ElementsAre("A      B   C", "x", "long   y   z"));
}

TEST(TableTest, ShortRowKeepsLaterColumnsAligned) {
  Table table({"A", "B", "C"});
  table.addRow({"x", "", "z"});
  table.addRow({"long", "y", "z"});

  std::vector<std::string> lines = linesOf(render(table));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].find('z'), lines[2].rfind('z'));
}

TEST(TableTest, ExtraCellsBeyondTheHeadersAreDropped) {
  Table table({"A", "B"});
  table.addRow({"1", "2", "3"});

  EXPECT_THAT(linesOf(render(table)), ElementsAre("A   B", "1   2"));
}

TEST(TableTest, WithoutRowsPrintsTheHeaderLineOnly) {
  EXPECT_EQ(render(Table({"NETWORK ID", "NAME", "DRIVER"})), "NETWORK ID   NAME   DRIVER\n");
}

}  // namespace
}  // namespace overmesh::cli
