#include "security/node_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "security/join_token.h"
#include "support/pki_fixtures.h"

namespace overmesh::security {
namespace {

namespace fs = std::filesystem;
using testing::issueTestNode;
using testing::must;
using testing::ScratchDir;
using testing::TestNodeCredentials;

constexpr const char* kNodeCluster = "clusterA";

mode_t modeOf(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

std::string fileContent(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class NodePkiTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodePki> createNode() {
    return must(NodePki::create(stateDir(), ca_.certPem, node_.keyPem, node_.certPem));
  }
  std::string stateDir() const { return scratch_.path().string(); }
  fs::path pkiDir() const { return scratch_.path() / "pki"; }

  ScratchDir scratch_;
  CaMaterial ca_ = must(createCa(kNodeCluster, std::chrono::system_clock::now()));
  TestNodeCredentials node_ = issueTestNode(ca_, "node1", "worker", kNodeCluster);
};

TEST_F(NodePkiTest, CreateWritesPrivateFilesAndLoadReadsThemBack) {
  auto created = createNode();
  EXPECT_EQ(created->directory(), pkiDir().string());
  EXPECT_EQ(modeOf(pkiDir()), 0700u);
  for (const char* file : {"ca.pem", "node.key", "node.pem"}) {
    EXPECT_EQ(modeOf(pkiDir() / file), 0600u) << file;
  }
  EXPECT_EQ(fileContent(pkiDir() / "node.key"), node_.keyPem);
  EXPECT_FALSE(fs::exists(pkiDir() / "node.key.prev"));

  auto loaded = must(NodePki::load(stateDir()));
  auto credentials = loaded->current();
  ASSERT_NE(credentials, nullptr);
  EXPECT_EQ(credentials->caCertPem, ca_.certPem);
  EXPECT_EQ(credentials->certPem, node_.certPem);
  EXPECT_EQ(credentials->keyPem, node_.keyPem);
  EXPECT_EQ(credentials->cert.identity.nodeId, "node1");
  EXPECT_EQ(credentials->cert.identity.role, "worker");
}

TEST_F(NodePkiTest, LoadOfANodeThatNeverJoinedIsNotFound) {
  auto result = NodePki::load(stateDir());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::NotFound);
}

TEST_F(NodePkiTest, CreateTightensAnExistingDirectoryToOwnerOnly) {
  fs::create_directory(pkiDir());
  fs::permissions(pkiDir(), fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  createNode();
  EXPECT_EQ(modeOf(pkiDir()), 0700u);
}

TEST_F(NodePkiTest, CreateRefusesAKeyOfAnotherCertificateAndWritesNothing) {
  auto result =
      NodePki::create(stateDir(), ca_.certPem, must(generateKey()).privateKeyPem, node_.certPem);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_FALSE(fs::exists(pkiDir()));
}

TEST_F(NodePkiTest, CreateRefusesACertificateOfAnotherCa) {
  CaMaterial other = must(createCa("other", std::chrono::system_clock::now()));
  auto foreign = issueTestNode(other, "node1", "worker", "other");
  auto result = NodePki::create(stateDir(), ca_.certPem, foreign.keyPem, foreign.certPem);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_FALSE(fs::exists(pkiDir()));
}

TEST_F(NodePkiTest, ReplaceSwapsTheSnapshotAndTheFiles) {
  auto pki = createNode();
  auto before = pki->current();
  auto renewed = issueTestNode(ca_, "node1", "worker", kNodeCluster);
  must(pki->replace(renewed.keyPem, renewed.certPem));

  auto after = pki->current();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->certPem, renewed.certPem);
  EXPECT_EQ(before->certPem, node_.certPem);  // an old snapshot stays whole
  EXPECT_EQ(fileContent(pkiDir() / "node.pem"), renewed.certPem);
  EXPECT_EQ(fileContent(pkiDir() / "node.key"), renewed.keyPem);
  EXPECT_EQ(modeOf(pkiDir() / "node.key"), 0600u);
  EXPECT_FALSE(fs::exists(pkiDir() / "node.key.prev"));
  EXPECT_EQ(must(NodePki::load(stateDir()))->current()->certPem, renewed.certPem);
}

TEST_F(NodePkiTest, ReplaceRefusesAMismatchedKeyOrAnotherNodeAndKeepsTheOldPair) {
  auto pki = createNode();
  auto before = pki->current();
  auto renewed = issueTestNode(ca_, "node1", "worker", kNodeCluster);
  auto mismatched = pki->replace(node_.keyPem, renewed.certPem);
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().kind, ErrorKind::InvalidArgument);

