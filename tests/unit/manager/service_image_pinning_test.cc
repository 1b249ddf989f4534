// Registry settings in the cluster (swarm init, swarm update) and image digests pinned by
// ServiceManager at create and update, on a real SQLite store with a fake resolver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/service_manager.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/fake_image_resolver.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kDigest1 = "sha256:" + std::string(64, '1');
const std::string kDigest2 = "sha256:" + std::string(64, '2');

class ServiceImagePinningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    clusters_ = std::make_unique<ClusterManager>(*store_);
    api::SwarmInitRequest init;
    init.registries = {{"198.18.0.101:5000", "198.18.0.101:05000"}, {"http://198.18.0.102:5000/"}};
    auto created = clusters_->init(init, {"h1", "198.18.0.1", "198.18.0.1:2377"});
    ASSERT_TRUE(created) << created.error().message;
    NetworkManager networks(*store_);
    api::NetworkCreateRequest front;
    front.name = "front";
    front.subnet = "10.0.20.0/24";
    ASSERT_TRUE(networks.create(front));
    services_ = std::make_unique<ServiceManager>(*store_, &resolver_);
  }

  void TearDown() override { store_->close(); }

  static api::ServiceSpec spec(std::string image) {
    api::ServiceSpec result;
    result.name = "web";
    result.command = {"httpd", "-f"};
    result.networks.push_back({"front", {}});
    result.container.image = std::move(image);
    return result;
  }

  api::ServiceUpdateRequest updateOf(const api::Service& service, std::string image,
                                     bool force = false) {
    api::ServiceSpec changed = service.spec;
    changed.container.image = std::move(image);
    return {changed, service.updateIndex, force};
  }

  ManualClock clock_;
  overmesh::testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ClusterManager> clusters_;
  overmesh::testing::FakeImageResolver resolver_;
  std::unique_ptr<ServiceManager> services_;
};

TEST_F(ServiceImagePinningTest, SwarmInitStoresTheRegistrySettingsNormalised) {
  auto settings = clusters_->registries();
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(*settings,
            (api::RegistrySettings{{"198.18.0.101:5000"}, {"http://198.18.0.102:5000"}}));
  auto record = store_->get(std::string(state::keys::kRegistries));
  ASSERT_TRUE(record && *record);
}

TEST_F(ServiceImagePinningTest, SwarmInitRefusesBadRegistrySettingsNamingTheFlag) {
  api::SwarmInitRequest init;
  init.registries.registryMirrors = {"198.18.0.102:5000"};
  auto refused = ClusterManager::validateInit(init, {"h2", "198.18.0.2", "198.18.0.2:2377"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("swarm init: --registry-mirror"));
}

TEST_F(ServiceImagePinningTest, SwarmUpdateReplacesAListClearsOneAndKeepsTheOther) {
  api::SwarmUpdateRequest replace;
  replace.insecureRegistries = std::vector<std::string>{"198.18.0.103:5000"};
  auto replaced = clusters_->updateRegistries(replace);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(*replaced,
            (api::RegistrySettings{{"198.18.0.103:5000"}, {"http://198.18.0.102:5000"}}));

  api::SwarmUpdateRequest clear;
  clear.registryMirrors = std::vector<std::string>{};
  ASSERT_TRUE(clusters_->updateRegistries(clear));
  EXPECT_EQ(*clusters_->registries(), (api::RegistrySettings{{"198.18.0.103:5000"}, {}}));
}

TEST_F(ServiceImagePinningTest, ABadSwarmUpdateChangesNothing) {
  auto before = store_->currentRevision();
  api::SwarmUpdateRequest bad;
  bad.insecureRegistries = std::vector<std::string>{"198.18.0.103:5000", "http://x"};
  auto refused = clusters_->updateRegistries(bad);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("swarm update: --insecure-registry \"http://x\""));
  EXPECT_EQ(*store_->currentRevision(), *before);
}

TEST_F(ServiceImagePinningTest, SwarmUpdateWithoutAClusterIsRefused) {
  auto store = store::SqliteStore::open((dir_.path() / "empty.db").string(), clock_);
  ASSERT_TRUE(store);
  ClusterManager empty(**store);
  api::SwarmUpdateRequest request;
  request.insecureRegistries = std::vector<std::string>{"198.18.0.103:5000"};
  auto refused = empty.updateRegistries(request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  (*store)->close();
}

TEST_F(ServiceImagePinningTest, CreatePinsTheImageWithTheClustersSettings) {
  resolver_.answer("198.18.0.101:5000/web:1", kDigest1);
  auto written = services_->create(spec("198.18.0.101:5000/web:1"), {});
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->service.spec.container.image, "198.18.0.101:5000/web:1@" + kDigest1);
  EXPECT_TRUE(written->warnings.empty());
  EXPECT_EQ(resolver_.lastSettings(),
            (api::RegistrySettings{{"198.18.0.101:5000"}, {"http://198.18.0.102:5000"}}));
  auto stored = services_->inspect("web");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->spec.container.image, "198.18.0.101:5000/web:1@" + kDigest1);
}

TEST_F(ServiceImagePinningTest, NoResolveImageStoresTheNormalisedTag) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto written = services_->create(spec("web:1"), {.resolveImage = false});
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->service.spec.container.image, "docker.io/library/web:1");
  EXPECT_TRUE(resolver_.calls().empty());
}

