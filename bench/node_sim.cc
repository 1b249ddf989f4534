// node_sim: one process that plays N agents against a real manager in a lab, to measure
// the manager at scale (issue 13). Each simulated node has its own underlay address, key,
// CSR, join (worker token) and certificate, and then does what a real agent does on the
// cluster port over mutual TLS 1.3: a heartbeat every node timeout / 3
// (agent/heartbeat_loop.cc) and a watch long-poll (GET kWatchPath?from=&waitMs=20000,
// agent/state_sync.cc). One thread drives every transfer through curl_multi_socket_action
// and one epoll, so that a wake-up costs what is ready, not what is open
// (curl_multi_perform walks every transfer); the nodes are spread over many small libcurl
// multi handles (libcurl finds a request's connection by scanning its handle's cache of
// connections to the same host: with 2,000 in one handle every request cost O(nodes)).
// Heartbeats and watch restarts come from a queue ordered by time. At 1,000 nodes the
// simulator with one handle and curl_multi_perform was the bottleneck of what it measured. The main
// thread runs the phases and reads the clocks.
//
// Phases and what is printed:
//   join      N joins, at most --join-parallel at once: total time (keys are made before).
//   steady    --steady-seconds of heartbeats and idle watches: the manager's CPU (% of one
//             core, /proc/PID/stat utime+stime), RSS (VmRSS) and thread count.
//   fan-out   `network create` on the manager's local socket -> each node's watch delivers
//             the network's key: p50 / p99 / max over the N nodes.
//   liveness  --silent nodes stop heartbeating (their watches stay): time from each one's
//             last heartbeat until a watch shows it down, against the node timeout.
// The last line is "RESULT key=value ..." for bench/node_sim.sh.
//
// Where it runs: in a lab client namespace (`lab up --hosts 1 --clients 1`; `lab exec c1
// -- node_sim --lab NAME --run-dir DIR --nodes N`). It adds N addresses 198.19.x.y/32 to
// the client's eth0 and an on-link route 198.19.0.0/16 in the manager host's namespace
// (netlink, both inside the lab), and removes them at the end. Root is needed for that.
// The manager's cluster port accepts non-members (joins come from them); its filter
// admits each node's later connections from the address it joined with.

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_client.h"
#include "api/tls.h"
#include "api/tls_client_setup.h"
#include "common/ip.h"
#include "common/json.h"
#include "dataplane/linux/netlink.h"
#include "lab/lab.h"
#include "security/join_token.h"
#include "security/pki.h"
#include "state/keys.h"
#include "store/wire.h"

namespace {

using namespace overmesh;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

struct Settings {
  std::string lab = "omsim";
  std::string runDir = lab::kDefaultRunDir;
  int nodes = 100;
  int joinParallel = 16;
  int steadySeconds = 30;
  int silent = 10;
  int fanoutRounds = 5;
};

constexpr std::size_t kMaxBody = 16 * 1024 * 1024;
constexpr std::chrono::milliseconds kLongPoll{20'000};

// Simulated node i's underlay address: 198.19.<i / 250>.<1 + i % 250>.
std::string simAddress(int index) {
  return fmt::format("198.19.{}.{}", index / 250, 1 + index % 250);
}

// ---- the manager's process, read from /proc --------------------------------------------

struct ProcSample {
  double cpuSeconds = 0;  // utime + stime
  double rssMiB = 0;
  int threads = 0;
};

std::optional<ProcSample> sampleProcess(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) {
    return std::nullopt;
  }
  // Fields after the command name (which may hold spaces) start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> values;
  for (std::string value; fields >> value;) {
    values.push_back(value);
  }
  if (values.size() < 13) {
    return std::nullopt;
  }
  ProcSample sample;
  double ticks = std::stod(values[11]) + std::stod(values[12]);  // utime, stime
  sample.cpuSeconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      sample.rssMiB = std::stod(line.substr(6)) / 1024.0;
    } else if (line.starts_with("Threads:")) {
      sample.threads = std::stoi(line.substr(8));
    }
  }
  return sample;
}

// ---- one simulated node ----------------------------------------------------------------

enum class Kind { Join, Heartbeat, Watch };

struct Node;

// A node's TLS credentials parsed once. libcurl makes a new SSL_CTX for every connection and
// would parse the PEM blobs into it each time; OpenSSL 3 decodes a private key slowly
// (~1 ms), and at 1,000 nodes the simulator's own reconnections then took its one thread,
// and its late heartbeats made the manager mark live nodes down: the simulator measured
// itself. The manager sees the same handshake either way.
struct ParsedTls {
  std::vector<X509*> cas;
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  bool joinAlpn = false;

  ParsedTls() = default;
  ParsedTls(const ParsedTls&) = delete;
  ParsedTls& operator=(const ParsedTls&) = delete;
  ~ParsedTls() {
    for (X509* ca : cas) {
      X509_free(ca);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
  }

  static std::unique_ptr<ParsedTls> parse(const api::TlsClientConfig& config) {
    auto parsed = std::make_unique<ParsedTls>();
    parsed->joinAlpn = config.joinAlpn;
    BIO* cas = BIO_new_mem_buf(config.caPem.data(), static_cast<int>(config.caPem.size()));
    while (X509* ca = PEM_read_bio_X509(cas, nullptr, nullptr, nullptr)) {
      parsed->cas.push_back(ca);
    }
    BIO_free(cas);
    if (!config.certPem.empty()) {
      BIO* cert = BIO_new_mem_buf(config.certPem.data(), static_cast<int>(config.certPem.size()));
      parsed->cert = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr);
      BIO_free(cert);
      BIO* key = BIO_new_mem_buf(config.keyPem.data(), static_cast<int>(config.keyPem.size()));
      parsed->key = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
      BIO_free(key);
      if (parsed->cert == nullptr || parsed->key == nullptr) {
        return nullptr;
      }
    }
    return parsed->cas.empty() ? nullptr : std::move(parsed);
  }
};

