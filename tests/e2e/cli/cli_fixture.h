#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace overmesh::testing {

// A daemon in its own network namespace with a temporary socket and state directory;
// `swarm init` already run unless the test says otherwise.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to run overmeshd in a namespace of its own";
    }
    daemon_ = std::make_unique<DaemonProcess>(dir_.path() + "/overmesh.sock",
                                              dir_.path() + "/state");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->stop();
    }
  }

  void init(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"swarm", "init"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto result = cli(args);
    ASSERT_EQ(result.exitCode, 0) << result.err;
  }

  CommandResult cli(const std::vector<std::string>& args) { return daemon_->cli(args); }

  nlohmann::json json(const std::vector<std::string>& args) {
    auto result = cli(args);
    EXPECT_EQ(result.exitCode, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace overmesh::testing
