#pragma once

// Real etcd members for tests: 1 or 3 `etcd` processes (Debian's etcd-server, 3.4) started
// as children, each with its own data directory, client and peer URLs, waited for until
// the cluster answers /health, and SIGKILLed and removed when the EtcdCluster goes away
// (also when the test failed: RAII; the members also die with the test process, through
// PR_SET_PDEATHSIG).
//
// By default the members listen on 127.0.0.1 on free ports (never 2379/2380, which a
// system etcd may hold). The lab reuses this with `addresses` (one underlay address per
// member, fixed ports) and `wrapCommand` (e.g. to prefix `ip netns exec NS`).
//
// No root needed for the default. A missing /usr/bin/etcd is a failure, not a skip: the
// constructor throws saying to run scripts/setup.sh (CI installs it; a skip would hide
// a broken CI).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace overmesh::testing {

inline constexpr const char* kEtcdBinary = "/usr/bin/etcd";

struct EtcdClusterOptions {
  std::size_t members = 1;
  // One address per member to bind instead of 127.0.0.1 (then clientPort and peerPort
  // are used on each). Empty: 127.0.0.1, free ports.
  std::vector<std::string> addresses;
  int clientPort = 2379;
  int peerPort = 2380;
  // Returns the command that runs member `index` given etcd's own argv (argv[0] =
  // /usr/bin/etcd), e.g. {"/usr/sbin/ip", "netns", "exec", NS, argv...}. Empty: as is.
  std::function<std::vector<std::string>(std::size_t index, std::vector<std::string> argv)>
      wrapCommand;
  // Where the data directories go (<dataRoot>/member<N>); empty: a fresh temp directory,
  // removed at the end.
  std::string dataRoot;
  // Raft timing: short, so a test's cluster elects a leader in well under a second, but
  // not so short that a loaded 2-core machine makes it flap. etcd's minimum lease TTL is
  // 1.5 election timeouts (rounded up to whole seconds: 1 s here).
  std::chrono::milliseconds heartbeat{50};
  std::chrono::milliseconds electionTimeout{500};
  std::chrono::seconds startTimeout{30};
  // Client TLS: when caFile is set, members serve https with serverCert/serverKey and
  // require client certificates signed by caFile (--client-cert-auth); the cluster's own
  // health checks and post() use clientCert/clientKey. Peers stay plain HTTP.
  struct Tls {
    std::string caFile;
    std::string serverCert;
    std::string serverKey;
    std::string clientCert;
    std::string clientKey;
  } tls;
  // Whether the member at `endpoint` is up. Empty: GET http://endpoint/health from this
  // process answers 200 (a lab whose members are in namespaces passes its own check).
  std::function<bool(const std::string& endpoint)> healthy;
};

class EtcdCluster {
 public:
  // Starts every member and waits until each answers /health. Throws std::runtime_error
  // naming what failed (and the member's log) otherwise.
  explicit EtcdCluster(EtcdClusterOptions options = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::size_t size() const { return members_.size(); }
  // Client endpoints "HOST:PORT", in member order.
  std::vector<std::string> endpoints() const;
  const std::string& endpoint(std::size_t index) const { return members_[index].client; }
  // "etcd://h:p,h:p" for --store.
  std::string storeUrl() const;

  // SIGKILLs member `index` (a crash) and reaps it.
  void kill(std::size_t index);
  // Starts a killed member again on its data directory and waits for its /health.
  void restart(std::size_t index);
  pid_t pid(std::size_t index) const { return members_[index].pid; }
  // POSTs `body` to `path` of member `index`'s JSON gateway and returns the answer's body
  // (empty on a transport error): for tests to observe etcd beside the store.
  std::string post(std::size_t index, const std::string& path, const std::string& body) const;
  // The member's stdout and stderr so far.
  std::string log(std::size_t index) const;

 private:
  struct Member {
    std::string name;
    std::string address;
    int clientPort = 0;
    int peerPort = 0;
    std::string client;  // address:clientPort
    std::string dataDir;
    std::string logPath;
    pid_t pid = -1;
  };
  void start(std::size_t index, bool fresh);
  void waitHealthy(std::size_t index);
  std::vector<std::string> argvOf(std::size_t index, bool fresh) const;

  EtcdClusterOptions options_;
  std::string root_;
  bool ownRoot_ = false;
  std::string initialCluster_;
  std::vector<Member> members_;
};

// True when /usr/bin/etcd exists and can run. Tests that need etcd call requireEtcd().
bool etcdInstalled();

}  // namespace overmesh::testing