// libcurl's SSL_CTX callback for the simulator: TLS 1.3, our ALPN, the cluster CA as the
// only trust anchor (a store of its own replaces whatever libcurl loaded) and the node's
// certificate, all from the parsed credentials.
CURLcode setupSimContext(CURL* /*curl*/, void* sslContext, void* data) {
  const auto* parsed = static_cast<const ParsedTls*>(data);
  auto* ctx = static_cast<SSL_CTX*>(sslContext);
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  std::string_view protocol =
      parsed->joinAlpn ? api::kJoinAlpn : api::kClusterAlpn;  // as api/tls_client_setup.cc
  std::string wire(1, static_cast<char>(protocol.size()));
  wire.append(protocol);
  if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size())) != 0) {
    return CURLE_SSL_CONNECT_ERROR;
  }
  X509_STORE* store = X509_STORE_new();
  for (X509* ca : parsed->cas) {
    X509_STORE_add_cert(store, ca);
  }
  SSL_CTX_set_cert_store(ctx, store);  // takes the store
  if (parsed->cert != nullptr && (SSL_CTX_use_certificate(ctx, parsed->cert) != 1 ||
                                  SSL_CTX_use_PrivateKey(ctx, parsed->key) != 1)) {
    return CURLE_SSL_CERTPROBLEM;
  }
  return CURLE_OK;
}

// One libcurl transfer of a node, reused for each request of its kind (so that it keeps
// its connection, as the agent's clients do).
struct Transfer {
  CURL* easy = nullptr;
  Node* node = nullptr;
  Kind kind = Kind::Heartbeat;
  std::string body;
  bool active = false;
  Clock::time_point started;
  curl_slist* headers = nullptr;
  std::unique_ptr<api::TlsCurlOptions> keep;
  std::unique_ptr<ParsedTls> parsedTls;

  ~Transfer() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
  }
};

struct Node {
  int index = 0;
  std::string address;
  std::string keyPem;
  std::string csr;
  std::string id;
  // Read by libcurl's SSL_CTX callback while a transfer made with it lives: the join's
  // (no certificate) and the node's own, each kept as long as the node.
  std::shared_ptr<api::TlsClientConfig> joinTls;
  std::shared_ptr<api::TlsClientConfig> tls;
  std::string baseUrl;
  std::unique_ptr<Transfer> join;
  std::unique_ptr<Transfer> heartbeat;
  std::unique_ptr<Transfer> watch;
  // Driver thread only:
  bool joined = false;
  bool joinFailed = false;
  int joinAttempts = 0;
  bool joinRetryable = false;
  Clock::time_point joinDue;  // a retried join waits until then
  store::Revision watchFrom = 0;
  std::string lastError;
  std::atomic<std::uint64_t> watchAnswers{0};
  // Shared with the main thread:
  std::atomic<bool> silent{false};
  std::atomic<std::int64_t> lastHeartbeatNs{0};  // when the last heartbeat was sent
  std::atomic<std::int64_t> networkSeenNs{0};    // when its watch delivered the probe
  std::atomic<std::uint64_t> heartbeatFailures{0};
  std::atomic<std::uint64_t> watchFailures{0};
};

std::int64_t nanosOf(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}
Clock::time_point timeOf(std::int64_t nanos) {
  return Clock::time_point(std::chrono::nanoseconds(nanos));
}

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* sink) {
  auto* body = static_cast<std::string*>(sink);
  if (body->size() + size * count > kMaxBody) {
    return 0;  // an answer this large is not the protocol's: abort the transfer
  }
  body->append(data, size * count);
  return size * count;
}

// ---- the simulator -------------------------------------------------------------------

// Nodes per libcurl multi handle (see the top of the file).
constexpr int kNodesPerShard = 8;

// One libcurl multi handle and the timer it asked for. Its sockets are in the simulator's
// epoll with the shard's index in the event data.
struct Shard {
  CURLM* multi = nullptr;
  std::uint32_t index = 0;
  int epoll = -1;
  std::optional<Clock::time_point> timer;  // when libcurl wants CURL_SOCKET_TIMEOUT
};

class Simulator {
 public:
  Simulator(std::string endpoint, std::string caPem, std::string token)
      : endpoint_(std::move(endpoint)), caPem_(std::move(caPem)), token_(std::move(token)) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Simulator() {
    stopDriver();
    for (auto& node : nodes_) {
      for (Transfer* transfer : {node->join.get(), node->heartbeat.get(), node->watch.get()}) {
        if (transfer != nullptr && transfer->active) {
          curl_multi_remove_handle(shardOf(*node).multi, transfer->easy);
        }
      }
    }
    nodes_.clear();
    for (auto& shard : shards_) {
      curl_multi_cleanup(shard->multi);
    }
    if (epoll_ >= 0) {
      close(epoll_);
    }
  }

