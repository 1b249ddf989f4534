// overmeshd's flags and settings file: which value wins when both give a setting, a
// repeated option, and a file setting that is not an option.

#include "daemon/daemon_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/scratch.h"

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;

class DaemonFlagsTest : public ::testing::Test {
 protected:
  // Parses `args` (after the program name) with a settings file holding `settings`.
  void parse(const std::string& settings, std::vector<std::string> args) {
    std::string file = (scratch_.path() / "overmeshd.conf").string();
    std::ofstream(file) << settings;
    std::vector<std::string> argv = {"overmeshd", "--config", file};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<const char*> pointers;
    for (const auto& arg : argv) {
      pointers.push_back(arg.c_str());
    }
    addDaemonFlags(app_, flags_);
    app_.parse(static_cast<int>(pointers.size()), pointers.data());
  }

  overmesh::testing::ScratchDir scratch_;
  CLI::App app_{"overmeshd"};
  DaemonFlags flags_;
};

TEST_F(DaemonFlagsTest, TheFileSetsWhatTheCommandLineDoesNot) {
  parse("state-dir = \"/srv/overmesh\"\nlog-level = \"warn\"\ncluster-port = 3377\n", {});
  EXPECT_EQ(flags_.options.stateDir, "/srv/overmesh");
  EXPECT_EQ(flags_.logLevel, "warn");
  EXPECT_EQ(flags_.options.clusterPort, 3377);
  EXPECT_EQ(flags_.options.socketPath, "/run/overmesh/overmesh.sock") << "defaults stay";
}

TEST_F(DaemonFlagsTest, TheCommandLineWinsOverTheFileWhicheverComesFirst) {
  parse("socket = \"/run/from-file.sock\"\nstate-dir = \"/srv/from-file\"\n",
        {"--socket", "/run/lab/h1.sock", "--state-dir", "/run/lab/h1/state"});
  EXPECT_EQ(flags_.options.socketPath, "/run/lab/h1.sock");
  EXPECT_EQ(flags_.options.stateDir, "/run/lab/h1/state");
}

TEST_F(DaemonFlagsTest, ARepeatedOptionTakesItsLastValue) {
  parse("", {"--allow-root-netns", "--log-level", "warn", "--netns-prefix", "om-", "--log-level",
             "debug", "--netns-prefix", "lab-h2-"});
  EXPECT_EQ(flags_.logLevel, "debug");
  EXPECT_EQ(flags_.options.netnsPrefix, "lab-h2-");
  EXPECT_TRUE(flags_.allowRootNetns);
}

TEST_F(DaemonFlagsTest, AFileSettingThatIsNoOptionIsRefusedNamingIt) {
  try {
    parse("state-dir = \"/srv/overmesh\"\nstatedir = \"/srv/typo\"\n", {});
    FAIL() << "a setting that is no option was accepted";
  } catch (const CLI::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("statedir"));
  }
}

TEST_F(DaemonFlagsTest, ABadValueInTheFileIsRefusedAsOnTheCommandLine) {
  EXPECT_THROW(parse("log-level = \"loud\"\n", {}), CLI::ParseError);
}

}  // namespace
}  // namespace overmesh::daemon
