// Requests/s and latency through a service VIP versus straight to the backend's address,
// with wrk, in a lab of network namespaces (tests/support/service_lb_lab.h).
//
//   vip_throughput [--seconds 5] [--connections 16] [--filler 1000]
//
// The client namespace's load balancer (SandboxLoadBalancers, as the agent programs it)
// maps VIP 10.77.0.2 to ONE backend, 10.77.0.21, so that both paths end at the same
// server and the comparison isolates the cost of the VIP (DNAT at connection setup and
// conntrack). Each backend runs a tiny HTTP server in this process (one thread, one
// response per connection, "Connection: close"), so every request is a new connection
// through the VIP: the case where the load balancer costs most. Four runs, each in a lab
// of its own: direct, VIP, then both again with `--filler` more services in the client's
// table. Prints requests/s, wrk's mean latency (request sent to response read; connection
// setup is in requests/s) and the VIP/direct ratios. Nothing is asserted.
//
// Run as root (namespaces; the machine's own namespace is never touched), wrk installed:
//   bench/vip_throughput.sh   (builds it, then runs it)

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/linux/netns.h"
#include "dataplane/linux/service_lb.h"
#include "dataplane/service_lb_plan.h"
#include "support/process.h"
#include "support/service_lb_lab.h"

namespace {

using overmesh::Ipv4Address;
using overmesh::dataplane::LbService;
using overmesh::dataplane::SandboxLb;
using overmesh::dataplane::kernel::NamespaceSwitch;
using overmesh::dataplane::kernel::SandboxLoadBalancers;
using overmesh::dataplane::kernel::UniqueFd;
using overmesh::testing::ServiceLbLab;

struct Options {
  int seconds = 5;
  int connections = 16;
  std::uint32_t filler = 1000;
};

// An HTTP server on backend:80 inside namespace `ns`, served by one thread until stopped.
class TinyHttpServer {
 public:
  bool start(const std::string& ns, Ipv4Address address) {
    {
      auto inside = NamespaceSwitch::enter(ns);
      if (!inside) {
        fmt::print(stderr, "vip_throughput: {}\n", inside.error().message);
        return false;
      }
      listener_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    }
    int one = 1;
    setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in where{};
    where.sin_family = AF_INET;
    where.sin_port = htons(80);
    where.sin_addr.s_addr = htonl(address.value());
    if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)) != 0 ||
        listen(listener_.get(), 1024) != 0) {
      fmt::print(stderr, "vip_throughput: listen on {}:80: {}\n", address,
                 overmesh::errnoText(errno));
      return false;
    }
    thread_ = std::thread([this] { run(); });
    return true;
  }
  ~TinyHttpServer() {
    stopping_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  // Thread: accepts and answers one request per connection until stopping_.
  void run() {
    static constexpr std::string_view kResponse =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    while (!stopping_) {
      pollfd polled{listener_.get(), POLLIN, 0};
      if (poll(&polled, 1, 100) <= 0) {
        continue;
      }
      UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) {
        continue;
      }
      timeval timeout{1, 0};
      setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      std::string request;
      char buffer[2048];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
        ssize_t got = read(conn.get(), buffer, sizeof(buffer));
        if (got <= 0) {
          break;
        }
        request.append(buffer, static_cast<std::size_t>(got));
      }
      (void)!write(conn.get(), kResponse.data(), kResponse.size());
    }
  }

  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stopping_ = false;
};

struct WrkResult {
  double requestsPerSecond = 0;
  double meanLatencyMs = 0;
  std::string errors;  // wrk's "Socket errors: …" line, if any
};

double toMilliseconds(double value, const std::string& unit) {
  if (unit == "us") {
    return value / 1000;
  }
  if (unit == "s") {
    return value * 1000;
  }
  return value;
}

