// Registry settings and digest pinning with real daemons and a real registry (Debian's
// docker-registry, the CNCF distribution registry) on host 1's underlay address in a lab:
// `swarm update` on the manager reaches every node's `info` (a worker refuses it: writes
// are made on managers); a service created or updated through the manager's API records
// the digest the registry serves, moves with the tag only when its image is given again,
// and is created unpinned with Docker's warning (carrying the registry's words) when the
// manifest cannot be read.
//
// Run one:  ctest --test-dir BUILD -R RegistryLabTest.   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/http_client.h"
#include "common/secret_hash.h"
#include "support/lab_session.h"
#include "support/netns_process.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr auto kRegistrySettle = std::chrono::seconds(20);
const std::string kRegistry = "198.18.0.1:5000";  // host 1's underlay address

void writeText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Writes blob `bytes` into the OCI layout at `layout`; returns its descriptor fields.
struct Blob {
  std::string digest;
  std::size_t size = 0;
};
Blob addBlob(const std::filesystem::path& layout, const std::string& bytes) {
  Blob blob{"sha256:" + hashSecret(bytes), bytes.size()};
  writeText(layout / "blobs" / "sha256" / blob.digest.substr(7), bytes);
  return blob;
}

// A one-layer OCI image layout at `layout`, tagged "1", whose only file says `content`:
// built by hand so that the test needs no image from anywhere.
void writeImageLayout(const std::filesystem::path& layout, const std::string& content) {
  std::filesystem::remove_all(layout);
  std::filesystem::create_directories(layout / "blobs" / "sha256");
  auto rootfs = layout.parent_path() / "rootfs";
  std::filesystem::remove_all(rootfs);
  std::filesystem::create_directories(rootfs);
  writeText(rootfs / "hello", content);
  auto tar = runCommand({"/usr/bin/tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                         "-C", rootfs.string(), "-cf", (layout / "layer.tar").string(), "hello"});
  ASSERT_EQ(tar.exitCode, 0) << tar.err;
  Blob layer = addBlob(layout, readFile((layout / "layer.tar").string()));
  std::filesystem::remove(layout / "layer.tar");
  Blob config = addBlob(
      layout, fmt::format(R"({{"architecture":"amd64","os":"linux","config":{{"Cmd":["/hello"]}},)"
                          R"("rootfs":{{"type":"layers","diff_ids":["{}"]}}}})",
                          layer.digest));
  std::string manifestText = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
      R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
      config.digest, config.size, layer.digest, layer.size);
  Blob manifest = addBlob(layout, manifestText);
  writeText(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  writeText(layout / "index.json",
            fmt::format(R"({{"schemaVersion":2,"manifests":[{{"mediaType":)"
                        R"("application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},)"
                        R"("annotations":{{"org.opencontainers.image.ref.name":"1"}}}}]}})",
                        manifest.digest, manifest.size));
}

class RegistryLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    if (!std::filesystem::exists("/usr/bin/skopeo") ||
        !std::filesystem::exists("/usr/bin/docker-registry")) {
      GTEST_SKIP() << "needs skopeo and docker-registry (scripts/setup.sh installs them)";
    }
    lab_ = std::make_unique<LabSession>("reg");
    ASSERT_TRUE(lab_->up(2)) << lab_->error();
    auto status =
        nlohmann::json::parse(lab_->lab({"status", "--format", "json"}).out, nullptr, false);
    ASSERT_TRUE(status.is_object()) << "lab status is not JSON";
    for (const auto& host : status["hosts"]) {
      sockets_.push_back(host.value("socket", ""));
    }
    ASSERT_EQ(sockets_.size(), 2u);

    auto storage = dir_.path() + "/registry";
    std::filesystem::create_directories(storage);
    writeText(dir_.path() + "/registry.yml",
              fmt::format("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                          "    rootdirectory: {}\nhttp:\n  addr: {}\n",
                          storage, kRegistry));
    registry_ = spawnInNetns(lab_->hostNamespace(1),
                             {"/usr/bin/docker-registry", "serve", dir_.path() + "/registry.yml"},
                             dir_.path() + "/registry.log");
    ASSERT_GT(registry_, 0);
    ASSERT_TRUE(eventually(
        [&] {
          return runInNetns(lab_->hostNamespace(1),
                            {"/usr/bin/curl", "-sf", "http://" + kRegistry + "/v2/"})
                     .exitCode == 0;
        },
        kRegistrySettle))
        << readFile(dir_.path() + "/registry.log");
  }

  void TearDown() override {
    stopSpawned(registry_);
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs() << readFile(dir_.path() + "/registry.log");
    }
    lab_.reset();
  }

  // Pushes an image whose file says `content` as kRegistry/<repository>:1; returns the
  // digest the registry itself reports for the tag (its Docker-Content-Digest header).
  std::string pushWeb(const std::string& content, const std::string& repository = "web") {
    auto layout = std::filesystem::path(dir_.path()) / "image" / "layout";
    writeImageLayout(layout, content);
    auto pushed =
        runInNetns(lab_->hostNamespace(1), {"/usr/bin/skopeo", "copy", "--dest-tls-verify=false",
                                            "oci:" + layout.string() + ":1",
                                            "docker://" + kRegistry + "/" + repository + ":1"});
    EXPECT_EQ(pushed.exitCode, 0) << pushed.err;
    auto head = runInNetns(
        lab_->hostNamespace(1),
        {"/usr/bin/curl", "-sfI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
         "http://" + kRegistry + "/v2/" + repository + "/manifests/1"});
    EXPECT_EQ(head.exitCode, 0) << head.err;
    for (const auto& line : nonEmptyLines(head.out)) {
      std::string lower = line;
      for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      if (lower.starts_with("docker-content-digest:")) {
        auto value = line.substr(line.find(':') + 1);
        value.erase(0, value.find_first_not_of(' '));
        value.erase(value.find_last_not_of(" \r") + 1);
        return value;
      }
    }
    ADD_FAILURE() << "no Docker-Content-Digest in " << head.out;
    return "";
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };

  Reply call(int host, const std::string& method, const std::string& path,
             const nlohmann::json& body) {
    auto client = api::HttpClient::create("unix://" + sockets_.at(host - 1));
    if (!client) {
      return {0, client.error().message};
    }
    auto response = (*client)->request(method, path, body.dump(), std::chrono::seconds(60), {});
    if (!response) {
      return {0, response.error().message};
    }
    return {response->status, nlohmann::json::parse(response->body, nullptr, false)};
  }

  static nlohmann::json webSpec(const std::string& image) {
    return {{"name", "web"},
            {"replicas", 0},
            {"command", {"sleep", "60"}},
            {"container", {{"image", image}}}};
  }

  std::unique_ptr<LabSession> lab_;
  TempDir dir_;
  std::vector<std::string> sockets_;
  pid_t registry_ = -1;
};

TEST_F(RegistryLabTest, SwarmUpdateOnTheManagerReachesEveryNodesInfoAndAWorkerRefusesIt) {
  // A worker refuses the write with Docker's message (issue 12) and changes nothing.
  auto refused = lab_->cli(2, {"swarm", "update", "--insecure-registry", "198.18.0.1:05000"});
  EXPECT_EQ(refused.exitCode, 1) << refused.out;
  EXPECT_THAT(refused.err,
              HasSubstr("this node is not a swarm manager; run the command on a manager node"));
  EXPECT_THAT(lab_->cli(1, {"info"}).out, Not(HasSubstr("198.18.0.1:5000")));

  auto updated = lab_->cli(1, {"swarm", "update", "--insecure-registry", "198.18.0.1:05000",
                               "--registry-mirror", "http://198.18.0.1:5000/"});
  ASSERT_EQ(updated.exitCode, 0) << updated.err;
  EXPECT_THAT(updated.out, HasSubstr("Insecure registries: 198.18.0.1:5000\n"));
  EXPECT_THAT(updated.out, HasSubstr("Registry mirrors:    http://198.18.0.1:5000\n"));
  for (int host : {1, 2}) {
    EXPECT_TRUE(eventually(
        [&] {
          return lab_->cli(host, {"info"}).out.find("Insecure registries: 198.18.0.1:5000") !=
                 std::string::npos;
        },
        kRegistrySettle))
        << lab_->cli(host, {"info"}).out;
  }

  auto bad = lab_->cli(1, {"swarm", "update", "--registry-mirror", "198.18.0.1:5000"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("--registry-mirror \"198.18.0.1:5000\""));
  auto cleared = lab_->cli(1, {"swarm", "update", "--clear-registry-mirrors"});
  ASSERT_EQ(cleared.exitCode, 0) << cleared.err;
  EXPECT_THAT(cleared.out, HasSubstr("Registry mirrors:    (none)"));
  EXPECT_THAT(cleared.out, HasSubstr("Insecure registries: 198.18.0.1:5000"));
}

TEST_F(RegistryLabTest, ServicesArePinnedToTheRegistrysDigestAndMoveOnlyWhenTheImageIsGiven) {
  std::string first = pushWeb("one");
  ASSERT_THAT(first, StartsWith("sha256:"));
  ASSERT_EQ(lab_->cli(1, {"swarm", "update", "--insecure-registry", kRegistry}).exitCode, 0);

  // On the manager (writes are made there), which asks the registry.
  auto created = call(1, "POST", "/v1/services", webSpec(kRegistry + "/web:1"));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["spec"]["container"].value("image", ""), kRegistry + "/web:1@" + first);
  EXPECT_EQ(created.body["warnings"], nlohmann::json::array());

  // The tag moves; a scale keeps the pinned image, giving the image again re-pins.
  std::string second = pushWeb("two");
  ASSERT_NE(second, first);
  nlohmann::json scale = {{"spec", created.body["spec"]},
                          {"updateIndex", created.body["updateIndex"]}};
  scale["spec"]["replicas"] = 0;
  auto scaled = call(1, "POST", "/v1/services/web/update", scale);
  ASSERT_EQ(scaled.status, 200) << scaled.body.dump();
  EXPECT_EQ(scaled.body["spec"]["container"].value("image", ""), kRegistry + "/web:1@" + first);

  nlohmann::json again = {{"spec", scaled.body["spec"]},
                          {"updateIndex", scaled.body["updateIndex"]}};
  again["spec"]["container"]["image"] = kRegistry + "/web:1";
  auto moved = call(1, "POST", "/v1/services/web/update", again);
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["spec"]["container"].value("image", ""), kRegistry + "/web:1@" + second);

  // --no-resolve-image: the query reaches the update.
  nlohmann::json unpinned = {{"spec", moved.body["spec"]},
                             {"updateIndex", moved.body["updateIndex"]}};
  unpinned["spec"]["container"]["image"] = kRegistry + "/web:2";
  auto kept = call(1, "POST", "/v1/services/web/update?noResolveImage=true", unpinned);
  ASSERT_EQ(kept.status, 200) << kept.body.dump();
  EXPECT_EQ(kept.body["spec"]["container"].value("image", ""), kRegistry + "/web:2");
  EXPECT_EQ(kept.body["warnings"], nlohmann::json::array());
}

