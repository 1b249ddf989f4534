// The image side of the podman runtime, pure parts: registries.conf from the cluster's
// settings (a trust boundary), podman's pull stream (untrusted, read as it arrives), the
// container create request with the image fields, signal names, the service's argv.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "runtime/podman/image_runtime.h"
#include "runtime/podman/podman_client.h"
#include "runtime/podman/podman_service.h"
#include "runtime/podman/pull_stream.h"
#include "runtime/podman/registries_conf.h"

namespace overmesh::runtime::podman {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistriesConfTest, NoSettingsOnlySearchesDockerHub) {
  auto text = registriesConf({});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text, HasSubstr("unqualified-search-registries = [\"docker.io\"]\n"));
  EXPECT_THAT(*text, Not(HasSubstr("[[registry]]")));
}

TEST(RegistriesConfTest, InsecureRegistriesAndMirrorsOfDockerHub) {
  api::RegistrySettings settings;
  settings.insecureRegistries = {"198.18.0.101:5000", "registry.lab"};
  settings.registryMirrors = {"http://198.18.0.101:5000/", "https://mirror.example.com"};
  auto text = registriesConf(settings);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text,
              HasSubstr("[[registry]]\nlocation = \"198.18.0.101:5000\"\ninsecure = true\n"));
  EXPECT_THAT(*text, HasSubstr("[[registry]]\nlocation = \"registry.lab\"\ninsecure = true\n"));
  EXPECT_THAT(*text, HasSubstr("[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n"));
  // Mirrors in order, after the docker.io entry they belong to; only http ones insecure.
  auto docker = text->find("prefix = \"docker.io\"");
  auto first =
      text->find("[[registry.mirror]]\nlocation = \"198.18.0.101:5000\"\ninsecure = true\n");
  auto second = text->find("[[registry.mirror]]\nlocation = \"mirror.example.com\"\n\n");
  ASSERT_NE(first, std::string::npos) << *text;
  EXPECT_LT(docker, first);
  EXPECT_TRUE(second == std::string::npos || second > first);
  EXPECT_THAT(*text, HasSubstr("location = \"mirror.example.com\"\n"));
  EXPECT_THAT(text->substr(text->find("mirror.example.com")), Not(HasSubstr("insecure")));
}

TEST(RegistriesConfTest, AnInsecureDockerHubWithMirrorsIsOneEntry) {
  api::RegistrySettings settings;
  settings.insecureRegistries = {"docker.io"};
  settings.registryMirrors = {"https://mirror.lab"};
  auto text = registriesConf(settings);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(text->find("location = \"docker.io\""), text->rfind("location = \"docker.io\""));
  EXPECT_THAT(*text, HasSubstr("location = \"docker.io\"\ninsecure = true\n"));
}

