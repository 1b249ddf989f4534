#include "cli/completion.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace overmesh::cli {
namespace {

// A small CLI shaped like overmesh's: global options, nested subcommands, a hidden one.
struct SampleCli {
  CLI::App app{"sample"};
  std::string host, token, format;
  bool verbose = false;
  SampleCli() {
    app.add_option("-H,--host", host, "daemon");
    app.add_flag("--verbose", verbose, "chatty");
    CLI::App* swarm = app.add_subcommand("swarm", "swarm");
    CLI::App* join = swarm->add_subcommand("join", "join");
    join->add_option("--token", token, "token");
    swarm->add_subcommand("leave", "leave");
    app.add_subcommand("service", "service")
        ->add_subcommand("ls", "ls")
        ->add_option("--format", format, "format");
    app.add_subcommand("secret", "hidden")->group("");
  }
};

// Runs the script in bash with COMP_WORDS = `words` (the cursor on the last one) and returns
// COMPREPLY joined by spaces.
std::string complete(const std::string& script, const std::string& words) {
  char dir[] = "/tmp/overmesh-completion.XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    return "mkdtemp failed";
  }
  std::string path = std::string(dir) + "/completion.bash";
  std::ofstream(path) << script;
  std::string command = "bash -c 'source " + path + "; COMP_WORDS=(" + words +
                        "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _overmesh; "
                        "echo \"${COMPREPLY[*]}\"' 2>&1";
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) {
      out += buffer;
    }
    pclose(pipe);
  }
  std::filesystem::remove_all(dir);
  if (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

TEST(BashCompletion, CompletesTopLevelSubcommandsButNotHiddenOnes) {
  SampleCli cli;
  std::string script = bashCompletionScript(cli.app, "overmesh");
  EXPECT_EQ(complete(script, "overmesh s"), "swarm service");
  EXPECT_EQ(complete(script, "overmesh \"\""), "swarm service");
}

TEST(BashCompletion, DescendsIntoNestedSubcommands) {
  SampleCli cli;
  std::string script = bashCompletionScript(cli.app, "overmesh");
  EXPECT_EQ(complete(script, "overmesh swarm \"\""), "join leave");
  EXPECT_EQ(complete(script, "overmesh swarm join --"), "--help --token");
}

TEST(BashCompletion, SkipsTheValueOfAnOptionThatTakesOne) {
  SampleCli cli;
  std::string script = bashCompletionScript(cli.app, "overmesh");
  // "swarm" after -H is the host's value, not the subcommand.
  EXPECT_EQ(complete(script, "overmesh -H swarm \"\""), "swarm service");
  // A flag takes no value: the next word is a subcommand again.
  EXPECT_EQ(complete(script, "overmesh --verbose swarm l"), "leave");
  // Right after an option that takes a value: no words (bash's default completion).
  EXPECT_EQ(complete(script, "overmesh swarm join --token \"\""), "");
}

TEST(BashCompletion, RegistersForTheProgramName) {
  SampleCli cli;
  std::string script = bashCompletionScript(cli.app, "overmesh");
  EXPECT_NE(script.find("complete -F _overmesh overmesh\n"), std::string::npos);
  EXPECT_EQ(script.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::cli
