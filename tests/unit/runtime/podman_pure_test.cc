// The podman runtime's pure parts: the container-limits rule, the create request, and
// the log stream demultiplexer (untrusted input).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/podman/log_stream.h"
#include "runtime/podman/podman_client.h"
#include "runtime/podman/podman_limits.h"

namespace overmesh::runtime::podman {
namespace {

std::string frame(char stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = stream;
  auto length = static_cast<std::uint32_t>(payload.size());
  out[4] = static_cast<char>((length >> 24) & 0xff);
  out[5] = static_cast<char>((length >> 16) & 0xff);
  out[6] = static_cast<char>((length >> 8) & 0xff);
  out[7] = static_cast<char>(length & 0xff);
  return out + std::string(payload);
}

TEST(ContainerLimitsTest, NofileUpToTheDaemonsHardLimitNprocAlsoCappedByConmon) {
  EXPECT_EQ(containerLimits(20000, 96365), (ContainerLimits{20000, 32768}));
  EXPECT_EQ(containerLimits(1024, 1000), (ContainerLimits{1024, 1000}));
}

TEST(ContainerLimitsTest, ThisProcessGetsLimitsItCouldSet) {
  auto limits = containerLimitsOfThisProcess();
  ASSERT_TRUE(limits.has_value()) << limits.error().message;
  EXPECT_GT(limits->nofile, 0u);
  EXPECT_LE(limits->nproc, kConmonNprocLimit);
}

TEST(ContainerCreateBodyTest, JoinsTheSandboxWithTheLimitsAndMounts) {
  ContainerSpec spec;
  spec.name = "t1";
  spec.image = "localhost/bb:1";
  spec.hostname = "web.1.t1";
  spec.env = {"A=1", "B=x=y", "C"};
  spec.netnsPath = "/run/netns/om-t-t1";
  spec.limits = {1024, 1000};
  spec.mounts = {{"/state/t1/hosts", "/etc/hosts", true}};
  auto body = nlohmann::json::parse(containerCreateBody(spec));
  EXPECT_EQ(body["netns"]["nsmode"], "path");
  EXPECT_EQ(body["netns"]["value"], "/run/netns/om-t-t1");
  EXPECT_EQ(body["env"]["B"], "x=y");
  EXPECT_EQ(body["env"]["C"], "");
  EXPECT_EQ(body["r_limits"][0]["type"], "nofile");
  EXPECT_EQ(body["r_limits"][1]["hard"], 1000);
  EXPECT_EQ(body["mounts"][0]["options"][1], "ro");
  EXPECT_FALSE(body.contains("command")) << "no command: the image's own";
}

TEST(LogStreamTest, SplitsStdoutAndStderrInOrder) {
  auto out = demuxLogStream(frame(1, "hello\n") + frame(2, "oops\n") + frame(1, "again\n"), 1024);
  EXPECT_EQ(out.out, "hello\nagain\n");
  EXPECT_EQ(out.err, "oops\n");
  EXPECT_EQ(out.both, "hello\noops\nagain\n");
  EXPECT_FALSE(out.truncated);
}

TEST(LogStreamTest, MalformedOrOversizedInputEndsWithWhatWasRead) {
  auto lying = demuxLogStream(frame(1, "ok") + std::string("\x01\0\0\0\xff\xff\xff\xff", 8), 1024);
  EXPECT_EQ(lying.out, "ok");
  EXPECT_TRUE(lying.truncated);
  auto unknown = demuxLogStream(frame(7, "x"), 1024);
  EXPECT_TRUE(unknown.truncated);
  auto capped = demuxLogStream(frame(1, "0123456789"), 4);
  EXPECT_EQ(capped.out, "0123");
  EXPECT_TRUE(capped.truncated);
  auto half = demuxLogStream(std::string("\x01\0\0", 3), 1024);
  EXPECT_TRUE(half.truncated);
}

}  // namespace
}  // namespace overmesh::runtime::podman
