#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/types.h"
#include "cli/cli_context.h"

namespace overmesh::cli {
namespace {

TEST(UnderlayFilterInfoTest, ShowsTheDropCountersTheDaemonReports) {
  api::Info info;
  info.swarm = "active";
  info.underlayFilter = api::UnderlayFilterStatus{12, 3};
  nlohmann::json json = info;
  EXPECT_EQ(formatUnderlayFilter(json),
            "members only; dropped 12 VXLAN and 3 node-port packets from non-members");
  // And the field survives the API's round trip.
  auto back = json.get<api::Info>();
  ASSERT_TRUE(back.underlayFilter);
  EXPECT_EQ(back.underlayFilter->vxlanDropped, 12u);
  EXPECT_EQ(back.underlayFilter->nodePortDropped, 3u);
}

TEST(UnderlayFilterInfoTest, SaysWhenThereIsNoFilter) {
  api::Info info;
  info.swarm = "active";
  nlohmann::json json = info;
  EXPECT_FALSE(json.contains("underlayFilter"));
  EXPECT_EQ(formatUnderlayFilter(json),
            "not installed (VXLAN and the node port accept every address)");
}

}  // namespace
}  // namespace overmesh::cli
