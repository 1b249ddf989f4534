// Kernel tier: the embedded resolver with real sockets. Each test makes its own namespaces
// ("omdnst<pid>-<n>…"): a task sandbox and a second sandbox on another network (lo up in
// each), a "node" namespace from which the server runs (its forwards leave from there) and
// an "upstream" namespace, joined to the node by a veth on 198.18.99.0/24, where a dnsmasq
// plays the node's resolver. Everything is deleted in TearDown, also when a test fails;
// nothing is ever sent outside these namespaces.

#include "dns/dns_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "support/ip_helpers.h"
#include "support/netns_process.h"
#include "support/scratch.h"

namespace overmesh::dns {
namespace {

using dataplane::kernel::NamespaceSwitch;
using dataplane::kernel::Netlink;
using dataplane::kernel::UniqueFd;
using overmesh::testing::prefix;
using overmesh::testing::runInNetns;
using namespace std::chrono_literals;

constexpr const char* kFrontId = "net-front";
constexpr const char* kBackId = "net-back";
constexpr const char* kDig = "/usr/bin/dig";
constexpr const char* kGetent = "/usr/bin/getent";
constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";
constexpr int kBigService = 60;  // tasks in "big": 60 A records do not fit 512 bytes

struct PacketFree {
  void operator()(ldns_pkt* packet) const { ldns_pkt_free(packet); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketFree>;

std::vector<std::uint8_t> makeQuery(const std::string& name, ldns_rr_type type) {
  Packet packet(
      ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, LDNS_RR_CLASS_IN, LDNS_RD));
  ldns_pkt_set_id(packet.get(), 777);
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, packet.get(), &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> bytes(wire, wire + size);
  std::free(wire);
  return bytes;
}

Packet parsePacket(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* packet = nullptr;
  if (ldns_wire2pkt(&packet, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    return nullptr;
  }
  return Packet(packet);
}

std::vector<std::string> addressesOf(const ldns_pkt* packet) {
  std::vector<std::string> out;
  if (packet == nullptr) {
    return {"(not a DNS message)"};
  }
  ldns_rr_list* answers = ldns_pkt_answer(packet);
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i) {
    char* text = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(answers, i), 0));
    out.emplace_back(text);
    std::free(text);
  }
  std::sort(out.begin(), out.end());
  return out;
}

sockaddr_in resolverAddress() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(53);
  inet_pton(AF_INET, "127.0.0.11", &address.sin_addr);
  return address;
}

// A socket of `type` opened inside namespace `ns` (usable from here afterwards).
UniqueFd socketIn(const std::string& ns, int type) {
  std::optional<UniqueFd> fd;
  std::thread opener([&] {
    auto inside = NamespaceSwitch::enter(ns);
    if (inside) {
      fd.emplace(socket(AF_INET, type | SOCK_CLOEXEC, 0));
    }
  });
  opener.join();
  return fd ? std::move(*fd) : UniqueFd();
}

bool waitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd entry{fd, POLLIN, 0};
  return poll(&entry, 1, static_cast<int>(timeout.count())) == 1;
}

// One UDP exchange with 127.0.0.11 from inside `ns`; nullopt on timeout or error.
std::optional<std::vector<std::uint8_t>> askUdp(const std::string& ns,
                                                const std::vector<std::uint8_t>& query,
                                                std::chrono::milliseconds timeout = 3000ms) {
  UniqueFd fd = socketIn(ns, SOCK_DGRAM);
  sockaddr_in to = resolverAddress();
  if (!fd.valid() || sendto(fd.get(), query.data(), query.size(), 0,
                            reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
    return std::nullopt;
  }
  if (!waitReadable(fd.get(), timeout)) {
    return std::nullopt;
  }
  std::vector<std::uint8_t> answer(65536);
  ssize_t received = recv(fd.get(), answer.data(), answer.size(), 0);
  if (received < 0) {
    return std::nullopt;
  }
  answer.resize(static_cast<std::size_t>(received));
  return answer;
}

// A TCP connection to 127.0.0.11:53 from inside `ns`.
UniqueFd connectTcp(const std::string& ns) {
  UniqueFd fd = socketIn(ns, SOCK_STREAM);
  sockaddr_in to = resolverAddress();
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    return UniqueFd();
  }
  return fd;
}