TEST(RegistriesConfTest, RefusesValuesThatWouldBreakTheToml) {
  for (const char* bad :
       {"reg\"istry:5000", "registry:5000\n[[registry]]", "a b", "", "-x", "host\\name"}) {
    api::RegistrySettings settings;
    settings.insecureRegistries = {bad};
    auto text = registriesConf(settings);
    ASSERT_FALSE(text) << bad;
    EXPECT_EQ(text.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(text.error().message, HasSubstr("insecure registry"));
  }
  for (const char* bad :
       {"ftp://host", "host:5000", "http://", "http://h\"/", "https://h/a b", "http://h/A"}) {
    api::RegistrySettings settings;
    settings.registryMirrors = {bad};
    auto text = registriesConf(settings);
    ASSERT_FALSE(text) << bad;
    EXPECT_THAT(text.error().message, HasSubstr(bad));
  }
}

TEST(PullStreamParserTest, SummarisesProgressAcrossPiecesAndKeepsTheImageId) {
  PullStreamParser parser;
  std::string stream =
      "{\"stream\":\"Trying to pull 198.18.0.101:5000/web:1...\\n\"}\n"
      "{\"stream\":\"Getting image source signatures\\n\"}\n"
      "{\"stream\":\"Copying blob sha256:aaa\\n\"}\n"
      "{\"stream\":\"Copying blob sha256:bbb\\n\"}\n"
      "{\"stream\":\"Copying blob sha256:aaa done\\n\"}\n";
  // Fed a byte at a time: lines are joined whatever the pieces.
  for (char c : stream) {
    parser.feed(std::string_view(&c, 1));
  }
  EXPECT_EQ(parser.summary(), "copying layers: 1 of 2 done");
  EXPECT_TRUE(parser.feed("{\"stream\":\"Copying config sha256:ccc\\n\"}\n"));
  EXPECT_EQ(parser.summary(), "copying config (2 layers)");
  EXPECT_TRUE(parser.feed("{\"stream\":\"Writing manifest to image destination\\n\"}\n"));
  EXPECT_EQ(parser.summary(), "writing manifest");
  EXPECT_FALSE(parser.feed("{\"stream\":\"Writing manifest to image destination\\n\"}\n"))
      << "an unchanged summary is not news";
  parser.feed("{\"images\":[\"abc\"],\"id\":\"abc123\"}");
  EXPECT_TRUE(parser.imageId().empty()) << "no newline yet";
  parser.finish();
  EXPECT_EQ(parser.imageId(), "abc123");
  EXPECT_EQ(parser.summary(), "done");
  EXPECT_TRUE(parser.error().empty());
}

TEST(PullStreamParserTest, KeepsTheRegistrysWordsAndSurvivesGarbage) {
  PullStreamParser parser;
  parser.feed("not json\n[1,2]\n{\"stream\":42}\n");
  parser.feed(std::string(kMaxPullLine + 10, 'x'));
  parser.feed("{\"error\":\"never seen: inside an overlong line\"}\n");
  EXPECT_TRUE(parser.error().empty()) << "the overlong line is skipped whole";
  parser.feed(
      "{\"error\":\"initializing source docker://198.18.0.101:5000/web:nosuch: reading manifest "
      "nosuch in 198.18.0.101:5000/web: manifest unknown: manifest unknown\\n\"}\n");
  EXPECT_EQ(parser.error(),
            "initializing source docker://198.18.0.101:5000/web:nosuch: reading manifest nosuch "
            "in 198.18.0.101:5000/web: manifest unknown: manifest unknown");
  EXPECT_TRUE(parser.imageId().empty());
  PullStreamParser big;
  big.feed("{\"error\":\"" + std::string(10000, 'e') + "\"}\n");
  EXPECT_EQ(big.error().size(), kMaxPullError);
}

TEST(PullErrorSummaryTest, PutsTheCauseBeforePodmansChainOfContexts) {
  std::string chain =
      "initializing source docker://198.18.0.101:5000/web:1: pinging container registry "
      "198.18.0.101:5000: Get \"http://198.18.0.101:5000/v2/\": dial tcp 198.18.0.101:5000: "
      "connect: connection refused";
  EXPECT_EQ(pullErrorSummary(chain), "connection refused (" + chain + ")");
  EXPECT_EQ(pullErrorSummary("reading manifest x in r/web: manifest unknown: manifest unknown\n"),
            "manifest unknown (reading manifest x in r/web: manifest unknown: manifest unknown)");
  EXPECT_EQ(pullErrorSummary("no chain here"), "no chain here");
  EXPECT_EQ(pullErrorSummary("ends with a separator: "), "ends with a separator:");
  EXPECT_EQ(pullErrorSummary(""), "");
}

TEST(PullErrorKindTest, ClassifiesByTheRegistrysWords) {
  EXPECT_EQ(pullErrorKind("reading manifest x in r/web: manifest unknown: manifest unknown"),
            ErrorKind::NotFound);
  EXPECT_EQ(pullErrorKind("repository r/web not found: name unknown"), ErrorKind::NotFound);
  EXPECT_EQ(pullErrorKind("reading manifest 1 in docker.io/x/y: requested access to the "
                          "resource is denied"),
            ErrorKind::Unauthenticated);
  EXPECT_EQ(pullErrorKind("unauthorized: authentication required"), ErrorKind::Unauthenticated);
  EXPECT_EQ(pullErrorKind("pinging container registry 198.18.0.9:5000: Get "
                          "\"https://198.18.0.9:5000/v2/\": dial tcp 198.18.0.9:5000: connect: "
                          "connection refused"),
            ErrorKind::Unavailable);
  EXPECT_EQ(pullErrorKind("dial tcp: connect: no route to host"), ErrorKind::Unavailable);
}

TEST(ContainerCreateBodyTest, CarriesTheImageFields) {
  ContainerSpec spec;
  spec.name = "t1";
  spec.image = "198.18.0.101:5000/web@sha256:" + std::string(64, 'a');
  spec.entrypoint = {"/bin/sh", "-c"};
  spec.command = {"echo hi"};
  spec.workdir = "/srv";
  spec.user = "1000:1000";
  spec.readOnly = true;
  spec.init = true;
  spec.stopSignal = SIGQUIT;
  spec.volumes = {{"data", "/data", false}, {"", "/cache", true}};
  auto body = nlohmann::json::parse(containerCreateBody(spec));
  EXPECT_EQ(body["image"], spec.image);
  EXPECT_EQ(body["entrypoint"], nlohmann::json({"/bin/sh", "-c"}));
  EXPECT_EQ(body["command"], nlohmann::json({"echo hi"}));
  EXPECT_EQ(body["work_dir"], "/srv");
  EXPECT_EQ(body["user"], "1000:1000");
  EXPECT_EQ(body["read_only_filesystem"], true);
  EXPECT_EQ(body["init"], true);
  EXPECT_EQ(body["stop_signal"], SIGQUIT);
  EXPECT_EQ(body["volumes"][0]["Name"], "data");
  EXPECT_EQ(body["volumes"][0]["Dest"], "/data");
  EXPECT_EQ(body["volumes"][0]["Options"][0], "rw");
  EXPECT_EQ(body["volumes"][1]["Name"], "");
  EXPECT_EQ(body["volumes"][1]["Options"][0], "ro");
  EXPECT_FALSE(body.contains("stop_timeout"));
}

TEST(ContainerCreateBodyTest, LeavesTheImagesDefaultsAlone) {
  ContainerSpec spec;
  spec.name = "t1";
  spec.image = "localhost/bb:1";
  auto body = nlohmann::json::parse(containerCreateBody(spec));
  for (const char* field : {"entrypoint", "command", "work_dir", "user", "stop_signal"}) {
    EXPECT_FALSE(body.contains(field)) << field;
  }
  EXPECT_EQ(body["read_only_filesystem"], false);
  EXPECT_EQ(body["init"], false);
}

TEST(SignalNumberTest, NamesWithOrWithoutSigAndNumbers) {
  EXPECT_EQ(signalNumberOf("SIGTERM"), SIGTERM);
  EXPECT_EQ(signalNumberOf("QUIT"), SIGQUIT);
  EXPECT_EQ(signalNumberOf("SIGUSR1"), SIGUSR1);
  EXPECT_EQ(signalNumberOf("9"), 9);
  for (const char* bad : {"", "SIG", "SIGNOPE", "sigterm", "0", "999", "1x"}) {
    EXPECT_EQ(signalNumberOf(bad), 0) << bad;
  }
}

TEST(PodmanServiceArgvTest, KeepsEverythingUnderTheNodesDirectory) {
  auto argv = podmanServiceArgv("/usr/bin/podman", "/var/lib/overmesh/podman");
  std::string joined;
  for (const auto& arg : argv) {
    joined += arg + " ";
  }
  EXPECT_EQ(joined,
            "/usr/bin/podman --root /var/lib/overmesh/podman/storage --runroot "
            "/var/lib/overmesh/podman/run --tmpdir /var/lib/overmesh/podman/tmp "
            "--network-config-dir /var/lib/overmesh/podman/networks "
            "--cgroup-manager cgroupfs --runtime runc --events-backend file system service "
            "--time 0 unix:///var/lib/overmesh/podman/podman.sock ");
}

TEST(PodmanRunRootTest, StaysWithinPodmansFiftyCharacters) {
  EXPECT_EQ(podmanRunRoot("/var/lib/overmesh/podman"), "/var/lib/overmesh/podman/run");
  std::string deep = "/tmp/overmesh-test-abcdef/lab1234/h1/state/podman";
  std::string root = podmanRunRoot(deep);
  EXPECT_LE(root.size(), kMaxPodmanRunRoot);
  EXPECT_TRUE(root.starts_with(std::string(kShortRunRootParent) + "/")) << root;
  EXPECT_EQ(root, podmanRunRoot(deep)) << "the same directory, the same run root";
  EXPECT_NE(root, podmanRunRoot(deep + "2")) << "one per node directory";
}

}  // namespace
}  // namespace overmesh::runtime::podman
