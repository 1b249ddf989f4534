#pragma once

// `service create` and `service update` flags turned into a ServiceSpec, Docker's shapes.
// Pure: every flag arrives as the text the user typed (unset = nullopt or empty), so the
// parsing, the defaults and every error are unit-tested without a daemon. A flag that
// does not parse fails with InvalidArgument naming the flag, its value and what would be
// valid; nothing is sent then.
//
// What is left to the daemon: whether a network, a constraint's syntax and a name are
// acceptable (it knows the networks and owns the constraint grammar) — its error is
// printed as it comes.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/service_types.h"
#include "cli/container_flags.h"
#include "common/error.h"

namespace overmesh::cli {

// Flags `create` and `update` share. Durations in Docker's form ("10s", "1m30s").
struct ServiceSpecFlags {
  std::optional<std::string> endpointMode;      // vip | dnsrr
  std::optional<std::string> restartCondition;  // any | on-failure | none
  std::optional<std::string> restartDelay;
  std::optional<std::string> restartMaxAttempts;
  std::optional<std::string> restartWindow;
  std::optional<std::string> stopGracePeriod;
  std::optional<std::string> healthCmd;  // run as /bin/sh -c CMD
  std::optional<std::string> healthInterval;
  std::optional<std::string> healthTimeout;
  std::optional<std::string> healthRetries;
  std::optional<std::string> healthStartPeriod;
  std::optional<std::string> updateParallelism;
  std::optional<std::string> updateDelay;
  std::optional<std::string> updateOrder;  // stop-first | start-first
};

struct ServiceCreateFlags {
  std::string name;
  std::optional<std::string> replicas;
  std::optional<std::string> mode;  // replicated (default) | global
  // Each "NET", "NET,alias=A" or Docker's long form "name=NET,alias=A,alias=B".
  std::vector<std::string> networks;
  std::vector<std::string> env;          // KEY=VALUE
  std::vector<std::string> constraints;  // passed as typed
  std::vector<std::string> labels;       // KEY=VALUE (or KEY: empty value)
  std::vector<std::string> publish;      // -p/--publish values (see parsePublishFlag)
  ServiceSpecFlags spec;
  ContainerFlags container;
  std::vector<std::string> command;  // optional with --image
};

struct ServiceUpdateFlags {
  std::optional<std::string> replicas;
  std::vector<std::string> envAdd;         // KEY=VALUE; replaces KEY's entry in place
  std::vector<std::string> envRm;          // KEY
  std::vector<std::string> constraintAdd;  // appended unless present
  std::vector<std::string> constraintRm;   // an expression the spec has
  std::vector<std::string> networkAdd;     // as --network
  std::vector<std::string> networkRm;      // the network's name or ID as the service has it
  std::vector<std::string> labelAdd;       // KEY=VALUE
  std::vector<std::string> labelRm;        // KEY
  std::vector<std::string> publishAdd;     // as --publish; see editPublishedPorts
  std::vector<std::string> publishRm;      // a port spec; removes by target port
  ServiceSpecFlags spec;
  ContainerUpdateFlags container;
  bool noHealthcheck = false;
  std::vector<std::string> command;  // non-empty: replaces the command
};

// The spec `service create` sends: Docker's defaults (replicated, 1 replica, vip; restart
// any after 5s; health interval 30s, timeout 30s, 3 retries, no start period) for what is
// not given. Fails on: --replicas with --mode global; an unknown mode, endpoint mode,
// restart condition or update order; a bad number, duration, KEY=VALUE, network or
// --publish value; health options without --health-cmd; an empty name; neither --image
// nor a command; what containerSpecFromFlags refuses.
Result<api::ServiceSpec> specFromCreateFlags(const ServiceCreateFlags& flags);

// `service`'s spec with the update flags applied (removals before additions, as Docker
// does). Fails, changing nothing, on what specFromCreateFlags refuses and on: --replicas
// for a global service; a --*-rm that matches nothing the service has (naming what it
// has); --network-add of a network it is already on; --no-healthcheck with a health
// option; health options without --health-cmd when the service has no health check; what
// editPublishedPorts refuses (--publish-rm, then --publish-add, after the networks); what
// applyContainerUpdateFlags refuses.
Result<api::ServiceSpec> applyUpdateFlags(const api::Service& service,
                                          const ServiceUpdateFlags& flags);

// One --network value (see ServiceCreateFlags::networks); `flag` names it in errors.
Result<api::ServiceNetworkSpec> parseNetworkFlag(const std::string& flag, const std::string& value);

// A replica count, 0..kMaxReplicas.
inline constexpr std::int64_t kMaxReplicas = 100'000;
Result<std::int64_t> parseReplicas(const std::string& flag, const std::string& value);

// One `service scale` argument, SERVICE=REPLICAS.
Result<std::pair<std::string, std::int64_t>> parseScaleArgument(const std::string& argument);

// KEY=VALUE pairs for --label and --label-add (a bare KEY gets an empty value, as in
// Docker); `flag` names the option in errors.
Result<api::Labels> parseLabelFlags(const std::string& flag,
                                    const std::vector<std::string>& values);

}  // namespace overmesh::cli
