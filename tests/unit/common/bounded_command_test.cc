#include "common/bounded_command.h"

#include <gtest/gtest.h>

#include <chrono>

namespace overmesh {
namespace {

TEST(BoundedCommand, RunsWithoutAShellAndReturnsOutputAndExitCode) {
  auto ran = runBoundedCommand(
      {{"sh", "-c", "printf 'out %s' \"$0\"; printf 'err\\n' >&2; exit 3", "x y"}});
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->out, "out x y");  // "x y" reached the program as one argument
  EXPECT_EQ(ran->err, "err\n");
  EXPECT_EQ(ran->exitCode, 3);
  EXPECT_FALSE(ran->timedOut);
}

TEST(BoundedCommand, EnvEntriesReplaceOrAddToTheDaemonsEnvironment) {
  BoundedCommand command;
  command.argv = {"sh", "-c", "printf '%s|%s' \"$HOME\" \"$OVERMESH_TEST_ADDED\""};
  command.env = {"HOME=/replaced", "OVERMESH_TEST_ADDED=yes"};
  auto ran = runBoundedCommand(command);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->out, "/replaced|yes");
}

TEST(BoundedCommand, ArgumentsAreNotInterpretedByAShell) {
  auto ran = runBoundedCommand({{"echo", "$HOME;", "`id`"}});
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->out, "$HOME; `id`\n");
}

TEST(BoundedCommand, OutputBeyondTheBoundIsDroppedAndReported) {
  BoundedCommand command{{"head", "-c", "100000", "/dev/zero"}};
  command.maxOutBytes = 1000;
  auto ran = runBoundedCommand(command);
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->out.size(), 1000u);
  EXPECT_TRUE(ran->outTruncated);
  EXPECT_EQ(ran->exitCode, 0);
}

TEST(BoundedCommand, AChildPastItsDeadlineIsKilled) {
  BoundedCommand command{{"sleep", "30"}};
  command.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto ran = runBoundedCommand(command);
  ASSERT_TRUE(ran);
  EXPECT_TRUE(ran->timedOut);
  EXPECT_EQ(ran->exitCode, 128 + 9);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(BoundedCommand, AChildThatClosesItsOutputButRunsOnIsKilledAtTheDeadline) {
  BoundedCommand command{{"sh", "-c", "exec >&- 2>&-; sleep 30"}};
  command.timeout = std::chrono::milliseconds(300);
  auto ran = runBoundedCommand(command);
  ASSERT_TRUE(ran);
  EXPECT_TRUE(ran->timedOut);
}

TEST(BoundedCommand, StdinIsEmpty) {
  auto ran = runBoundedCommand({{"cat"}});
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->out, "");
  EXPECT_EQ(ran->exitCode, 0);
}

TEST(BoundedCommand, AMissingProgramIsNotFound) {
  auto ran = runBoundedCommand({{"overmesh-no-such-program"}});
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().kind, ErrorKind::NotFound);
}

TEST(BoundedCommand, LastLineIsTheLastNonEmptyLineTrimmedAndBounded) {
  EXPECT_EQ(lastLine("time=1 level=debug\nError: manifest unknown  \n\n"),
            "Error: manifest unknown");
  EXPECT_EQ(lastLine(""), "");
  EXPECT_EQ(lastLine("abcdef", 3), "abc");
}

}  // namespace
}  // namespace overmesh
