// A lab host's daemon command line: the unit's own words first, then only what a lab host
// must change, last so that they win.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lab/lab_internal.h"

namespace overmesh::lab::internal {
namespace {

using ::testing::ElementsAre;

TEST(LabDaemonArgumentsTest, WithoutAUnitTheBinaryGetsThePerHostOptions) {
  LabHost host = describeHost("/run/x", "om", 2);
  DaemonLaunch launch{"om", "/build/overmeshd", "debug", {}};
  EXPECT_THAT(
      daemonArguments(launch, host),
      ElementsAre("/build/overmeshd", "--socket", "/run/x/om/h2/overmesh.sock", "--state-dir",
                  "/run/x/om/h2/state", "--cluster-port", "2377", "--netns-prefix", "om-h2-",
                  "--resolv-conf", "/run/x/om/h2/state/resolv.conf", "--log-level", "debug"));
}

TEST(LabDaemonArgumentsTest, TheUnitsArgumentsComeFirstAndThePerHostOptionsLast) {
  LabHost host = describeHost("/run/x", "om", 1);
  DaemonLaunch launch{
      "om", "/usr/bin/overmeshd", "info", {"--allow-root-netns", "--config", "/etc/o.conf"}};
  auto args = daemonArguments(launch, host);
  ASSERT_GE(args.size(), 5u);
  EXPECT_THAT(std::vector<std::string>(args.begin(), args.begin() + 4),
              ElementsAre("/usr/bin/overmeshd", "--allow-root-netns", "--config", "/etc/o.conf"));
  EXPECT_EQ(args[4], "--socket");
  EXPECT_EQ(args[args.size() - 2], "--log-level");
  EXPECT_EQ(args.back(), "info");
}

}  // namespace
}  // namespace overmesh::lab::internal