  auto stranger = issueTestNode(ca_, "node2", "worker", kNodeCluster);
  auto otherNode = pki->replace(stranger.keyPem, stranger.certPem);
  ASSERT_FALSE(otherNode);
  EXPECT_NE(otherNode.error().message.find("node2"), std::string::npos);

  EXPECT_EQ(pki->current(), before);
  EXPECT_EQ(fileContent(pkiDir() / "node.pem"), node_.certPem);
  EXPECT_EQ(fileContent(pkiDir() / "node.key"), node_.keyPem);
}

TEST_F(NodePkiTest, LoadRecoversTheOldPairAfterARenewalStoppedBetweenKeyAndCertificate) {
  createNode();
  // What replace() leaves when it stops after writing the new key.
  writeFile(pkiDir() / "node.key.prev", node_.keyPem);
  writeFile(pkiDir() / "node.key", must(generateKey()).privateKeyPem);

  auto loaded = must(NodePki::load(stateDir()));
  EXPECT_EQ(loaded->current()->keyPem, node_.keyPem);
  EXPECT_EQ(fileContent(pkiDir() / "node.key"), node_.keyPem);
  EXPECT_FALSE(fs::exists(pkiDir() / "node.key.prev"));
}

TEST_F(NodePkiTest, LoadRefusesAKeyThatIsNotTheCertificates) {
  createNode();
  writeFile(pkiDir() / "node.key", must(generateKey()).privateKeyPem);
  auto result = NodePki::load(stateDir());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("node.key is not the key of"), std::string::npos)
      << result.error().message;
}

TEST_F(NodePkiTest, LoadRefusesACertificateTheStoredCaDidNotSign) {
  createNode();
  writeFile(pkiDir() / "ca.pem", must(createCa("other", std::chrono::system_clock::now())).certPem);
  auto result = NodePki::load(stateDir());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("not signed by this cluster's CA"), std::string::npos)
      << result.error().message;
}

TEST_F(NodePkiTest, CaKeyIsSavedOnlyIfItIsTheCas) {
  auto pki = createNode();
  auto missing = pki->caKey();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);

  auto wrong = pki->saveCaKey(must(generateKey()).privateKeyPem);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::InvalidArgument);

  must(pki->saveCaKey(ca_.keyPem));
  EXPECT_EQ(must(pki->caKey()), ca_.keyPem);
  EXPECT_EQ(modeOf(pkiDir() / "ca.key"), 0600u);
}

TEST_F(NodePkiTest, TokensAreKeptPerRole) {
  auto pki = createNode();
  EXPECT_EQ(pki->token("worker").error().kind, ErrorKind::NotFound);
  std::string worker = formatJoinToken({std::string(64, 'a'), must(generateTokenSecret())});
  std::string manager = formatJoinToken({std::string(64, 'a'), must(generateTokenSecret())});
  must(pki->saveToken("worker", worker));
  must(pki->saveToken("manager", manager));
  EXPECT_EQ(must(pki->token("worker")), worker);
  EXPECT_EQ(must(pki->token("manager")), manager);
  EXPECT_EQ(modeOf(pkiDir() / "worker.token"), 0600u);
  EXPECT_EQ(modeOf(pkiDir() / "manager.token"), 0600u);

  EXPECT_EQ(pki->saveToken("admin", worker).error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(pki->token("../node").error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(pki->saveToken("worker", "not a token").error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(pki->token("worker")), worker);
}

TEST_F(NodePkiTest, RemoveDeletesTheDirectoryAndIsIdempotent) {
  auto pki = createNode();
  must(pki->saveCaKey(ca_.keyPem));
  must(NodePki::remove(stateDir()));
  EXPECT_FALSE(fs::exists(pkiDir()));
  must(NodePki::remove(stateDir()));
  EXPECT_EQ(NodePki::load(stateDir()).error().kind, ErrorKind::NotFound);
}

}  // namespace
}  // namespace overmesh::security
