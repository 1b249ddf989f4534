#pragma once

// A manager's cluster API in a unit test, without TLS: a swarm initialised on a SQLite
// store in a scratch directory, the manager's pki/ written there (NodePki, with the CA key
// and both tokens, as the daemon writes it), and ClusterApi's routes called through
// HttpServer::dispatch with the identity a TLS listener would have verified. Joins prove
// addresses through a FakeProver.

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_api.h"
#include "manager/cluster_manager.h"
#include "manager/join_address.h"
#include "manager/node_manager.h"
#include "manager/task_manager.h"
#include "security/node_pki.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/manager_join.h"
#include "support/scratch.h"

namespace overmesh::testing {

// Answers every proof request with `answer` (or Unavailable when empty), counting calls.
class FakeProver final : public manager::AddressProver {
 public:
  Result<std::string> readProof(const std::string& address, std::uint16_t port,
                                std::chrono::milliseconds) override {
    ++calls;
    lastAddress = address;
    lastPort = port;
    if (!answer) {
      return errorf(ErrorKind::Unavailable, "connection refused");
    }
    return *answer;
  }

  std::optional<std::string> answer;
  int calls = 0;
  std::string lastAddress;
  std::uint16_t lastPort = 0;
};

// What a join answered: the node, its key and certificate, and the identity its TLS
// connections would carry.
struct JoinedNode {
  std::string id;
  std::string keyPem;
  std::string certPem;
  api::PeerIdentity identity;
};

class ManagerClusterTest : public ::testing::Test {
 protected:
  static constexpr const char* kManagerAddress = "198.18.0.1";

  void SetUp() override {
    store_ = must(store::SqliteStore::open((dir_.path() / "store.db").string(), clock_));
    manager::ClusterManager clusters(*store_);
    api::SwarmInitRequest request = initRequest();
    init_ = must(clusters.init(
        request, {"manager", kManagerAddress, std::string(kManagerAddress) + ":2377"}));
    const manager::InitPki& files = init_.pki;
    pki_ = must(security::NodePki::create(dir_.path().string(), files.ca.certPem, files.nodeKeyPem,
                                          files.nodeCertPem));
    must(pki_->saveCaKey(files.ca.keyPem));
    must(pki_->saveToken("worker", files.workerToken));
    must(pki_->saveToken("manager", files.managerToken));
    nodes_ = std::make_unique<manager::NodeManager>(*store_, clock_, init_.node.id);
    must(nodes_->load());
    tasks_ = std::make_unique<manager::TaskManager>(*store_);
    api_ = std::make_unique<manager::ClusterApi>(*store_, *nodes_, *tasks_, *pki_);
    auto prover = std::make_unique<FakeProver>();
    prover_ = prover.get();
    api_->setAddressProver(std::move(prover));
    api_->registerRoutes(server_);
  }

  // The init's request; a test of a cluster on a shared store (etcd) overrides it: the
  // store stays SQLite, the cluster record says etcd (what the rules look at).
  virtual api::SwarmInitRequest initRequest() const {
    api::SwarmInitRequest request;
    request.nodeTimeoutMs = 3000;
    return request;
  }

  void TearDown() override {
    if (store_) {
      store_->close();
    }
  }

  // A request as the cluster listener hands it over: from `peer`, with `identity`.
  api::HttpResponse call(const std::string& method, const std::string& path,
                         const std::string& body, std::optional<api::PeerIdentity> identity,
                         const std::string& peer = "198.18.0.9") {
    api::HttpRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.peer = peer;
    request.identity = std::move(identity);
    return server_.dispatch(request);
  }

  // A join connection's identity: no certificate.
  static api::PeerIdentity joinConnection(const std::string& address) {
    api::PeerIdentity none;
    none.address = address;
    none.join = true;  // as the TLS listener marks a connection without a certificate
    return none;
  }

  // POSTs a join as the daemon would; the answer's error otherwise.
  Result<JoinedNode> join(const TestJoin& joining, const std::string& peer) {
    nlohmann::json body = {{"token", joining.request.token},
                           {"hostname", joining.request.hostname},
                           {"address", joining.request.address},
                           {"csr", joining.request.csr},
                           {"advertiseAddrGiven", joining.request.advertiseAddrGiven},
                           {"addressProof", joining.request.addressProof},
                           {"proofPort", joining.request.proofPort}};
    auto response = call("POST", api::kJoinPath, body.dump(), joinConnection(peer), peer);
    if (!api::isSuccess(response)) {
      return std::unexpected(api::errorFromResponse(response));
    }
    auto json = nlohmann::json::parse(response.body);
    JoinedNode node;
    node.id = json["node"]["id"];
    node.keyPem = joining.keyPem;
    node.certPem = json["certificate"];
    auto info = must(security::inspectCertificate(node.certPem));
    node.identity =
        api::PeerIdentity{info.identity.nodeId, info.identity.role, info.identity.clusterId,
                          info.serial,          info.notAfter,      joining.request.address};
    return node;
  }

  // Joins `hostname` from `address` with the worker token.
  Result<JoinedNode> joinWorker(const std::string& hostname,
                                const std::string& address = "198.18.0.9") {
    return join(joinRequestFor(init_.pki.workerToken, hostname, address), address);
  }

  int heartbeat(const std::optional<api::PeerIdentity>& identity) {
    return call("POST", api::kHeartbeatPath, "{}", identity).status;
  }

  std::string stateOf(const std::string& nodeId) {
    auto record = store_->get(state::keys::node(nodeId));
    if (!record || !*record) {
      return "missing";
    }
    return decodeJson<api::Node>((*record)->value, "node")->state;
  }

  ManualClock clock_;
  ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  manager::InitResult init_;
  std::unique_ptr<security::NodePki> pki_;
  std::unique_ptr<manager::NodeManager> nodes_;
  std::unique_ptr<manager::TaskManager> tasks_;
  std::unique_ptr<manager::ClusterApi> api_;
  FakeProver* prover_ = nullptr;
  api::HttpServer server_;
};

}  // namespace overmesh::testing