  // Makes the nodes' keys and CSRs (what each real node does on its own before it joins).
  Status prepare(int count) {
    for (int i = 0; i < count; ++i) {
      auto node = std::make_unique<Node>();
      node->index = i;
      node->address = simAddress(i);
      auto key = security::generateKey();
      if (!key) {
        return std::unexpected(key.error());
      }
      auto csr = security::makeCsr(key->privateKeyPem, fmt::format("sim-{}", i));
      if (!csr) {
        return std::unexpected(csr.error());
      }
      node->keyPem = key->privateKeyPem;
      node->csr = *csr;
      nodes_.push_back(std::move(node));
    }
    for (int first = 0; first < count; first += kNodesPerShard) {
      auto shard = std::make_unique<Shard>();
      shard->multi = curl_multi_init();
      shard->index = static_cast<std::uint32_t>(shards_.size());
      shard->epoll = epoll_;
      curl_multi_setopt(shard->multi, CURLMOPT_SOCKETFUNCTION, &Simulator::onSocket);
      curl_multi_setopt(shard->multi, CURLMOPT_SOCKETDATA, shard.get());
      curl_multi_setopt(shard->multi, CURLMOPT_TIMERFUNCTION, &Simulator::onTimer);
      curl_multi_setopt(shard->multi, CURLMOPT_TIMERDATA, shard.get());
      // Two long-lived connections per node, plus joins.
      curl_multi_setopt(shard->multi, CURLMOPT_MAXCONNECTS, static_cast<long>(kNodesPerShard * 3));
      shards_.push_back(std::move(shard));
    }
    return {};
  }

  // Joins every node, at most `parallel` at once, on the calling thread; nodes start
  // heartbeating as soon as they are joined (they would be marked down otherwise).
  Status joinAll(int parallel) {
    std::size_t next = 0;
    std::size_t done = 0;
    int inFlight = 0;
    std::vector<Node*> retry;  // joins to send again (503, or a refused connection)
    while (done < nodes_.size()) {
      auto now = Clock::now();
      for (auto it = retry.begin(); it != retry.end() && inFlight < parallel;) {
        if (now < (*it)->joinDue) {
          ++it;
          continue;
        }
        if (auto started = startJoin(**it); !started) {
          return started;
        }
        ++inFlight;
        it = retry.erase(it);
      }
      while (inFlight < parallel && next < nodes_.size()) {
        if (auto started = startJoin(*nodes_[next]); !started) {
          return started;
        }
        ++next;
        ++inFlight;
      }
      for (Node* finished : pump(std::chrono::milliseconds(5))) {
        --inFlight;
        if (finished->joinFailed && finished->joinRetryable && finished->joinAttempts < 20) {
          // What an operator's script does on "retry": again, a little later.
          finished->joinFailed = false;
          finished->joinDue = Clock::now() + std::chrono::milliseconds(20 * finished->joinAttempts);
          ++joinRetries_;
          retry.push_back(finished);
          continue;
        }
        ++done;
        if (finished->joinFailed) {
          return errorf(ErrorKind::Unavailable, "node {} ({}) could not join after {} attempts: {}",
                        finished->index, finished->address, finished->joinAttempts,
                        finished->lastError);
        }
        if (latestFrom_ == 0) {
          if (auto base = snapshotRevision(*finished); !base) {
            return std::unexpected(base.error());
          } else {
            latestFrom_ = *base + 1;
          }
        }
      }
    }
    return {};
  }

  // Starts the driver thread: heartbeats continue and every node watches from `from`.
  void startDriver() {
    driver_ = std::thread([this] {
      // Thread: the one driver of every node's transfers until stopDriver().
      while (!stopping_.load()) {
        pump(std::chrono::milliseconds(5));
      }
    });
  }

  void stopDriver() {
    stopping_ = true;
    if (driver_.joinable()) {
      driver_.join();
    }
  }

  // The fan-out probe: watches deliver `name` from now on; returns when set.
  void setProbe(std::string name) {
    std::lock_guard lock(probeMutex_);
    probe_ = std::move(name);
  }

  // Marks the last `count` nodes silent and returns them.
  std::vector<Node*> silence(int count) {
    std::vector<Node*> silenced;
    for (int i = 0; i < count && i < static_cast<int>(nodes_.size()); ++i) {
      Node* node = nodes_[nodes_.size() - 1 - i].get();
      node->silent = true;
      std::lock_guard lock(probeMutex_);
      silentIds_.insert({node->id, 0});
      silenced.push_back(node);
    }
    return silenced;
  }