TEST_F(ServiceImagePinningTest, AFailedResolutionCreatesTheServiceUnpinnedWithAWarning) {
  auto written = services_->create(spec("web:1"), {});
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->service.spec.container.image, "docker.io/library/web:1");
  ASSERT_EQ(written->warnings.size(), 1u);
  EXPECT_THAT(written->warnings[0],
              StartsWith("image web:1 could not be accessed on a registry to record its digest"));
  EXPECT_TRUE(services_->inspect("web"));
}

TEST_F(ServiceImagePinningTest, ADigestGivenAtCreateIsKept) {
  auto written = services_->create(spec("198.18.0.101:5000/web:1@" + kDigest2), {});
  ASSERT_TRUE(written);
  EXPECT_EQ(written->service.spec.container.image, "198.18.0.101:5000/web:1@" + kDigest2);
  EXPECT_TRUE(resolver_.calls().empty());
}

TEST_F(ServiceImagePinningTest, ABadSpecIsRefusedBeforeAnyResolution) {
  api::ServiceSpec bad = spec("web:1");
  bad.name = "";
  EXPECT_FALSE(services_->create(bad, {}));
  EXPECT_TRUE(resolver_.calls().empty());
}

TEST_F(ServiceImagePinningTest, UpdateReResolvesANewImageButKeepsAnUnchangedOne) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto created = services_->create(spec("web:1"), {});
  ASSERT_TRUE(created);

  // A scale sends the stored (pinned) image back: kept, not asked again.
  api::ServiceUpdateRequest scale =
      updateOf(created->service, created->service.spec.container.image);
  scale.spec.replicas = 3;
  auto scaled = services_->update("web", scale, {});
  ASSERT_TRUE(scaled) << scaled.error().message;
  EXPECT_EQ(scaled->service.spec.container.image, "docker.io/library/web:1@" + kDigest1);
  EXPECT_EQ(resolver_.calls().size(), 1u);

  // The tag moved in the registry: `--image web:1` again pins the new digest.
  resolver_.answer("docker.io/library/web:1", kDigest2);
  auto moved = services_->update("web", updateOf(scaled->service, "web:1"), {});
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(moved->service.spec.container.image, "docker.io/library/web:1@" + kDigest2);
  EXPECT_EQ(resolver_.calls().size(), 2u);
}

TEST_F(ServiceImagePinningTest, UpdateWithNoResolveImageStoresTheNewTagUnpinned) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  resolver_.answer("docker.io/library/web:2", kDigest2);
  auto created = services_->create(spec("web:1"), {});
  ASSERT_TRUE(created);
  auto updated =
      services_->update("web", updateOf(created->service, "web:2"), {.resolveImage = false});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->service.spec.container.image, "docker.io/library/web:2");
  EXPECT_EQ(resolver_.calls().size(), 1u);
}

TEST_F(ServiceImagePinningTest, ForceKeepsAPinnedImageAndPinsAnUnpinnedOne) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto created = services_->create(spec("web:1"), {});
  ASSERT_TRUE(created);
  resolver_.answer("docker.io/library/web:1", kDigest2);
  auto forced = services_->update(
      "web", updateOf(created->service, created->service.spec.container.image, true), {});
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(forced->service.spec.container.image, "docker.io/library/web:1@" + kDigest1);

  auto unpinned =
      services_->update("web", updateOf(forced->service, "web:1"), {.resolveImage = false});
  ASSERT_TRUE(unpinned);
  ASSERT_EQ(unpinned->service.spec.container.image, "docker.io/library/web:1");
  auto pinned = services_->update(
      "web", updateOf(unpinned->service, unpinned->service.spec.container.image, true), {});
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_EQ(pinned->service.spec.container.image, "docker.io/library/web:1@" + kDigest2);
}

TEST_F(ServiceImagePinningTest, ForceWithTheRegistryDownKeepsTheStoredImageWithAWarning) {
  auto created = services_->create(spec("web:9"), {});
  ASSERT_TRUE(created);
  ASSERT_EQ(created->service.spec.container.image, "docker.io/library/web:9");
  auto forced = services_->update(
      "web", updateOf(created->service, created->service.spec.container.image, true), {});
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(forced->service.spec.container.image, "docker.io/library/web:9");
  ASSERT_EQ(forced->warnings.size(), 1u);
  EXPECT_THAT(forced->warnings[0],
              StartsWith("the service keeps its image docker.io/library/web:9: image web:9 "
                         "could not be accessed"));
}

TEST_F(ServiceImagePinningTest, AFailedResolutionAtUpdateIsAWarningAndTheUpdateGoesThrough) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto created = services_->create(spec("web:1"), {});
  ASSERT_TRUE(created);
  auto updated = services_->update("web", updateOf(created->service, "web:3"), {});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->service.spec.container.image, "docker.io/library/web:3");
  ASSERT_EQ(updated->warnings.size(), 1u);
  EXPECT_THAT(updated->warnings[0], HasSubstr("image web:3 could not be accessed"));
}

TEST_F(ServiceImagePinningTest, AStaleUpdateIndexIsStillAConflictAfterResolution) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  resolver_.answer("docker.io/library/web:2", kDigest2);
  auto created = services_->create(spec("web:1"), {});
  ASSERT_TRUE(created);
  api::ServiceUpdateRequest stale = updateOf(created->service, "web:2");
  stale.updateIndex = created->service.updateIndex + 5;
  auto refused = services_->update("web", stale, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
}

}  // namespace
}  // namespace overmesh::manager