// Reads one length-framed message from `fd`. `buffer` keeps what arrived beyond it (the
// next answers of a pipelined connection) for the next call.
std::optional<std::vector<std::uint8_t>> readFrame(int fd, std::chrono::milliseconds timeout,
                                                   std::vector<std::uint8_t>& buffer) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (buffer.size() >= 2) {
      std::size_t length = (std::size_t{buffer[0]} << 8) | buffer[1];
      if (buffer.size() >= 2 + length) {
        auto end = buffer.begin() + 2 + static_cast<long>(length);
        std::vector<std::uint8_t> frame(buffer.begin() + 2, end);
        buffer.erase(buffer.begin(), end);
        return frame;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !waitReadable(fd, left)) {
      return std::nullopt;
    }
    std::uint8_t chunk[4096];
    ssize_t received = recv(fd, chunk, sizeof(chunk), 0);
    if (received <= 0) {
      return std::nullopt;
    }
    buffer.insert(buffer.end(), chunk, chunk + received);
  }
}

std::optional<std::vector<std::uint8_t>> askTcp(const std::string& ns,
                                                const std::vector<std::uint8_t>& query) {
  UniqueFd fd = connectTcp(ns);
  if (!fd.valid()) {
    return std::nullopt;
  }
  std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(query.size() >> 8),
                                      static_cast<std::uint8_t>(query.size())};
  framed.insert(framed.end(), query.begin(), query.end());
  if (send(fd.get(), framed.data(), framed.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(framed.size())) {
    return std::nullopt;
  }
  std::vector<std::uint8_t> buffer;
  return readFrame(fd.get(), 3000ms, buffer);
}

api::Task serviceTask(const api::Service& service, int slot, const std::string& address) {
  api::Task task;
  task.id = fmt::format("{}{}", service.id, slot);
  task.serviceId = service.id;
  task.name = fmt::format("{}.{}.{}", service.spec.name, slot, task.id);
  task.nodeId = "node1";
  task.desiredState = "running";
  task.state = "running";
  task.attachments.push_back({kFrontId, "front", address + "/16", "02:42:00:00:00:01"});
  return task;
}

