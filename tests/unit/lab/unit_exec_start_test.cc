// ExecStart= of a systemd unit as `lab up --unit` reads it: the simple case word for word,
// and everything systemd would read differently refused with the file, line and rule.

#include "lab/unit_exec_start.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/scratch.h"

namespace overmesh::lab {
namespace {

using overmesh::testing::must;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kPackagedUnit = R"([Unit]
Description=overmesh node daemon
After=network-online.target

[Service]
Type=simple
# --allow-root-netns: a comment that mentions ExecStart=/bin/false
ExecStart=/usr/bin/overmeshd --allow-root-netns --config /etc/overmesh/overmeshd.conf
Restart=on-failure
KillMode=process

[Install]
WantedBy=multi-user.target
)";

std::string unitWith(const std::string& serviceLines) {
  return "[Unit]\nDescription=x\n\n[Service]\n" + serviceLines + "\n[Install]\nWantedBy=x\n";
}

TEST(UnitExecStartTest, ReadsThePackagedUnitWordForWord) {
  EXPECT_THAT(must(unitExecStart(kPackagedUnit, "overmeshd.service")),
              ElementsAre("/usr/bin/overmeshd", "--allow-root-netns", "--config",
                          "/etc/overmesh/overmeshd.conf"));
}

TEST(UnitExecStartTest, DoubleQuotesKeepSpacesAndTheirTwoEscapes) {
  EXPECT_THAT(must(splitExecStart(R"(  /opt/om/bin/overmeshd   --hostname "node one"  )"
                                  R"(--config="/etc/my conf"  "a\"b\\c" "")",
                                  "u:1")),
              ElementsAre("/opt/om/bin/overmeshd", "--hostname", "node one",
                          "--config=/etc/my conf", "a\"b\\c", ""));
}

TEST(UnitExecStartTest, TabsSeparateWordsAndSpacesAroundTheKeyAreAllowed) {
  EXPECT_THAT(
      must(unitExecStart(unitWith("ExecStart = /usr/bin/overmeshd\t--log-level\twarn"), "u")),
      ElementsAre("/usr/bin/overmeshd", "--log-level", "warn"));
}

TEST(UnitExecStartTest, AnEmptyAssignmentResetsAsInSystemd) {
  EXPECT_THAT(must(unitExecStart(unitWith("ExecStart=/bin/false\nExecStart=\n"
                                          "ExecStart=/usr/bin/overmeshd --allow-root-netns"),
                                 "u")),
              ElementsAre("/usr/bin/overmeshd", "--allow-root-netns"));
}

TEST(UnitExecStartTest, OnlyTheServiceSectionCounts) {
  std::string unit =
      "[Unit]\nExecStart=/bin/unit-section\n[Service]\nExecStart=/usr/bin/overmeshd\n"
      "[Install]\nExecStart=/bin/install-section\n";
  EXPECT_THAT(must(unitExecStart(unit, "u")), ElementsAre("/usr/bin/overmeshd"));
}

TEST(UnitExecStartTest, ContinuationsOfOtherSettingsDoNotHideTheCommand) {
  std::string unit = unitWith("Environment=A=1 \\\n  B=2\nExecStart=/usr/bin/overmeshd");
  EXPECT_THAT(must(unitExecStart(unit, "u")), ElementsAre("/usr/bin/overmeshd"));
}

// Each bad ExecStart value, and what the error must say about it.
struct BadValue {
  std::string value;
  std::string says;
};

TEST(UnitExecStartTest, RefusesWhatSystemdWouldReadDifferentlyNamingFileLineAndRule) {
  std::vector<BadValue> cases = {
      {"-/usr/bin/overmeshd", "the prefix '-'"},
      {"@/usr/bin/overmeshd overmeshd", "the prefix '@'"},
      {":/usr/bin/overmeshd", "the prefix ':'"},
      {"+/usr/bin/overmeshd", "the prefix '+'"},
      {"!!/usr/bin/overmeshd", "the prefix '!'"},
      {"/usr/bin/overmeshd $OPTIONS", "$ (environment variable expansion)"},
      {"/usr/bin/overmeshd \"${OPTIONS}\"", "$ (environment variable expansion)"},
      {"/usr/bin/overmeshd --state-dir %S/overmesh", "% (unit specifiers)"},
      {"/usr/bin/overmeshd --hostname 'node one'", "single quotes"},
      {"/usr/bin/overmeshd --hostname node\\ one", "a backslash outside double quotes"},
      {"/usr/bin/overmeshd --hostname \"node", "a double quote is not closed"},
      {"/usr/bin/overmeshd \"a\\tb\"", "only \\\" and \\\\"},
      {"/usr/bin/overmeshd ; /bin/true", "separated by ';'"},
      {"overmeshd --allow-root-netns", "\"overmeshd\" is not an absolute path"},
  };
  for (const auto& bad : cases) {
    auto result = unitExecStart(unitWith("Type=simple\nExecStart=" + bad.value), "/lib/x.service");
    ASSERT_FALSE(result) << bad.value;
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument) << bad.value;
    EXPECT_THAT(result.error().message, HasSubstr("/lib/x.service:6: ExecStart=" + bad.value))
        << "names the file, the line and the value";
    EXPECT_THAT(result.error().message, HasSubstr(bad.says)) << bad.value;
    EXPECT_THAT(result.error().message, HasSubstr("the lab supports ExecStart=/absolute/path"))
        << "says what is supported";
  }
}

TEST(UnitExecStartTest, RefusesACommandContinuedOverLines) {
  auto result =
      unitExecStart(unitWith("ExecStart=/usr/bin/overmeshd \\\n  --allow-root-netns"), "u");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("u:5: ExecStart="));
  EXPECT_THAT(result.error().message, HasSubstr("continues over several lines"));
}

TEST(UnitExecStartTest, RefusesTwoCommandsNamingBothLines) {
  auto result = unitExecStart(unitWith("ExecStart=/usr/bin/a\nExecStart=/usr/bin/b"), "u");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message,
              HasSubstr("u:6: a second ExecStart= (the first is on line 5)"));
}

TEST(UnitExecStartTest, RefusesAUnitWithoutACommand) {
  for (const std::string& unit : {unitWith("Type=simple"), unitWith("ExecStart="),
                                  std::string("[Unit]\nExecStart=/bin/x\n")}) {
    auto result = unitExecStart(unit, "/etc/systemd/system/x.service");
    ASSERT_FALSE(result) << unit;
    EXPECT_THAT(result.error().message,
                HasSubstr("/etc/systemd/system/x.service has no ExecStart= in its [Service]"));
  }
}

TEST(UnitExecStartTest, ReadsTheFileAndSaysWhenItCannot) {
  overmesh::testing::ScratchDir scratch;
  std::string path = (scratch.path() / "overmeshd.service").string();
  std::ofstream(path) << kPackagedUnit;
  EXPECT_EQ(must(readUnitExecStart(path)).front(), "/usr/bin/overmeshd");
  auto missing = readUnitExecStart(path + ".missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(missing.error().message, HasSubstr(path + ".missing"));
}

}  // namespace
}  // namespace overmesh::lab
