#pragma once

// The cluster's objects as the API and the Store carry them (JSON). Field names are
// lowerCamelCase; unknown fields are ignored on read so that older daemons can read
// newer records.

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/container_types.h"

namespace overmesh::api {

using Labels = std::map<std::string, std::string>;

// The most interfaces a task's sandbox can have (eth0..eth9: its networks, the ingress
// network when its service publishes a port in ingress mode, and the gateway link): the
// agent names host-side devices with the index in one digit.
inline constexpr std::size_t kMaxTaskInterfaces = 10;

// The one network option the overlay driver honours (as Docker's driver_opts name it): the
// MTU of the network's bridge, VXLAN device and task interfaces. A node uses the smaller
// of it and its underlay MTU minus the VXLAN overhead.
inline constexpr const char* kNetworkMtuOption = "com.docker.network.driver.mtu";

struct Network {
  std::string id;
  std::string name;
  std::string driver = "overlay";
  std::string subnet;   // CIDR, a network address
  std::string gateway;  // inside subnet
  std::uint32_t vni = 0;
  bool attachable = false;
  bool internal = false;
  bool ingress = false;
  Labels labels;
  Labels options;
  std::string createdAt;
};

struct NetworkCreateRequest {
  std::string name;
  std::string driver = "overlay";
  std::optional<std::string> subnet;
  std::optional<std::string> gateway;
  bool attachable = false;
  bool internal = false;
  // `network create --ingress`: the routing mesh's network (at most one; see
  // NetworkManager). No task or service names it; tasks of services that publish a port
  // in ingress mode join it automatically.
  bool ingress = false;
  Labels labels;
  Labels options;
};

// 90 days (security::kDefaultCertExpiry), the default validity of node certificates.
inline constexpr std::int64_t kDefaultCertExpiryMs = 90LL * 24 * 3600 * 1000;

struct Cluster {
  std::string id;
  std::string createdAt;
  std::vector<std::string> defaultAddrPools;
  int subnetSize = 24;
  std::int64_t nodeTimeoutMs = 3000;
  std::string managerAddress;  // advertise address of the manager, IP:PORT
  // The cluster CA's certificate (PEM) and its fingerprint (security::certificateFingerprint,
  // what join tokens pin). Public: nothing secret is in this record (the tokens' hashes
  // live under state::keys::kJoinTokenHashes, which agents never receive).
  std::string caCertificate;
  std::string caFingerprint;
  // Validity of node certificates signed from now on (`swarm init|update --cert-expiry`);
  // nodes renew early when theirs runs longer (docs/security.md).
  std::int64_t certExpiryMs = kDefaultCertExpiryMs;
  // Where the cluster's state lives (store::StoreLocation::url(): "sqlite" or
  // "etcd://H:P[,H:P…]", never TLS paths). A join with the manager token and `node
  // promote` need a shared store (etcd); empty in records of clusters made before issue 13
  // (= sqlite).
  std::string store;
};

struct SwarmInitRequest {
  std::string advertiseAddr;  // IP or IP:PORT; empty = pick the only global address
  std::vector<std::string> defaultAddrPools;
  std::optional<int> defaultAddrPoolMaskLength;
  std::optional<std::int64_t> nodeTimeoutMs;
  // `swarm init --cert-expiry`: validity of node certificates; absent = 90 days.
  std::optional<std::int64_t> certExpiryMs;
  // `swarm init --ingress-subnet CIDR`: the ingress network's subnet; empty = the next
  // free subnet of the default pools.
  std::string ingressSubnet;
  // `--insecure-registry` and `--registry-mirror` (see RegistrySettings).
  RegistrySettings registries;
  // `swarm init --store URL` (store/store_location.h): "" or "sqlite" = the embedded store;
  // "etcd://H:P[,H:P…]" = an etcd cluster, which lets further managers join. The TLS
  // files (`--store-cacert/--store-cert/--store-key`) are paths on the manager's host.
  std::string store;
  std::string storeCaFile;
  std::string storeCertFile;
  std::string storeKeyFile;
};

struct Node {
  std::string id;
  std::string hostname;
  std::string address;  // underlay (advertise) IP
  std::string role;     // "manager" | "worker"
  std::string state;    // "ready" | "down"
  Labels labels;
  std::string createdAt;
  // Networks the node's host uses, which overlay subnets must stay out of (empty in
  // records written before they were reported): the connected prefix of its advertise
  // address and its gateway-bridge subnet (overmeshd --gateway-subnet).
  std::string underlayPrefix;
  std::string gatewaySubnet;
  // The node's own endpoint on the ingress network ("10.0.0.3/24"; its MAC is
  // macForIp(address)), allocated by the manager when the node joins or the ingress
  // network is created, cleared when that network is removed; empty when there is none.
  // The node's ingress bridge holds it: published ports are forwarded from it, and
  // replies come back to it (policy routing in the backend's sandbox).
  std::string ingressAddress;
  // Managers only, computed when read (never stored): "leader" for the one elected
  // through the store's lease, "reachable" for another manager that is ready,
  // "unreachable" for one that is down; "" for a worker. `node ls` shows Docker's
  // MANAGER STATUS column from it (Leader / Reachable / Unreachable).
  std::string managerStatus;
};

struct HealthCheck {
  // argv run inside the task; `--health-cmd CMD` becomes {"/bin/sh", "-c", CMD}.
  std::vector<std::string> command;
  std::int64_t intervalMs = 30000;
  std::int64_t timeoutMs = 30000;
  std::int64_t retries = 3;
  std::int64_t startPeriodMs = 0;
};

// One network attachment of a task: its address and MAC on that network.
struct TaskAttachment {
  std::string networkId;
  std::string networkName;
  std::string address;  // IPv4, inside the network's subnet
  std::string mac;
};

struct Task {
  std::string id;
  std::string name;
  std::string serviceId;  // empty for a standalone task (`overmesh run`)
  std::string nodeId;
  std::string nodeName;  // hostname of nodeId when the task was placed, for display
  std::vector<std::string> command;
  std::string desiredState;  // "running" | "shutdown"
  std::string state;         // observed: "pending" | "running" | "failed" | …
  std::string message;       // why the observed state is what it is
  std::int64_t exitCode = 0; // when state is "exited" or "failed"
  std::vector<TaskAttachment> attachments;
  std::string createdAt;