TEST_F(RegistryLabTest, DockerHubNamesArePinnedThroughTheMirror) {
  std::string digest = pushWeb("mirrored", "library/web");
  ASSERT_THAT(digest, StartsWith("sha256:"));
  ASSERT_EQ(lab_->cli(1, {"swarm", "update", "--registry-mirror", "http://" + kRegistry}).exitCode,
            0);
  auto created = call(1, "POST", "/v1/services", webSpec("web:1"));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["spec"]["container"].value("image", ""),
            "docker.io/library/web:1@" + digest);
  EXPECT_EQ(created.body["warnings"], nlohmann::json::array());
}

TEST_F(RegistryLabTest, AnImageThatCannotBeReadIsStoredUnpinnedWithTheRegistrysWords) {
  pushWeb("one");
  ASSERT_EQ(lab_->cli(1, {"swarm", "update", "--insecure-registry", kRegistry}).exitCode, 0);
  auto missing = call(1, "POST", "/v1/services", webSpec(kRegistry + "/missing:1"));
  ASSERT_EQ(missing.status, 201) << missing.body.dump();
  EXPECT_EQ(missing.body["spec"]["container"].value("image", ""), kRegistry + "/missing:1");
  ASSERT_EQ(missing.body["warnings"].size(), 1u) << missing.body.dump();
  std::string warning = missing.body["warnings"][0].get<std::string>();
  EXPECT_THAT(warning, StartsWith("image " + kRegistry +
                                  "/missing:1 could not be accessed on a registry to record its "
                                  "digest."));
  EXPECT_THAT(warning, HasSubstr("manifest unknown"));

  // Not declared insecure any more: skopeo insists on TLS and says why it failed.
  ASSERT_EQ(lab_->cli(1, {"swarm", "update", "--clear-insecure-registries"}).exitCode, 0);
  nlohmann::json other = webSpec(kRegistry + "/web:1");
  other["name"] = "web2";
  auto tls = call(1, "POST", "/v1/services", other);
  ASSERT_EQ(tls.status, 201) << tls.body.dump();
  EXPECT_EQ(tls.body["spec"]["container"].value("image", ""), kRegistry + "/web:1");
  ASSERT_EQ(tls.body["warnings"].size(), 1u);
  EXPECT_THAT(tls.body["warnings"][0].get<std::string>(), HasSubstr("HTTP response to HTTPS"));
}

}  // namespace
}  // namespace overmesh::testing