  // When a watch first showed node `id` down (0: not yet).
  std::int64_t downSeen(const std::string& id) {
    std::lock_guard lock(probeMutex_);
    auto it = silentIds_.find(id);
    return it == silentIds_.end() ? 0 : it->second;
  }

  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }
  // The revision of a snapshot taken with `node`'s certificate (GET kSnapshotPath).
  Result<store::Revision> snapshotRevision(const Node& node) {
    auto client = api::HttpClient::create("tcp://" + endpoint_, node.tls);
    if (!client) {
      return std::unexpected(client.error());
    }
    auto snapshot = (*client)->request("GET", api::kSnapshotPath, "", std::chrono::seconds(30));
    if (!snapshot) {
      return std::unexpected(snapshot.error().withContext("snapshot"));
    }
    if (!api::isSuccess(*snapshot)) {
      return std::unexpected(api::errorFromResponse(*snapshot).withContext("snapshot"));
    }
    store::Revision revision = 0;
    auto read = decodeFields(snapshot->body, "snapshot", [&](const nlohmann::json& json) {
      requireField(json, "revision", revision);
    });
    if (!read) {
      return std::unexpected(read.error());
    }
    return revision;
  }

  // Joins answered 503 and sent again.
  int joinRetries() const { return joinRetries_; }
  // Requests finished, and how many of them opened a new connection (a TLS handshake).
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t newConnections() const { return newConnections_.load(); }
  // The cluster's node timeout, from the join answers.
  std::chrono::milliseconds nodeTimeout() const { return nodeTimeout_; }

 private:
  Transfer& makeTransfer(Node& node, std::unique_ptr<Transfer>& slot, Kind kind,
                         const std::string& path, const std::string& postBody,
                         std::chrono::milliseconds timeout) {
    if (!slot) {
      slot = std::make_unique<Transfer>();
      slot->easy = curl_easy_init();
      slot->node = &node;
      slot->kind = kind;
      slot->keep = std::make_unique<api::TlsCurlOptions>();
      const api::TlsClientConfig& tls = kind == Kind::Join ? *node.joinTls : *node.tls;
      auto target = api::tlsTarget("tcp://" + endpoint_, tls);
      node.baseUrl = target ? target->baseUrl : "";
      CURL* easy = slot->easy;
      curl_easy_setopt(easy, CURLOPT_PRIVATE, slot.get());
      curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
      curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &appendBody);
      curl_easy_setopt(easy, CURLOPT_WRITEDATA, &slot->body);
      if (target) {
        api::applyTlsOptions(easy, tls, target->connectTo, *slot->keep);
        // The same checks from credentials parsed once (ParsedTls): no PEM for libcurl.
        slot->parsedTls = ParsedTls::parse(tls);
        if (slot->parsedTls) {
          curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, nullptr);
          curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, nullptr);
          curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, nullptr);
          curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &setupSimContext);
          curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, slot->parsedTls.get());
        }
      }
      slot->headers = curl_slist_append(nullptr, "Content-Type: application/json");
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, slot->headers);
    }
    Transfer& transfer = *slot;
    std::string url = node.baseUrl + path;
    curl_easy_setopt(transfer.easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(transfer.easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    if (kind == Kind::Watch) {
      curl_easy_setopt(transfer.easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(transfer.easy, CURLOPT_COPYPOSTFIELDS, postBody.c_str());
    }
    return transfer;
  }

  void launch(Transfer& transfer) {
    transfer.body.clear();
    transfer.started = Clock::now();
    transfer.active = true;
    curl_multi_add_handle(shardOf(*transfer.node).multi, transfer.easy);
  }

  Status startJoin(Node& node) {
    ++node.joinAttempts;
    if (!node.joinTls) {  // a retry reuses the transfer, which points at this config
      node.joinTls = std::make_shared<api::TlsClientConfig>();
      node.joinTls->caPem = caPem_;
      node.joinTls->serverName = std::string(security::kManagerServerName);
      node.joinTls->joinAlpn = true;
      node.joinTls->sourceAddress = node.address;
    }
    nlohmann::json body = {{"token", token_},
                           {"hostname", fmt::format("sim-{}", node.index)},
                           {"address", node.address},
                           {"underlayPrefix", ""},
                           {"gatewaySubnet", ""},
                           {"csr", node.csr},
                           {"advertiseAddrGiven", false}};
    auto& transfer = makeTransfer(node, node.join, Kind::Join, api::kJoinPath, dumpJson(body),
                                  std::chrono::seconds(30));
    if (node.baseUrl.empty()) {
      return errorf(ErrorKind::InvalidArgument, "no TLS target for {}", endpoint_);
    }
    launch(transfer);
    return {};
  }

  // Starts what is due, waits up to `wait` for sockets or libcurl's timer, and hands each
  // ready socket to libcurl. Returns the nodes whose join finished.
  std::vector<Node*> pump(std::chrono::milliseconds wait) {
    std::vector<Node*> joined;
    auto now = Clock::now();
    startDue(now);
    auto until = now + wait;
    if (!due_.empty()) {
      until = std::min(until, due_.top().at);
    }
    for (const auto& shard : shards_) {
      if (shard->timer) {
        until = std::min(until, *shard->timer);
      }
    }
    auto waitMs = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    std::array<epoll_event, 256> events{};
    int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                           static_cast<int>(std::max<std::int64_t>(waitMs, 0)));
    int running = 0;
    for (int i = 0; i < ready; ++i) {
      int mask = 0;
      if ((events[i].events & EPOLLIN) != 0) {
        mask |= CURL_CSELECT_IN;
      }
      if ((events[i].events & EPOLLOUT) != 0) {
        mask |= CURL_CSELECT_OUT;
      }
      if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0) {
        mask |= CURL_CSELECT_ERR;
      }
      Shard& shard = *shards_.at(events[i].data.u64 >> 32);
      auto fd = static_cast<curl_socket_t>(events[i].data.u64 & 0xffffffffu);
      curl_multi_socket_action(shard.multi, fd, mask, &running);
      collect(shard, joined);  // per socket: each answer is stamped when it is read
    }
    now = Clock::now();
    for (auto& shard : shards_) {
      if (shard->timer && now >= *shard->timer) {
        shard->timer.reset();
        curl_multi_socket_action(shard->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        collect(*shard, joined);
      }
    }
    return joined;
  }

  // Heartbeats and watches whose time has come. Pump thread only.
  void startDue(Clock::time_point now) {
    while (!due_.empty() && due_.top().at <= now) {
      Due next = due_.top();
      due_.pop();
      Node& node = *next.node;
      if (next.kind == Kind::Heartbeat) {
        if (node.silent.load()) {
          continue;  // a silent node never speaks again
        }
        if (node.heartbeat && node.heartbeat->active) {
          due_.push({now + std::chrono::milliseconds(10), &node, Kind::Heartbeat});
          continue;  // the last one is still in flight: send when it ends, as the agent does
        }
        auto& transfer = makeTransfer(node, node.heartbeat, Kind::Heartbeat, api::kHeartbeatPath,
                                      "{}", heartbeatInterval_ * 2);
        node.lastHeartbeatNs = nanosOf(now);
        launch(transfer);
        due_.push({now + heartbeatInterval_, &node, Kind::Heartbeat});
      } else if (next.kind == Kind::Watch) {
        if (latestFrom_ == 0) {
          due_.push({now + std::chrono::milliseconds(5), &node, Kind::Watch});
          continue;  // no snapshot revision to start from yet
        }
        if (node.watch && node.watch->active) {
          continue;
        }
        if (node.watchFrom == 0) {
          // A node that just joined starts where the others are, as an agent that just took
          // its snapshot would.
          node.watchFrom = latestFrom_;
        }
        auto path =
            fmt::format("{}?from={}&waitMs={}", api::kWatchPath, node.watchFrom, kLongPoll.count());
        auto& transfer = makeTransfer(node, node.watch, Kind::Watch, path, "",
                                      kLongPoll + std::chrono::seconds(10));
        launch(transfer);
      }
    }
  }

  Shard& shardOf(const Node& node) { return *shards_.at(node.index / kNodesPerShard); }

  // Hands every finished transfer of `shard` to finished(). Pump thread only.
  void collect(Shard& shard, std::vector<Node*>& joined) {
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(shard.multi, &queued)) {
      if (message->msg != CURLMSG_DONE) {
        continue;
      }
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      CURLcode code = message->data.result;
      curl_multi_remove_handle(shard.multi, message->easy_handle);
      transfer->active = false;
      long status = 0;
      curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      finished(*transfer, code, status);
      if (transfer->kind == Kind::Join) {
        joined.push_back(transfer->node);
      }
    }
  }

  // libcurl: watch `fd` for `what` (or stop watching it).
  static int onSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* data, void* /*assigned*/) {
    auto* shard = static_cast<Shard*>(data);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(shard->epoll, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event event{};
    event.data.u64 = (std::uint64_t{shard->index} << 32) | static_cast<std::uint32_t>(fd);
    event.events =
        ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
    // A descriptor libcurl closed and got again may still be registered, or not yet.
    if (epoll_ctl(shard->epoll, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT) {
      epoll_ctl(shard->epoll, EPOLL_CTL_ADD, fd, &event);
    }
    return 0;
  }

  // libcurl: call socket_action(CURL_SOCKET_TIMEOUT) in `timeoutMs` (-1: no timer).
  static int onTimer(CURLM* /*multi*/, long timeoutMs, void* data) {
    auto* shard = static_cast<Shard*>(data);
    if (timeoutMs < 0) {
      shard->timer.reset();
    } else {
      shard->timer = Clock::now() + std::chrono::milliseconds(timeoutMs);
    }
    return 0;
  }

  void finished(Transfer& transfer, CURLcode code, long status) {
    Node& node = *transfer.node;
    auto now = Clock::now();
    long connects = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_NUM_CONNECTS, &connects);
    if (connects > 0) {
      newConnections_.fetch_add(1, std::memory_order_relaxed);
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    std::string error;
    if (code != CURLE_OK) {
      error = curl_easy_strerror(code);
    } else if (status != 200) {
      error = fmt::format(
          "HTTP {}: {}", status,
          api::errorFromResponse(api::HttpResponse{static_cast<int>(status), transfer.body})
              .message);
    }
    switch (transfer.kind) {
      case Kind::Join:
        if (error.empty()) {
          joinAnswer(node, transfer.body, error);
        }
        if (!error.empty()) {
          node.joinFailed = true;
          // 503: a concurrent join moved the guard; a refused connection: the manager's
          // cap on connections still handshaking (joins and new members) was full.
          node.joinRetryable = status == 503 || code != CURLE_OK;
          node.lastError = error;
        }
        break;
      case Kind::Heartbeat:
        if (!error.empty()) {
          ++node.heartbeatFailures;
          node.lastError = "heartbeat: " + error;
        }
        break;
      case Kind::Watch:
        if (!error.empty() || !watchAnswer(node, transfer.body, now)) {
          ++node.watchFailures;
          node.lastError = "watch: " + (error.empty() ? "malformed answer" : error);
          due_.push({now + std::chrono::seconds(1), &node, Kind::Watch});
        } else {
          ++node.watchAnswers;
          due_.push({now, &node, Kind::Watch});
        }
        break;
    }
  }

  void joinAnswer(Node& node, const std::string& body, std::string& error) {
    std::string certPem;
    std::int64_t timeoutMs = 0;
    auto read = decodeFields(body, "join answer", [&](const nlohmann::json& json) {
      requireField(json.at("node"), "id", node.id);
      requireField(json, "certificate", certPem);
      requireField(json, "nodeTimeoutMs", timeoutMs);
    });
    if (!read) {
      error = read.error().message;
      return;
    }
    if (timeoutMs >= 300 && timeoutMs <= 3'600'000) {
      // The agent's rule (agent/heartbeat_loop.cc heartbeatInterval).
      nodeTimeout_ = std::chrono::milliseconds(timeoutMs);
      heartbeatInterval_ = std::max(nodeTimeout_ / 3, std::chrono::milliseconds(100));
    }
    // From now on the node speaks with its own certificate, on new connections.
    auto tls = std::make_shared<api::TlsClientConfig>();
    tls->caPem = caPem_;
    tls->serverName = std::string(security::kManagerServerName);
    tls->certPem = certPem;
    tls->keyPem = node.keyPem;
    tls->sourceAddress = node.address;
    node.tls = std::move(tls);
    node.joined = true;
    due_.push({Clock::now(), &node, Kind::Heartbeat});
    due_.push({Clock::now(), &node, Kind::Watch});
  }

  // Reads one watch answer: moves the node's revision on, notes the probe network and
  // silent nodes going down. False when the answer cannot be read.
  bool watchAnswer(Node& node, const std::string& body, Clock::time_point now) {
    store::WatchResult result;
    try {
      result = store::watchResultFromJson(nlohmann::json::parse(body));
    } catch (const std::exception&) {
      return false;
    }
    node.watchFrom = std::max(node.watchFrom, result.nextRevision);
    latestFrom_ = std::max(latestFrom_, result.nextRevision);
    std::lock_guard lock(probeMutex_);
    for (const auto& event : result.events) {
      const std::string& key = event.kv.key;
      if (!probe_.empty() && key.starts_with(state::keys::kNetworks) &&
          event.kv.value.find("\"" + probe_ + "\"") != std::string::npos &&
          node.networkSeenNs.load() == 0) {
        node.networkSeenNs = nanosOf(now);
      } else if (!silentIds_.empty() && key.starts_with(state::keys::kNodes) &&
                 event.type == store::Event::Type::Put) {
        auto id = key.substr(state::keys::kNodes.size());
        auto it = silentIds_.find(id);
        if (it != silentIds_.end() && it->second == 0 &&
            event.kv.value.find("\"state\":\"down\"") != std::string::npos) {
          it->second = nanosOf(now);
        }
      }
    }
    return true;
  }

  std::string endpoint_;
  std::string caPem_;
  std::string token_;
  int epoll_ = -1;
  std::vector<std::unique_ptr<Shard>> shards_;  // made by prepare(); pump thread after
  // A node's next heartbeat or watch start. Pump thread only.
  struct Due {
    Clock::time_point at;
    Node* node = nullptr;
    Kind kind = Kind::Heartbeat;
    bool operator>(const Due& other) const { return at > other.at; }
  };
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::vector<std::unique_ptr<Node>> nodes_;
  int joinRetries_ = 0;
  std::chrono::milliseconds nodeTimeout_{3000};        // driver thread, then read-only
  std::chrono::milliseconds heartbeatInterval_{1000};  // driver thread, then read-only
  // Where a newly joined node starts watching: one past the first node's snapshot, then
  // the newest revision any watch answered. Pump thread only.
  store::Revision latestFrom_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> newConnections_{0};
  std::thread driver_;
  std::mutex probeMutex_;
  std::string probe_;                              // guarded by probeMutex_
  std::map<std::string, std::int64_t> silentIds_;  // guarded by probeMutex_
};

// ---- the lab side ----------------------------------------------------------------------

// The addresses and route the simulator adds, removed again when it ends.
class SimUnderlay {
 public:
  static Result<std::unique_ptr<SimUnderlay>> create(int count, const std::string& managerNs) {
    auto local = dataplane::kernel::Netlink::open("");
    if (!local) {
      return std::unexpected(local.error());
    }
    auto manager = dataplane::kernel::Netlink::open(managerNs);
    if (!manager) {
      return std::unexpected(manager.error());
    }
    auto underlay =
        std::unique_ptr<SimUnderlay>(new SimUnderlay(std::move(*local), std::move(*manager)));
    auto route = Ipv4Prefix::parse("198.19.0.0/16");
    if (auto added = underlay->manager_.addRoute(*route, std::nullopt, "eth0"); !added) {
      return std::unexpected(added.error().withContext("route to the simulated nodes"));
    }
    underlay->routeAdded_ = true;
    for (int i = 0; i < count; ++i) {
      auto address = Ipv4Prefix::parse(simAddress(i) + "/32");
      if (auto added = underlay->local_.addAddress("eth0", *address); !added) {
        return std::unexpected(added.error().withContext("address of a simulated node"));
      }
      underlay->addresses_.push_back(*address);
    }
    return underlay;
  }

  ~SimUnderlay() {
    for (const auto& address : addresses_) {
      (void)local_.deleteAddress("eth0", address);
    }
    if (routeAdded_) {
      (void)manager_.deleteRoute(*Ipv4Prefix::parse("198.19.0.0/16"));
    }
  }

 private:
  SimUnderlay(dataplane::kernel::Netlink local, dataplane::kernel::Netlink manager)
      : local_(std::move(local)), manager_(std::move(manager)) {}

  dataplane::kernel::Netlink local_;
  dataplane::kernel::Netlink manager_;
  std::vector<Ipv4Prefix> addresses_;
  bool routeAdded_ = false;
};

Result<std::string> localCall(const std::string& socket, const std::string& method,
                              const std::string& path, const std::string& body) {
  auto client = api::HttpClient::create("unix://" + socket);
  if (!client) {
    return std::unexpected(client.error());
  }
  auto response = (*client)->request(method, path, body, std::chrono::seconds(30));
  if (!response) {
    return std::unexpected(response.error());
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  return response->body;
}

Result<std::string> fetchCa(const std::string& endpoint, const std::string& sourceAddress,
                            const std::string& fingerprint) {
  auto tls = std::make_shared<api::TlsClientConfig>();
  tls->joinAlpn = true;
  tls->skipServerVerification = true;
  tls->sourceAddress = sourceAddress;
  auto client = api::HttpClient::create("tcp://" + endpoint, tls);
  if (!client) {
    return std::unexpected(client.error());
  }
  auto response = (*client)->request("GET", api::kCaPath, "", std::chrono::seconds(10));
  if (!response || !api::isSuccess(*response)) {
    return errorf(ErrorKind::Unavailable, "GET {} on {} failed: {}", api::kCaPath, endpoint,
                  response ? api::errorFromResponse(*response).message : response.error().message);
  }
  std::string caPem;
  auto read = decodeFields(response->body, "CA answer", [&](const nlohmann::json& json) {
    requireField(json, "certificate", caPem);
  });
  if (!read) {
    return std::unexpected(read.error());
  }
  auto got = security::certificateFingerprint(caPem);
  if (!got || *got != fingerprint) {
    return errorf(ErrorKind::Unauthenticated, "the manager's CA does not match the token");
  }
  return caPem;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

int run(const Settings& settings) {
  // Two connections per node and a few more: lift the descriptor limit to its hard cap.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::ifstream recordFile(settings.runDir + "/" + settings.lab + "/lab.json");
  if (!recordFile) {
    fmt::print(stderr,
               "node_sim: no lab {} under {}: run `overmesh lab up --hosts 1 --clients 1`\n",
               settings.lab, settings.runDir);
    return 1;
  }
  lab::LabRecord record;
  try {
    record = nlohmann::json::parse(recordFile).get<lab::LabRecord>();
  } catch (const std::exception& error) {
    fmt::print(stderr, "node_sim: lab.json: {}\n", error.what());
    return 1;
  }
  const lab::LabHost& manager = record.hosts.at(0);
  const std::string endpoint = record.managerAddress;

  auto fail = [](std::string_view what, const Error& error) {
    fmt::print(stderr, "node_sim: {}: {}\n", what, error.message);
    return 1;
  };
  auto tokenBody = localCall(manager.socketPath, "GET", "/v1/swarm/join-token?role=worker", "");
  if (!tokenBody) {
    return fail("join token", tokenBody.error());
  }
  std::string token = nlohmann::json::parse(*tokenBody).at("token").get<std::string>();
  auto parsed = security::parseJoinToken(token);
  if (!parsed) {
    return fail("join token", parsed.error());
  }

  auto underlay = SimUnderlay::create(settings.nodes, manager.namespaceName);
  if (!underlay) {
    return fail("simulated addresses", underlay.error());
  }
  auto caPem = fetchCa(endpoint, simAddress(0), parsed->caFingerprint);
  if (!caPem) {
    return fail("cluster CA", caPem.error());
  }

  Simulator sim(endpoint, *caPem, token);
  auto keysStart = Clock::now();
  if (auto prepared = sim.prepare(settings.nodes); !prepared) {
    return fail("keys", prepared.error());
  }
  double keysMs = Millis(Clock::now() - keysStart).count();

  auto before = sampleProcess(manager.pid);
  auto joinStart = Clock::now();
  if (auto joined = sim.joinAll(settings.joinParallel); !joined) {
    return fail("join", joined.error());
  }
  double joinSeconds = std::chrono::duration<double>(Clock::now() - joinStart).count();
  const std::chrono::milliseconds nodeTimeout = sim.nodeTimeout();
  fmt::print(
      "join: {} nodes in {:.2f} s ({:.1f} ms each, {} at once, {} retried (503 or refused); "
      "keys made before in {:.0f} ms)\n",
      settings.nodes, joinSeconds, joinSeconds * 1000 / settings.nodes, settings.joinParallel,
      sim.joinRetries(), keysMs);

  sim.startDriver();

  // Steady state: let every node settle on its two connections, then measure.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto simStart = sampleProcess(getpid());
  auto steadyStart = sampleProcess(manager.pid);
  auto requestsStart = sim.requests();
  auto connectionsStart = sim.newConnections();
  auto steadyClock = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(settings.steadySeconds));
  auto steadyEnd = sampleProcess(manager.pid);
  auto simEnd = sampleProcess(getpid());
  auto steadyRequests = sim.requests() - requestsStart;
  auto steadyConnections = sim.newConnections() - connectionsStart;
  double steadySeconds = std::chrono::duration<double>(Clock::now() - steadyClock).count();
  if (!steadyStart || !steadyEnd) {
    fmt::print(stderr, "node_sim: cannot read /proc/{} (the manager)\n", manager.pid);
    return 1;
  }
  double cpuPercent = (steadyEnd->cpuSeconds - steadyStart->cpuSeconds) / steadySeconds * 100;
  std::uint64_t heartbeatFailures = 0;
  std::uint64_t watchFailures = 0;
  for (auto& node : sim.nodes()) {
    heartbeatFailures += node->heartbeatFailures.load();
    watchFailures += node->watchFailures.load();
  }
  double simPercent =
      simStart && simEnd ? (simEnd->cpuSeconds - simStart->cpuSeconds) / steadySeconds * 100 : 0;
  fmt::print(
      "steady ({:.0f} s): manager CPU {:.1f} % of one core, RSS {:.1f} MiB, {} threads; "
      "heartbeat failures {}, watch failures {} (the simulator itself: CPU {:.1f} %)\n",
      steadySeconds, cpuPercent, steadyEnd->rssMiB, steadyEnd->threads, heartbeatFailures,
      watchFailures, simPercent);
  fmt::print("  requests answered: {:.0f}/s, of which {} opened a new connection\n",
             static_cast<double>(steadyRequests) / steadySeconds, steadyConnections);
  if (before) {
    fmt::print("  (manager before the joins: RSS {:.1f} MiB, {} threads)\n", before->rssMiB,
               before->threads);
  }

  // Fan-out: network create on the manager's local socket -> every node's watch, a few
  // rounds a second apart: one round is one sample of the manager's state (a burst of
  // watch deadlines, a heartbeat wave), so the figures are the median round's.
  struct Round {
    double createMs = 0;
    std::size_t seen = 0;
    double p50 = 0;
    double p99 = 0;
    double max = 0;
  };
  std::vector<Round> rounds;
  for (int round = 0; round < settings.fanoutRounds; ++round) {
    if (round > 0) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    std::string probe = fmt::format("simnet-{}-{}", getpid(), round);
    sim.setProbe(probe);  // first: a late answer of the last round cannot match the new name
    for (auto& node : sim.nodes()) {
      node->networkSeenNs = 0;
    }
    auto createStart = Clock::now();
    auto created = localCall(manager.socketPath, "POST", "/v1/networks",
                             dumpJson({{"name", probe}, {"driver", "overlay"}}));
    if (!created) {
      return fail("network create", created.error());
    }
    Round result;
    result.createMs = Millis(Clock::now() - createStart).count();
    auto fanoutDeadline = Clock::now() + std::chrono::seconds(10);
    std::vector<double> fanout;
    while (Clock::now() < fanoutDeadline) {
      fanout.clear();
      for (auto& node : sim.nodes()) {
        if (auto seen = node->networkSeenNs.load(); seen != 0) {
          fanout.push_back(Millis(timeOf(seen) - createStart).count());
        }
      }
      if (fanout.size() == sim.nodes().size()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    result.seen = fanout.size();
    result.p50 = percentile(fanout, 50);
    result.p99 = percentile(fanout, 99);
    result.max = fanout.empty() ? 0 : *std::max_element(fanout.begin(), fanout.end());
    fmt::print(
        "fan-out {}: network create (answered in {:.1f} ms) seen by {}/{} nodes: p50 {:.1f} ms, "
        "p99 {:.1f} ms, max {:.1f} ms\n",
        round + 1, result.createMs, result.seen, sim.nodes().size(), result.p50, result.p99,
        result.max);
    rounds.push_back(result);
  }
  // The round with the median p99 gives the figures; the max is the worst of all rounds.
  std::vector<Round> byP99 = rounds;
  std::sort(byP99.begin(), byP99.end(),
            [](const Round& a, const Round& b) { return a.p99 < b.p99; });
  const Round& median = byP99[byP99.size() / 2];
  double p50 = median.p50;
  double p99 = median.p99;
  double fanMax = 0;
  std::size_t fanSeenMin = sim.nodes().size();
  for (const Round& round : rounds) {
    fanMax = std::max(fanMax, round.max);
    fanSeenMin = std::min(fanSeenMin, round.seen);
  }
  fmt::print("fan-out (median of {} rounds): p50 {:.1f} ms, p99 {:.1f} ms; worst max {:.1f} ms\n",
             rounds.size(), p50, p99, fanMax);

  // Liveness: some nodes stop heartbeating; their watches stay open.
  auto silenced = sim.silence(settings.silent);
  auto silenceStart = Clock::now();
  auto liveDeadline = silenceStart + nodeTimeout * 3 + std::chrono::seconds(2);
  std::vector<double> detection;
  while (Clock::now() < liveDeadline) {
    detection.clear();
    for (Node* node : silenced) {
      if (auto seen = sim.downSeen(node->id); seen != 0) {
        detection.push_back(Millis(timeOf(seen) - timeOf(node->lastHeartbeatNs.load())).count());
      }
    }
    if (detection.size() == silenced.size()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double detectMax = detection.empty() ? 0 : *std::max_element(detection.begin(), detection.end());
  double detectSinceSilence = Millis(Clock::now() - silenceStart).count();
  fmt::print(
      "liveness: {}/{} silent nodes seen down; from last heartbeat: max {:.0f} ms "
      "(node timeout {} ms, target <= {} ms); {:.0f} ms after they went silent\n",
      detection.size(), silenced.size(), detectMax, nodeTimeout.count(), nodeTimeout.count() + 300,
      detectSinceSilence);
  sim.stopDriver();

  // What went wrong, when something did: the distinct last errors (a few).
  std::map<std::string, int> errors;
  std::uint64_t watchAnswers = 0;
  for (auto& node : sim.nodes()) {
    watchAnswers += node->watchAnswers.load();
    if (!node->lastError.empty()) {
      ++errors[node->lastError];
    }
  }
  fmt::print("watch answers received: {}\n", watchAnswers);
  int shown = 0;
  for (const auto& [message, count] : errors) {
    if (shown++ < 5) {
      fmt::print("  last error of {} nodes: {}\n", count, message);
    }
  }
  bool complete = fanSeenMin == sim.nodes().size() && detection.size() == silenced.size();
  fmt::print(
      "RESULT nodes={} join_s={:.2f} cpu_pct={:.1f} rss_mib={:.1f} threads={} fanout_p50_ms={:.1f} "
      "fanout_p99_ms={:.1f} fanout_max_ms={:.1f} fanout_seen={} detect_max_ms={:.0f} "
      "timeout_ms={} hb_failures={} watch_failures={} join_retries={} complete={}\n",
      settings.nodes, joinSeconds, cpuPercent, steadyEnd->rssMiB, steadyEnd->threads, p50, p99,
      fanMax, fanSeenMin, detectMax, nodeTimeout.count(), heartbeatFailures, watchFailures,
      sim.joinRetries(), complete ? 1 : 0);
  return complete ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{"node_sim: N simulated agents against a lab's manager"};
  app.add_option("--lab", settings.lab, "lab name (lab up --name)");
  app.add_option("--run-dir", settings.runDir, "lab run directory (lab up --run-dir)");
  app.add_option("--nodes", settings.nodes, "simulated nodes")->check(CLI::Range(1, 60000));
  app.add_option("--join-parallel", settings.joinParallel, "joins in flight at once")
      ->check(CLI::Range(1, 60));
  app.add_option("--steady-seconds", settings.steadySeconds, "steady-state measurement")
      ->check(CLI::Range(1, 3600));
  app.add_option("--fanout-rounds", settings.fanoutRounds,
                 "network creates, a second apart; the median round is reported")
      ->check(CLI::Range(1, 50));
  app.add_option("--silent", settings.silent, "nodes that stop heartbeating")
      ->check(CLI::Range(0, 1000));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int status = run(settings);
  curl_global_cleanup();
  return status;
}
