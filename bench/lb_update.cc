// The cost of programming a sandbox's VIP load balancer (SandboxLoadBalancers, the code
// LinuxNodeKernel::applySandboxLb runs), with 100, 1,000 and 10,000 services present.
//
//   lb_update [--changes 50]
//     For each size N, in a fresh network namespace of its own ("omlbbench<pid>"):
//       - the initial full programming of N services (3 backends each), timed once;
//       - `--changes` endpoint changes, each one service's backend set changed (one backend
//         replaced by another), each timed as one apply() call (diff + one nft batch);
//       - after each change, untimed in the column above, the deletion of the UDP flows to
//         the backend that left (on the load balancer's own thread; it walks the host's
//         conntrack table, so it costs the same whatever the table holds), timed apart;
//     and prints a table: N, initial ms, change median / p99 / max ms, flush median. The
//     namespace is removed after each size, also on failure or Ctrl-C. Nothing is asserted.
//
//   lb_update program NAMESPACE VIP BACKEND... [--filler N]
//     Programs the load balancer of the existing namespace NAMESPACE with one service
//     (VIP -> BACKENDs) plus N filler services on 10.200.0.0/16-style VIPs that nothing
//     dials, then exits (the table stays; it goes with the namespace). Used by
//     bench/vip_throughput.sh.
//
// Run as root (network namespaces); the machine's own namespace is never touched:
//   scripts/build.sh release lb_update && sudo build/release/bench/lb_update

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "dataplane/linux/netns.h"
#include "dataplane/linux/service_lb.h"
#include "dataplane/service_lb_plan.h"

