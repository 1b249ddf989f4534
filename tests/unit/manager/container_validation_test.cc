// The manager's check of a container spec (manager/container_validation.h): what it
// normalises and every refusal, naming the field as the user knows it.

#include "manager/container_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::must;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

api::ContainerSpec withImage(std::string image = "web:1") {
  api::ContainerSpec spec;
  spec.image = std::move(image);
  return spec;
}

TEST(ValidateContainerSpecTest, NormalisesTheImagePathsAndSignal) {
  auto spec = withImage("198.18.0.101:5000/web:1");
  spec.workdir = "/srv/./app/";
  spec.mounts = {{"bind", "/var//data/", "/data/", true}, {"volume", "", "/cache", false}};
  spec.stopSignal = "quit";
  spec.user = "app:staff";
  spec.entrypoint = {"/bin/sh", "-c"};

  auto normalised = must(validateContainerSpec(spec, false));

  EXPECT_EQ(normalised.image, "198.18.0.101:5000/web:1");
  EXPECT_EQ(normalised.workdir, "/srv/app");
  EXPECT_THAT(normalised.mounts, ElementsAre(api::Mount{"bind", "/var/data", "/data", true},
                                             api::Mount{"volume", "", "/cache", false}));
  EXPECT_EQ(normalised.stopSignal, "SIGQUIT");
  EXPECT_EQ(normalised.user, "app:staff");
  EXPECT_THAT(normalised.entrypoint, ElementsAre("/bin/sh", "-c"));
}

TEST(ValidateContainerSpecTest, ShortNamesGetDockersRegistryAndTag) {
  EXPECT_EQ(must(validateContainerSpec(withImage("nginx"), false)).image,
            "docker.io/library/nginx:latest");
}

TEST(ValidateContainerSpecTest, AProcessTaskNeedsACommandAndNoContainerFields) {
  EXPECT_EQ(must(validateContainerSpec({}, true)), api::ContainerSpec{});
  EXPECT_THAT(validateContainerSpec({}, false).error().message,
              HasSubstr("give --image IMAGE, or a command after --"));
  api::ContainerSpec spec;
  spec.readOnly = true;
  auto refused = validateContainerSpec(spec, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message,
              HasSubstr("--read-only needs --image: a process task runs on the node's own "
                        "filesystem"));
}

TEST(ValidateContainerSpecTest, AFullyQualifiedHostnameIsAcceptedAsSwarmDoes) {
  api::ContainerSpec spec;
  for (const std::string& name :
       std::vector<std::string>{"db.example.com", "web-1.prod", std::string(63, 'a'),
                                std::string(31, 'a') + "." + std::string(32, 'b')}) {
    spec.hostname = name;
    auto valid = validateContainerSpec(spec, true);
    ASSERT_TRUE(valid) << name << ": " << valid.error().message;
    EXPECT_EQ(valid->hostname, name);
  }
}

TEST(ValidateContainerSpecTest, HostnameAndLabelsAreKeptAndAllowedWithoutAnImage) {
  api::ContainerSpec spec;
  spec.hostname = "web-1";
  spec.labels = {{"com.docker.stack.namespace", "web"}, {"tier", ""}};
  auto process = validateContainerSpec(spec, true);
  ASSERT_TRUE(process) << process.error().message;
  EXPECT_EQ(process->hostname, "web-1");
  EXPECT_EQ(process->labels, spec.labels);
  spec.image = "web:1";
  auto image = validateContainerSpec(spec, false);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image->hostname, "web-1");
  EXPECT_EQ(image->labels, spec.labels);
}