// The cluster the tests resolve: web (VIP 10.0.0.2, 3 replicas), big (dnsrr, 60 replicas)
// and a standalone client task, all on "front"; nothing on "back".
std::shared_ptr<const DnsDirectory> testDirectory() {
  api::Network front;
  front.id = kFrontId;
  front.name = "front";
  api::Network back;
  back.id = kBackId;
  back.name = "back";
  api::Node node;
  node.id = "node1";
  node.state = "ready";
  api::Service web;
  web.id = "svcweb";
  web.spec.name = "web";
  web.attachments.push_back({kFrontId, "front", {"www"}});
  web.vips.push_back({kFrontId, "10.0.0.2/16"});
  api::Service big;
  big.id = "svcbig";
  big.spec.name = "big";
  big.spec.endpointMode = "dnsrr";
  big.attachments.push_back({kFrontId, "front", {}});
  std::vector<api::Task> tasks;
  for (int slot = 1; slot <= 3; ++slot) {
    tasks.push_back(serviceTask(web, slot, fmt::format("10.0.0.{}", 4 + slot)));
  }
  for (int slot = 1; slot <= kBigService; ++slot) {
    tasks.push_back(serviceTask(big, slot, fmt::format("10.0.1.{}", slot)));
  }
  api::Task client;
  client.id = "client1";
  client.name = "client1";
  client.nodeId = "node1";
  client.desiredState = "running";
  client.state = "running";
  client.attachments.push_back({kFrontId, "front", "10.0.0.100/16", "02:42:00:00:00:09"});
  tasks.push_back(client);
  return DnsDirectory::build({front, back}, {web, big}, tasks, {node});
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    std::string base = fmt::format("omdnst{}-{}", getpid(), ++counter);
    task_ = base + "t";
    other_ = base + "o";
    node_ = base + "n";
    upstream_ = base + "u";
    for (const auto& ns : {task_, other_, node_, upstream_}) {
      ASSERT_TRUE(dataplane::kernel::createNamespace(ns)) << ns;
      created_.push_back(ns);
      auto netlink = Netlink::open(ns);
      ASSERT_TRUE(netlink) << netlink.error().message;
      ASSERT_TRUE(netlink->setUp("lo"));
    }
    // The node's underlay to its resolver: 198.18.99.1 (node) - 198.18.99.2 (upstream).
    auto node = Netlink::open(node_);
    auto upstream = Netlink::open(upstream_);
    ASSERT_TRUE(node && upstream);
    auto upstreamFd = dataplane::kernel::openNamespace(upstream_);
    ASSERT_TRUE(upstreamFd);
    ASSERT_TRUE(node->createVethPair("omdns0", "omdns1", upstreamFd->get(), 1500));
    ASSERT_TRUE(node->addAddress("omdns0", prefix("198.18.99.1/24")));
    ASSERT_TRUE(node->setUp("omdns0"));
    ASSERT_TRUE(upstream->addAddress("omdns1", prefix("198.18.99.2/24")));
    ASSERT_TRUE(upstream->setUp("omdns1"));

    resolvConf_ = (scratch_.path() / "resolv.conf").string();
    writeResolvConf("# no resolvers yet\n");
    sandboxResolvConf_ = (scratch_.path() / "sandbox-resolv.conf").string();
    std::ofstream(sandboxResolvConf_) << "nameserver 127.0.0.11\noptions ndots:0\n";
  }

  void TearDown() override {
    server_.reset();
    overmesh::testing::stopSpawned(dnsmasq_);
    for (const auto& ns : created_) {
      EXPECT_TRUE(dataplane::kernel::deleteNamespace(ns)) << ns;
    }
  }

  void writeResolvConf(const std::string& text) {
    // A new file renamed over the old one: the server sees a new inode even within the
    // mtime granularity.
    std::string next = resolvConf_ + ".new";
    std::ofstream(next) << text;
    std::rename(next.c_str(), resolvConf_.c_str());
  }

  // Starts the server from a thread inside the node namespace, so that its forwards leave
  // from there (never from the machine's namespace).
  void startServer(DnsServerConfig config = {}) {
    config.resolvConfPath = resolvConf_;
    config.randomSeed = 1;
    std::thread starter([&] {
      auto inside = NamespaceSwitch::enter(node_);
      ASSERT_TRUE(inside) << inside.error().message;
      auto server = DnsServer::start(config);
      ASSERT_TRUE(server) << server.error().message;
      server_ = std::move(*server);
    });
    starter.join();
    ASSERT_NE(server_, nullptr);
    server_->setDirectory(testDirectory());
    ASSERT_TRUE(server_->attachSandbox("client1", "/run/netns/" + task_, {kFrontId}));
  }

  // A hosts file giving big.test 60 addresses: too many for a 512-byte UDP answer.
  std::string bigHosts() {
    std::string path = (scratch_.path() / "big.hosts").string();
    std::ofstream hosts(path);
    for (int i = 1; i <= kBigService; ++i) {
      hosts << "198.18.10." << i << " big.test\n";
    }
    chmod(scratch_.path().c_str(), 0755);  // dnsmasq reads it as nobody
    chmod(path.c_str(), 0644);
    return path;
  }

  void startDnsmasq() {
    std::string log = (scratch_.path() / "dnsmasq.log").string();
    dnsmasq_ = overmesh::testing::spawnInNetns(
        upstream_,
        {kDnsmasq, "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
         "--pid-file", "--address=/example.test/198.18.9.9", "--listen-address=198.18.99.2",
         "--bind-interfaces", "--port=53", "--addn-hosts=" + bigHosts()},
        log);
    ASSERT_GT(dnsmasq_, 0);
  }

  // dig inside the task sandbox; returns its output.
  overmesh::testing::NamespaceRun dig(const std::string& ns, std::vector<std::string> args) {
    std::vector<std::string> argv = {kDig, "@127.0.0.11", "+time=2", "+tries=1"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runInNetns(ns, argv);
  }

  // Asks until `predicate` holds for the answer (the server re-reads resolv.conf once a
  // second), at most 20 s (a generous bound: the machine may be loaded).
  template <typename Predicate>
  Packet askUntil(const std::string& name, Predicate predicate) {
    return askUntilIn(task_, name, predicate);
  }

  template <typename Predicate>
  Packet askUntilIn(const std::string& ns, const std::string& name, Predicate predicate) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    Packet last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto answer = askUdp(ns, makeQuery(name, LDNS_RR_TYPE_A), 500ms);
      if (answer) {
        last = parsePacket(*answer);
        if (last && predicate(last.get())) {
          return last;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    return last;
  }

  overmesh::testing::ScratchDir scratch_;
  std::string task_, other_, node_, upstream_;
  std::vector<std::string> created_;
  std::string resolvConf_;
  std::string sandboxResolvConf_;
  std::unique_ptr<DnsServer> server_;
  pid_t dnsmasq_ = -1;
};

TEST_F(DnsServerTest, AnswersOverUdpAndTcp) {
  startServer();
  auto udp = askUdp(task_, makeQuery("WEB.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(udp);
  auto packet = parsePacket(*udp);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_id(packet.get()), 777);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(addressesOf(packet.get()), std::vector<std::string>{"10.0.0.2"});

  auto tcp = askTcp(task_, makeQuery("tasks.web.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(tcp);
  packet = parsePacket(*tcp);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(addressesOf(packet.get()),
            (std::vector<std::string>{"10.0.0.5", "10.0.0.6", "10.0.0.7"}));

  auto aaaa = askUdp(task_, makeQuery("web.", LDNS_RR_TYPE_AAAA));
  ASSERT_TRUE(aaaa);
  packet = parsePacket(*aaaa);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(packet.get()), 0);
}

TEST_F(DnsServerTest, PipelinedTcpQueriesAreAllAnswered) {
  startServer();
  UniqueFd fd = connectTcp(task_);
  ASSERT_TRUE(fd.valid());
  // Three framed queries in one write, the last split over two writes.
  std::vector<std::uint8_t> stream;
  for (const char* name : {"web.", "client1.", "tasks.web."}) {
    auto query = makeQuery(name, LDNS_RR_TYPE_A);
    stream.push_back(static_cast<std::uint8_t>(query.size() >> 8));
    stream.push_back(static_cast<std::uint8_t>(query.size()));
    stream.insert(stream.end(), query.begin(), query.end());
  }
  ASSERT_EQ(send(fd.get(), stream.data(), stream.size() - 5, MSG_NOSIGNAL),
            static_cast<ssize_t>(stream.size() - 5));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(send(fd.get(), stream.data() + stream.size() - 5, 5, MSG_NOSIGNAL), 5);
  std::vector<std::size_t> counts;
  std::vector<std::uint8_t> buffer;
  for (int i = 0; i < 3; ++i) {
    auto frame = readFrame(fd.get(), 2000ms, buffer);
    ASSERT_TRUE(frame) << i;
    auto packet = parsePacket(*frame);
    ASSERT_NE(packet, nullptr);
    counts.push_back(ldns_pkt_ancount(packet.get()));
  }
  EXPECT_EQ(counts, (std::vector<std::size_t>{1, 1, 3}));
}

TEST_F(DnsServerTest, GetentAndDigResolveThroughTheSandboxResolver) {
  startServer();
  auto getent = runInNetns(task_, {kGetent, "hosts", "web"}, sandboxResolvConf_);
  EXPECT_EQ(getent.exitCode, 0) << getent.err;
  EXPECT_EQ(getent.out.substr(0, getent.out.find(' ')), "10.0.0.2") << getent.out;
  auto alias = runInNetns(task_, {kGetent, "hosts", "www.front"}, sandboxResolvConf_);
  EXPECT_EQ(alias.out.substr(0, alias.out.find(' ')), "10.0.0.2") << alias.out;
  auto self = runInNetns(task_, {kGetent, "hosts", "client1"}, sandboxResolvConf_);
  EXPECT_EQ(self.out.substr(0, self.out.find(' ')), "10.0.0.100") << self.out;

  auto tasks = dig(task_, {"+short", "+tcp", "tasks.web"});
  ASSERT_EQ(tasks.exitCode, 0) << tasks.err;
  std::istringstream lines(tasks.out);
  std::vector<std::string> addresses;
  for (std::string line; std::getline(lines, line);) {
    addresses.push_back(line);
  }
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.5", "10.0.0.6", "10.0.0.7"}));
}

TEST_F(DnsServerTest, SandboxOnAnotherNetworkGetsNxdomain) {
  startServer();
  ASSERT_TRUE(server_->attachSandbox("other", "/run/netns/" + other_, {kBackId}));
  auto getent = runInNetns(other_, {kGetent, "hosts", "web"}, sandboxResolvConf_);
  EXPECT_EQ(getent.exitCode, 2) << getent.out;
  auto status = dig(other_, {"web"});
  EXPECT_NE(status.out.find("status: NXDOMAIN"), std::string::npos) << status.out;
  // The same sandbox attached to front too (a second attach updates the networks).
  ASSERT_TRUE(server_->attachSandbox("other", "/run/netns/" + other_, {kBackId, kFrontId}));
  auto packet =
      askUntilIn(other_, "web.", [](const ldns_pkt* p) { return ldns_pkt_ancount(p) == 1; });
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(addressesOf(packet.get()), std::vector<std::string>{"10.0.0.2"});
}

TEST_F(DnsServerTest, BigAnswerIsTruncatedOverUdpAndWholeOverTcp) {
  startServer();
  auto udp = askUdp(task_, makeQuery("tasks.big.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(udp);
  EXPECT_LE(udp->size(), 512u);
  auto packet = parsePacket(*udp);
  ASSERT_NE(packet, nullptr);
  EXPECT_TRUE(ldns_pkt_tc(packet.get()));
  EXPECT_EQ(ldns_pkt_ancount(packet.get()), 0);
  // dig retries over TCP when it sees TC, as glibc does.
  auto whole = dig(task_, {"+short", "+noedns", "tasks.big"});
  ASSERT_EQ(whole.exitCode, 0) << whole.err;
  EXPECT_EQ(std::count(whole.out.begin(), whole.out.end(), '\n'), kBigService) << whole.out;
  EXPECT_GE(server_->stats().answered, 2u);
}

TEST_F(DnsServerTest, ForwardsToTheNodesResolverAndServfailsWhenItIsGone) {
  startDnsmasq();
  writeResolvConf("nameserver 198.18.99.2\n");
  startServer();
  auto packet = askUntil("example.test.", [](const ldns_pkt* p) {
    return ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(p) == 1;
  });
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_id(packet.get()), 777);
  EXPECT_EQ(addressesOf(packet.get()), std::vector<std::string>{"198.18.9.9"});
  auto viaDig = dig(task_, {"+short", "+tcp", "example.test"});
  EXPECT_EQ(viaDig.out, "198.18.9.9\n") << viaDig.err;
  // A big external answer: truncated over UDP (the upstream's TC passes through), whole
  // over TCP, because a TCP client's query is forwarded over TCP.
  auto udpBig = askUdp(task_, makeQuery("big.test.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(udpBig);
  auto truncated = parsePacket(*udpBig);
  ASSERT_NE(truncated, nullptr);
  EXPECT_TRUE(ldns_pkt_tc(truncated.get()));
  auto tcpBig = askTcp(task_, makeQuery("big.test.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(tcpBig);
  auto whole = parsePacket(*tcpBig);
  ASSERT_NE(whole, nullptr);
  EXPECT_FALSE(ldns_pkt_tc(whole.get()));
  EXPECT_EQ(ldns_pkt_ancount(whole.get()), kBigService);
  auto digBig = dig(task_, {"+short", "+noedns", "big.test"});  // TC, then dig retries on TCP
  EXPECT_EQ(std::count(digBig.out.begin(), digBig.out.end(), '\n'), kBigService) << digBig.out;

  overmesh::testing::stopSpawned(dnsmasq_);
  dnsmasq_ = -1;
  auto started = std::chrono::steady_clock::now();
  auto answer = askUdp(task_, makeQuery("example.test.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(answer);
  auto failed = parsePacket(*answer);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(failed.get()), LDNS_RCODE_SERVFAIL);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
  auto overTcp = askTcp(task_, makeQuery("example.test.", LDNS_RR_TYPE_A));  // refused
  ASSERT_TRUE(overTcp);
  auto tcpFailed = parsePacket(*overTcp);
  ASSERT_NE(tcpFailed, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(tcpFailed.get()), LDNS_RCODE_SERVFAIL);
}

TEST_F(DnsServerTest, SilentUpstreamTimesOutAndTheNextOneAnswers) {
  startDnsmasq();
  // 198.18.99.3 is on the link but nobody has it: no answer, no ICMP; the server gives it
  // upstreamTimeout and asks the next one.
  writeResolvConf("nameserver 198.18.99.3\nnameserver 198.18.99.2\n");
  DnsServerConfig config;
  config.upstreamTimeout = 300ms;
  startServer(config);
  auto packet =
      askUntil("example.test.", [](const ldns_pkt* p) { return ldns_pkt_ancount(p) == 1; });
  ASSERT_NE(packet, nullptr);
  auto started = std::chrono::steady_clock::now();
  auto answer = askUdp(task_, makeQuery("a.example.test.", LDNS_RR_TYPE_A));
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(answer);
  EXPECT_EQ(addressesOf(parsePacket(*answer).get()), std::vector<std::string>{"198.18.9.9"});
  EXPECT_GE(elapsed, 250ms);
  // Over TCP the connect to the silent one times out the same way.
  started = std::chrono::steady_clock::now();
  auto overTcp = askTcp(task_, makeQuery("b.example.test.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(overTcp);
  EXPECT_EQ(addressesOf(parsePacket(*overTcp).get()), std::vector<std::string>{"198.18.9.9"});
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
}

TEST_F(DnsServerTest, NoUpstreamMeansImmediateServfail) {
  startServer();
  auto started = std::chrono::steady_clock::now();
  auto answer = askUdp(task_, makeQuery("example.com.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(answer);
  auto failed = parsePacket(*answer);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(failed.get()), LDNS_RCODE_SERVFAIL);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_EQ(server_->stats().servfail, 1u);
}

TEST_F(DnsServerTest, OneSandboxCannotTakeEveryForwardSlot) {
  writeResolvConf("nameserver 198.18.99.3\n");  // silent: forwards stay in flight
  DnsServerConfig config;
  config.upstreamTimeout = 3000ms;
  config.maxForwardsPerSandbox = 2;
  startServer(config);
  ASSERT_TRUE(server_->attachSandbox("other", "/run/netns/" + other_, {kBackId}));
  UniqueFd fd = socketIn(task_, SOCK_DGRAM);
  sockaddr_in to = resolverAddress();
  for (int id = 1; id <= 3; ++id) {
    auto query = makeQuery(fmt::format("n{}.example.com.", id), LDNS_RR_TYPE_A);
    query[0] = 0;
    query[1] = static_cast<std::uint8_t>(id);
    ASSERT_GT(sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
              0);
  }
  ASSERT_TRUE(waitReadable(fd.get(), 5000ms));
  std::vector<std::uint8_t> answer(512);
  answer.resize(static_cast<std::size_t>(recv(fd.get(), answer.data(), answer.size(), 0)));
  auto packet = parsePacket(answer);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_id(packet.get()), 3);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_SERVFAIL);
  // The other sandbox still gets a slot: its query waits for the upstream, no SERVFAIL.
  EXPECT_FALSE(askUdp(other_, makeQuery("x.example.com.", LDNS_RR_TYPE_A), 500ms));
  EXPECT_EQ(server_->stats().forwarded, 3u);
}

TEST_F(DnsServerTest, HostileInputNeitherCrashesNorStallsIt) {
  DnsServerConfig config;
  config.tcpIdleTimeout = 400ms;
  config.maxTcpConnectionsPerSandbox = 4;
  startServer(config);
  // Garbage datagrams.
  UniqueFd udp = socketIn(task_, SOCK_DGRAM);
  sockaddr_in to = resolverAddress();
  std::vector<std::uint8_t> junk(300);
  for (int i = 0; i < 200; ++i) {
    for (auto& byte : junk) {
      byte = static_cast<std::uint8_t>(i * 31 + (&byte - junk.data()) * 7);
    }
    sendto(udp.get(), junk.data(), static_cast<std::size_t>(i), 0, reinterpret_cast<sockaddr*>(&to),
           sizeof(to));
  }
  // TCP: connections that send half a frame and then nothing, more than the limit.
  std::vector<UniqueFd> stalled;
  for (int i = 0; i < 6; ++i) {
    stalled.push_back(connectTcp(task_));
    std::uint8_t half[] = {0xff, 0xff, 0x12};
    send(stalled.back().get(), half, sizeof(half), MSG_NOSIGNAL);
  }
  // Still answering, at once.
  auto answer = askUdp(task_, makeQuery("web.", LDNS_RR_TYPE_A), 5000ms);
  ASSERT_TRUE(answer);
  EXPECT_EQ(addressesOf(parsePacket(*answer).get()), std::vector<std::string>{"10.0.0.2"});
  // Connections beyond the limit are closed at once, the others after the idle timeout
  // (400 ms): each is closed well within the generous bound, however loaded the machine.
  for (auto& fd : stalled) {
    ASSERT_TRUE(waitReadable(fd.get(), 10000ms));
    std::uint8_t byte;
    EXPECT_LE(recv(fd.get(), &byte, 1, 0), 0);
  }
  auto tcp = askTcp(task_, makeQuery("web.", LDNS_RR_TYPE_A));
  ASSERT_TRUE(tcp);
  EXPECT_GT(server_->stats().malformed, 0u);
}

TEST_F(DnsServerTest, ManyQueriesInFlightAreAllAnsweredInBatches) {
  startServer();
  UniqueFd fd = socketIn(task_, SOCK_DGRAM);
  int buffer = 1 << 20;
  ASSERT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer)), 0);
  sockaddr_in to = resolverAddress();
  // An oversized datagram first: dropped, not answered.
  std::vector<std::uint8_t> huge(5000, 0);
  ASSERT_GT(
      sendto(fd.get(), huge.data(), huge.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
      0);
  constexpr int kQueries = 300;  // several recvmmsg batches
  for (int id = 0; id < kQueries; ++id) {
    auto query = makeQuery(id % 2 == 0 ? "web." : "client1.", LDNS_RR_TYPE_A);
    query[0] = static_cast<std::uint8_t>(id >> 8);
    query[1] = static_cast<std::uint8_t>(id);
    ASSERT_GT(sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
              0);
  }
  std::vector<bool> seen(kQueries, false);
  int answered = 0;
  while (answered < kQueries && waitReadable(fd.get(), 5000ms)) {
    std::vector<std::uint8_t> answer(2048);
    ssize_t received = recv(fd.get(), answer.data(), answer.size(), 0);
    ASSERT_GT(received, 0);
    answer.resize(static_cast<std::size_t>(received));
    auto packet = parsePacket(answer);
    ASSERT_NE(packet, nullptr);
    int id = ldns_pkt_id(packet.get());
    ASSERT_LT(id, kQueries);
    EXPECT_FALSE(seen[static_cast<std::size_t>(id)]) << id;
    seen[static_cast<std::size_t>(id)] = true;
    EXPECT_EQ(addressesOf(packet.get()),
              std::vector<std::string>{id % 2 == 0 ? "10.0.0.2" : "10.0.0.100"});
    ++answered;
  }
  EXPECT_EQ(answered, kQueries);
  EXPECT_FALSE(waitReadable(fd.get(), 200ms));  // nothing for the oversized one
  EXPECT_EQ(server_->stats().malformed, 1u);
}

TEST_F(DnsServerTest, DetachClosesTheSocketsAndReattachServesAgain) {
  startServer();
  ASSERT_TRUE(askUdp(task_, makeQuery("web.", LDNS_RR_TYPE_A)));
  server_->detachSandbox("client1");
  // Once detach returns nothing listens any more.
  EXPECT_FALSE(askUdp(task_, makeQuery("web.", LDNS_RR_TYPE_A), 300ms));
  EXPECT_FALSE(connectTcp(task_).valid());
  // Re-attached at once (the old sockets are closed, so the address is free again).
  for (int round = 0; round < 5; ++round) {
    server_->detachSandbox("client1");
    ASSERT_TRUE(server_->attachSandbox("client1", "/run/netns/" + task_, {kFrontId})) << round;
  }
  auto back = askUntil("web.", [](const ldns_pkt* p) { return ldns_pkt_ancount(p) == 1; });
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(askTcp(task_, makeQuery("web.", LDNS_RR_TYPE_A)));
}

TEST_F(DnsServerTest, NewDirectoryIsServedAtOnce) {
  startServer();
  server_->setDirectory(DnsDirectory::build({}, {}, {}, {}));
  auto packet = askUntil(
      "web.", [](const ldns_pkt* p) { return ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN; });
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(DnsServerTest, AttachFailsClearlyAndKeepsServing) {
  startServer();
  // Port 53 already taken in that sandbox (by a stray resolver, say).
  UniqueFd squatter = socketIn(other_, SOCK_DGRAM);
  sockaddr_in address = resolverAddress();
  ASSERT_EQ(bind(squatter.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  auto taken = server_->attachSandbox("other", "/run/netns/" + other_, {kFrontId});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(taken.error().message.find("127.0.0.11:53"), std::string::npos)
      << taken.error().message;
  auto missing = server_->attachSandbox("ghost", "/run/netns/" + task_ + "-none", {kFrontId});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_FALSE(server_->attachSandbox("", "/run/netns/" + task_, {kFrontId}));
  EXPECT_TRUE(askUdp(task_, makeQuery("web.", LDNS_RR_TYPE_A)));
}

}  // namespace
}  // namespace overmesh::dns