std::optional<WrkResult> runWrk(const std::string& ns, Ipv4Address target, const Options& options) {
  auto result = overmesh::testing::runCommand({"/usr/sbin/ip", "netns", "exec", ns, "/usr/bin/wrk",
                                               "-t", "2", "-c", std::to_string(options.connections),
                                               "-d", fmt::format("{}s", options.seconds),
                                               fmt::format("http://{}/", target)});
  if (result.exitCode != 0) {
    fmt::print(stderr, "vip_throughput: wrk failed: {}{}\n", result.out, result.err);
    return std::nullopt;
  }
  std::smatch match;
  WrkResult parsed;
  if (std::regex_search(result.out, match, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    parsed.requestsPerSecond = std::stod(match[1]);
  }
  if (std::regex_search(result.out, match, std::regex(R"(Latency\s+([0-9.]+)(us|ms|s))"))) {
    parsed.meanLatencyMs = toMilliseconds(std::stod(match[1]), match[2]);
  }
  if (std::regex_search(result.out, match, std::regex(R"(Socket errors:[^\n]*)"))) {
    parsed.errors = match[0];
  }
  if (parsed.requestsPerSecond == 0) {
    fmt::print(stderr, "vip_throughput: cannot read wrk's output:\n{}\n", result.out);
    return std::nullopt;
  }
  return parsed;
}

std::atomic<bool> interrupted{false};
void onSignal(int) { interrupted = true; }

// One wrk run in a lab of its own (fresh conntrack and TIME_WAIT state: a backend's
// TIME_WAIT sockets from direct connections would turn away VIP connections that reuse
// their client ports, whose timestamps and sequence numbers derive from the VIP), with
// the client's table holding the bench service (VIP -> the one backend) and `filler` more.
std::optional<WrkResult> measureOnce(bool viaVip, std::uint32_t filler, const Options& options,
                                     int run) {
  ServiceLbLab lab(fmt::format("omvt{}-{}", getpid(), run), 1);
  if (auto created = lab.create(); !created) {
    fmt::print(stderr, "vip_throughput: {}\n", created.error().message);
    return std::nullopt;
  }
  TinyHttpServer server;
  const Ipv4Address backend = ServiceLbLab::backendAddress(0);
  if (!server.start(lab.backends()[0], backend)) {
    return std::nullopt;
  }
  const Ipv4Address vip = Ipv4Address::parse("10.77.0.2").value();
  SandboxLb lb;
  for (std::uint32_t i = 0; i < filler; ++i) {
    // 10.200.0.0/14: never dialled, only present in the table.
    lb.services.push_back({fmt::format("f{}", i),
                           fmt::format("f{}", i),
                           Ipv4Address::fromValue((10u << 24 | 200u << 16) + 1 + i),
                           {Ipv4Address::fromValue((10u << 24 | 100u << 16) + 1 + i % 3)}});
  }
  lb.services.push_back({"bench", "bench", vip, {backend}});
  std::sort(lb.services.begin(), lb.services.end(),
            [](const LbService& a, const LbService& b) { return a.vip < b.vip; });
  SandboxLoadBalancers balancers;
  if (auto applied = balancers.apply(lab.client(), lb); !applied) {
    fmt::print(stderr, "vip_throughput: {}\n", applied.error().message);
    return std::nullopt;
  }
  return runWrk(lab.client(), viaVip ? vip : backend, options);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--seconds" && value > 0) {
      options.seconds = value;
    } else if (flag == "--connections" && value > 0) {
      options.connections = value;
    } else if (flag == "--filler" && value >= 0) {
      options.filler = static_cast<std::uint32_t>(value);
    } else {
      fmt::print(stderr, "usage: vip_throughput [--seconds S] [--connections C] [--filler N]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    fmt::print(stderr, "vip_throughput: run as root (it makes network namespaces)\n");
    return 2;
  }
  signal(SIGINT, onSignal);
  signal(SIGTERM, onSignal);

  fmt::print("{:<30} {:>12} {:>14}   ({} s, {} connections, new connection per request)\n", "path",
             "requests/s", "mean latency", options.seconds, options.connections);
  int run = 0;
  for (std::uint32_t filler : {0u, options.filler}) {
    auto direct = measureOnce(false, filler, options, ++run);
    if (interrupted || !direct) {
      return interrupted ? 130 : 2;
    }
    auto throughVip = measureOnce(true, filler, options, ++run);
    if (interrupted || !throughVip) {
      return interrupted ? 130 : 2;
    }
    std::string services = fmt::format("{} services in table", filler + 1);
    fmt::print("{:<30} {:>12.0f} {:>11.3f} ms   {}\n", "direct (" + services + ")",
               direct->requestsPerSecond, direct->meanLatencyMs, direct->errors);
    fmt::print("{:<30} {:>12.0f} {:>11.3f} ms   VIP/direct: {:.3f} req/s, {:.3f} latency  {}\n",
               "VIP    (" + services + ")", throughVip->requestsPerSecond,
               throughVip->meanLatencyMs, throughVip->requestsPerSecond / direct->requestsPerSecond,
               throughVip->meanLatencyMs / direct->meanLatencyMs, throughVip->errors);
    std::fflush(stdout);
  }
  return 0;
}