  // ---- service tasks (empty/zero for a standalone task from `overmesh run`) ----
  std::string serviceName;
  std::int64_t slot = 0;         // 1..replicas for a replicated service; 0 for global
  std::int64_t specVersion = 0;  // the service version this task runs
  std::vector<std::string> env;  // KEY=VALUE
  std::optional<HealthCheck> healthCheck;
  std::int64_t stopGracePeriodMs = 10000;
  // Observed health when the task has a health check: "starting" | "healthy" |
  // "unhealthy"; empty without one. Only a healthy task (or one without a check) that
  // runs on a ready node is live: in DNS answers and load-balancer maps.
  std::string health;
  // Manager's wall clock (ms since the epoch) when desiredState or state last changed:
  // restart delays, restart windows and update delays are measured from it.
  std::int64_t updatedAtMs = 0;
  // The image the task runs and its options (copied from the service's spec, or from the
  // `run` request); an empty image: `command` runs as a process on the node.
  ContainerSpec container;
};

// What the node's members-only underlay filter (issue 12) dropped since it was installed:
// packets to VXLAN and to the node port from addresses that are not members.
struct UnderlayFilterStatus {
  std::uint64_t vxlanDropped = 0;
  std::uint64_t nodePortDropped = 0;
};

struct Info {
  std::string version;
  std::string swarm;  // "inactive" | "active"
  std::string nodeId;
  std::string role;
  std::string clusterId;
  std::string managerAddress;
  std::string stateDir;
  std::string socket;
  // The cluster's registry settings (`swarm init|update --insecure-registry
  // --registry-mirror`), when the node is in a swarm and has them.
  std::optional<RegistrySettings> registries;
  // When the node is in a swarm and its filter table exists.
  std::optional<UnderlayFilterStatus> underlayFilter;
  // Managers: the cluster store ("sqlite" or "etcd://H:P,…", no TLS paths), whether this
  // manager leads now, and the leader's cluster address (IP:PORT; "" while none leads).
  std::string store;
  bool isLeader = false;
  std::string leaderAddress;
  // The ports this node needs reachable ("2377/tcp (cluster API)", issue 14), what rules
  // of other nftables tables on the host's input hooks drop or reject of them (one line
  // each, dataplane::describeFirewallBlock), and why the rule set could not be read.
  std::vector<std::string> ports;
  std::vector<std::string> firewallBlocks;
  std::string firewallError;
};

void to_json(nlohmann::json& json, const Network& value);
void from_json(const nlohmann::json& json, Network& value);
void to_json(nlohmann::json& json, const NetworkCreateRequest& value);
void from_json(const nlohmann::json& json, NetworkCreateRequest& value);
void to_json(nlohmann::json& json, const Cluster& value);
void from_json(const nlohmann::json& json, Cluster& value);
void to_json(nlohmann::json& json, const SwarmInitRequest& value);
void from_json(const nlohmann::json& json, SwarmInitRequest& value);
void to_json(nlohmann::json& json, const Node& value);
void from_json(const nlohmann::json& json, Node& value);
void to_json(nlohmann::json& json, const HealthCheck& value);
void from_json(const nlohmann::json& json, HealthCheck& value);
void to_json(nlohmann::json& json, const TaskAttachment& value);
void from_json(const nlohmann::json& json, TaskAttachment& value);
void to_json(nlohmann::json& json, const Task& value);
void from_json(const nlohmann::json& json, Task& value);
void to_json(nlohmann::json& json, const Info& value);
void from_json(const nlohmann::json& json, Info& value);

}  // namespace overmesh::api