TEST(NormaliseStopSignalTest, AcceptsNamesWithOrWithoutSigAndNumbers) {
  EXPECT_EQ(must(normaliseStopSignal("TERM")), "SIGTERM");
  EXPECT_EQ(must(normaliseStopSignal("SIGTERM")), "SIGTERM");
  EXPECT_EQ(must(normaliseStopSignal("15")), "SIGTERM");
  EXPECT_EQ(must(normaliseStopSignal("9")), "SIGKILL");
  EXPECT_EQ(must(normaliseStopSignal("sigusr1")), "SIGUSR1");
  for (const char* bad : {"", "SIG", "FOO", "0", "99", "SIGTERMX", "+15", "1e1"}) {
    auto refused = normaliseStopSignal(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_THAT(refused.error().message, HasSubstr("--stop-signal")) << bad;
  }
}

struct BadSpecCase {
  std::string label;
  std::function<void(api::ContainerSpec&)> change;
  std::vector<std::string> expected;
};

class BadContainerSpecTest : public ::testing::TestWithParam<BadSpecCase> {};

TEST_P(BadContainerSpecTest, IsRefusedNamingTheField) {
  auto spec = withImage();
  GetParam().change(spec);
  auto refused = validateContainerSpec(spec, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  for (const auto& part : GetParam().expected) {
    EXPECT_THAT(refused.error().message, HasSubstr(part));
  }
}

api::Mount volumeAt(std::string target) {
  return api::Mount{"volume", "", std::move(target), false};
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadContainerSpecTest,
    ::testing::Values(
        BadSpecCase{"BadImage", [](auto& s) { s.image = "Web"; }, {"--image", "Web"}},
        BadSpecCase{"RelativeWorkdir",
                    [](auto& s) { s.workdir = "srv"; },
                    {"--workdir \"srv\"", "absolute path"}},
        BadSpecCase{"WorkdirWithNul",
                    [](auto& s) { s.workdir = std::string("/a\0b", 4); },
                    {"--workdir", "NUL"}},
        BadSpecCase{"LongWorkdir",
                    [](auto& s) { s.workdir = "/" + std::string(4096, 'a'); },
                    {"--workdir", "4097 bytes", "at most 4096"}},
        BadSpecCase{"UserWithUpperCase", [](auto& s) { s.user = "Admin"; }, {"--user \"Admin\""}},
        BadSpecCase{"UserWithEmptyGroup", [](auto& s) { s.user = "app:"; }, {"--user \"app:\""}},
        BadSpecCase{
            "UserIdTooLarge", [](auto& s) { s.user = "4294967295"; }, {"--user \"4294967295\""}},
        BadSpecCase{"UserTwoColons", [](auto& s) { s.user = "a:b:c"; }, {"--user"}},
        BadSpecCase{"EmptyEntrypointWord",
                    [](auto& s) {
                      s.entrypoint = {"sh", ""};
                    },
                    {"--entrypoint", "word 2 of 2 is empty"}},
        BadSpecCase{"TooManyEntrypointWords",
                    [](auto& s) { s.entrypoint = std::vector<std::string>(257, "x"); },
                    {"--entrypoint", "257 words"}},
        BadSpecCase{"BadStopSignal", [](auto& s) { s.stopSignal = "NOPE"; }, {"--stop-signal"}},
        BadSpecCase{"HostnameWithAnEmptyLabel",
                    [](auto& s) { s.hostname = "web..1"; },
                    {"--hostname \"web..1\"", "DNS name", "db.example.com"}},
        BadSpecCase{"HostnameTemplate",
                    [](auto& s) { s.hostname = "{{.Node.Hostname}}-{{.Task.Slot}}"; },
                    {"--hostname \"{{.Node.Hostname}}-{{.Task.Slot}}\"",
                     "hostname templates ({{…}}) are not supported yet: give a plain name"}},
        BadSpecCase{"HostnameLongerThanTheKernelTakes",
                    [](auto& s) { s.hostname = std::string(40, 'a') + "." + std::string(30, 'b'); },
                    {"--hostname", "at most 64 bytes"}},
        BadSpecCase{"HostnameLabelEndingWithADash",
                    [](auto& s) { s.hostname = "db-.example.com"; },
                    {"--hostname \"db-.example.com\""}},
        BadSpecCase{"HostnameStartingWithADash",
                    [](auto& s) { s.hostname = "-web"; },
                    {"--hostname \"-web\""}},
        BadSpecCase{"HostnameTooLong",
                    [](auto& s) { s.hostname = std::string(64, 'a'); },
                    {"--hostname", "1-63"}},
        BadSpecCase{"LabelWithAnEmptyKey",
                    [](auto& s) {
                      s.labels = {{"", "x"}};
                    },
                    {"--container-label key \"\"", "1-256 bytes"}},
        BadSpecCase{"LabelKeyWithEquals",
                    [](auto& s) {
                      s.labels = {{"a=b", "x"}};
                    },
                    {"--container-label \"a=b\"", "'='"}},
        BadSpecCase{"LabelValueTooLong",
                    [](auto& s) {
                      s.labels = {{"a", std::string(4097, 'x')}};
                    },
                    {"--container-label \"a\"", "4097 bytes", "at most 4096"}},
        BadSpecCase{"TooManyLabels",
                    [](auto& s) {
                      for (int i = 0; i < 257; ++i) {
                        s.labels["k" + std::to_string(i)] = "v";
                      }
                    },
                    {"--container-label", "257 labels", "at most 256"}},
        BadSpecCase{"MountType",
                    [](auto& s) {
                      s.mounts = {{"tmpfs", "", "/t", false}};
                    },
                    {"--mount type \"tmpfs\"", "bind or volume"}},
        BadSpecCase{"RelativeTarget",
                    [](auto& s) { s.mounts = {volumeAt("data")}; },
                    {"--mount target \"data\"", "absolute"}},
        BadSpecCase{"RootTarget",
                    [](auto& s) { s.mounts = {volumeAt("/")}; },
                    {"--mount target \"/\"", "root"}},
        BadSpecCase{"HostsTarget",
                    [](auto& s) { s.mounts = {volumeAt("/etc/./hosts")}; },
                    {"--mount target", "overmesh provides /etc/hosts"}},
        BadSpecCase{"ResolvConfTarget",
                    [](auto& s) { s.mounts = {volumeAt("/etc/resolv.conf")}; },
                    {"/etc/resolv.conf"}},
        BadSpecCase{"HostnameTarget",
                    [](auto& s) { s.mounts = {volumeAt("/etc/hostname")}; },
                    {"/etc/hostname"}},
        BadSpecCase{"SameTargetTwice",
                    [](auto& s) {
                      s.mounts = {volumeAt("/data"), volumeAt("/data/")};
                    },
                    {"--mount target \"/data/\"", "same target"}},
        BadSpecCase{"BindWithoutSource",
                    [](auto& s) {
                      s.mounts = {{"bind", "", "/d", false}};
                    },
                    {"--mount source \"\"", "bind"}},
        BadSpecCase{"RelativeBindSource",
                    [](auto& s) {
                      s.mounts = {{"bind", "srv", "/d", false}};
                    },
                    {"--mount source \"srv\"", "absolute"}},
        BadSpecCase{"BadVolumeName",
                    [](auto& s) {
                      s.mounts = {{"volume", "-x/y", "/d", false}};
                    },
                    {"--mount source \"-x/y\"", "volume"}},
        BadSpecCase{"TooManyMounts",
                    [](auto& s) {
                      for (int i = 0; i < 33; ++i) {
                        s.mounts.push_back(volumeAt("/m" + std::to_string(i)));
                      }
                    },
                    {"--mount", "33 mounts", "at most 32"}}),
    [](const ::testing::TestParamInfo<BadSpecCase>& paramInfo) { return paramInfo.param.label; });

}  // namespace
}  // namespace overmesh::manager