namespace {

using overmesh::Ipv4Address;
using overmesh::dataplane::LbService;
using overmesh::dataplane::SandboxLb;
using overmesh::dataplane::kernel::SandboxLoadBalancers;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

std::atomic<bool> interrupted{false};

void onSignal(int) { interrupted = true; }

// Filler VIPs start here (10.200.0.1, …): 2^22 addresses, enough for any N used here.
constexpr std::uint32_t kFillerBase = (10u << 24) | (200u << 16) | 1u;
constexpr std::uint32_t kBackendBase = (10u << 24) | (100u << 16) | 1u;

LbService fillerService(std::uint32_t index) {
  LbService service;
  service.serviceId = fmt::format("filler{}", index);
  service.serviceName = service.serviceId;
  service.vip = Ipv4Address::fromValue(kFillerBase + index);
  for (std::uint32_t b = 0; b < 3; ++b) {
    service.backends.push_back(Ipv4Address::fromValue(kBackendBase + (index * 3 + b) % 60000));
  }
  std::sort(service.backends.begin(), service.backends.end());
  return service;
}

// The namespace of one run, removed on destruction.
class BenchNamespace {
 public:
  explicit BenchNamespace(std::string name) : name_(std::move(name)) {
    auto created = overmesh::dataplane::kernel::createNamespace(name_);
    if (!created) {
      fmt::print(stderr, "lb_update: {}\n", created.error().message);
      name_.clear();
    }
  }
  ~BenchNamespace() {
    if (!name_.empty()) {
      if (auto deleted = overmesh::dataplane::kernel::deleteNamespace(name_); !deleted) {
        fmt::print(stderr, "lb_update: {}\n", deleted.error().message);
      }
    }
  }
  BenchNamespace(const BenchNamespace&) = delete;
  BenchNamespace& operator=(const BenchNamespace&) = delete;
  bool ok() const { return !name_.empty(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

int measure(int changes) {
  fmt::print("{:>8} {:>12} {:>12} {:>12} {:>12} {:>14}   ({} endpoint changes each, ms)\n",
             "services", "initial", "change p50", "change p99", "change max", "UDP flush p50",
             changes);
  for (std::uint32_t size : {100u, 1000u, 10000u}) {
    if (interrupted) {
      return 130;
    }
    BenchNamespace ns(fmt::format("omlbbench{}", getpid()));
    if (!ns.ok()) {
      return 2;
    }
    SandboxLb lb;
    for (std::uint32_t i = 0; i < size; ++i) {
      lb.services.push_back(fillerService(i));
    }
    SandboxLoadBalancers balancers;
    auto start = Clock::now();
    if (auto applied = balancers.apply(ns.name(), lb); !applied) {
      fmt::print(stderr, "lb_update: initial apply: {}\n", applied.error().message);
      return 2;
    }
    double initial = Millis(Clock::now() - start).count();
    std::vector<double> times;
    std::vector<double> cleanups;
    for (int c = 0; c < changes && !interrupted; ++c) {
      // A different service each time, spread over the table; its first backend replaced.
      auto& service = lb.services[(static_cast<std::uint32_t>(c) * 7919u) % size];
      service.backends.front() =
          Ipv4Address::fromValue(kBackendBase + 60000 + static_cast<std::uint32_t>(c));
      std::sort(service.backends.begin(), service.backends.end());
      start = Clock::now();
      if (auto applied = balancers.apply(ns.name(), lb); !applied) {
        fmt::print(stderr, "lb_update: change {}: {}\n", c, applied.error().message);
        return 2;
      }
      times.push_back(Millis(Clock::now() - start).count());
      // The UDP-flow cleanup runs on its own thread after apply() returned; wait for it
      // outside the timed part, so that it does not overlap the next change.
      start = Clock::now();
      balancers.waitForFlowCleanup();
      cleanups.push_back(Millis(Clock::now() - start).count());
    }
    if (times.empty()) {
      return 130;
    }
    fmt::print("{:>8} {:>12.1f} {:>12.2f} {:>12.2f} {:>12.2f} {:>14.2f}\n", size, initial,
               percentile(times, 0.5), percentile(times, 0.99),
               *std::max_element(times.begin(), times.end()), percentile(cleanups, 0.5));
    std::fflush(stdout);
  }
  return 0;
}

int program(int argc, char** argv) {
  // argv: lb_update program NS VIP BACKEND... [--filler N]
  std::string ns = argv[2];
  auto vip = Ipv4Address::parse(argv[3]);
  if (!vip) {
    fmt::print(stderr, "lb_update: VIP: {}\n", vip.error().message);
    return 2;
  }
  LbService service{"bench", "bench", *vip, {}};
  std::uint32_t filler = 0;
  for (int i = 4; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--filler" && i + 1 < argc) {
      filler = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
      continue;
    }
    auto backend = Ipv4Address::parse(arg);
    if (!backend) {
      fmt::print(stderr, "lb_update: backend: {}\n", backend.error().message);
      return 2;
    }
    service.backends.push_back(*backend);
  }
  std::sort(service.backends.begin(), service.backends.end());
  SandboxLb lb;
  for (std::uint32_t i = 0; i < filler; ++i) {
    lb.services.push_back(fillerService(i));
  }
  lb.services.push_back(service);
  std::sort(lb.services.begin(), lb.services.end(),
            [](const LbService& a, const LbService& b) { return a.vip < b.vip; });
  SandboxLoadBalancers balancers;
  if (auto applied = balancers.apply(ns, lb); !applied) {
    fmt::print(stderr, "lb_update: {}\n", applied.error().message);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    fmt::print(stderr, "lb_update: run as root (it makes a network namespace)\n");
    return 2;
  }
  signal(SIGINT, onSignal);
  signal(SIGTERM, onSignal);
  if (argc >= 2 && std::string(argv[1]) == "program") {
    if (argc < 5) {
      fmt::print(stderr, "usage: lb_update program NAMESPACE VIP BACKEND... [--filler N]\n");
      return 2;
    }
    return program(argc, argv);
  }
  int changes = 50;
  if (argc == 3 && std::string(argv[1]) == "--changes") {
    changes = std::max(1, std::atoi(argv[2]));
  } else if (argc != 1) {
    fmt::print(stderr,
               "usage: lb_update [--changes N] | lb_update program NS VIP BACKEND... "
               "[--filler N]\n");
    return 2;
  }
  return measure(changes);
}
